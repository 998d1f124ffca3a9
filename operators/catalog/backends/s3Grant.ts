// What an AccessGrant on an S3 provider means, as pure builders: an area (a bucket of the grant's
// own, a prefix of the grant's own, or exactly the Resource's bucket/prefix/object) and an IAM
// user whose only policy lets it read (data) or read and write (storage) there. The policy is a
// plain AWS IAM policy document (listing scoped by an s3:prefix Condition); SeaweedFS evaluates
// it with the same semantics (tested in test/integration/backends/s3.test.ts).
import { createHash } from "node:crypto";

/**
 * bucket: a bucket of the grant's own.
 * prefix: a prefix of the grant's own, `<under>grants/<slug>-<hash>/`, in the provider's bucket.
 * exact:  the Resource's bucket and prefix (ending in "/") or object key, shared by its grantees.
 */
export type S3GrantScope =
  | { kind: "bucket" }
  | { kind: "prefix"; bucket: string; under?: string }
  | { kind: "exact"; bucket: string; prefix?: string };

/** read: data grants (get and list); write: storage grants (get, put, delete, list, multipart). */
export type S3Access = "read" | "write";

export interface S3GrantNames {
  /** IAM user that holds the grant's access key. */
  user: string;
  /** Name of the user's inline policy. */
  policyName: string;
  bucket: string;
  /** "" for the whole bucket; a prefix ends with "/"; anything else is one object key. */
  prefix: string;
  /** The area belongs to this grant alone (its data may be removed with it). */
  owned: boolean;
}

export interface S3PolicyStatement {
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface S3PolicyDocument {
  Version: "2012-10-17";
  Statement: S3PolicyStatement[];
}

export const readObjectActions = ["s3:GetObject"];
export const writeObjectActions = [
  "s3:PutObject",
  "s3:GetObject",
  "s3:DeleteObject",
  "s3:AbortMultipartUpload",
  "s3:ListMultipartUploadParts",
];

const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Checks an S3 bucket name against the S3 naming rules; returns it. */
export function checkBucketName(name: string): string {
  if (!bucketPattern.test(name)) {
    throw new Error(`bucket name ${JSON.stringify(name)} must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit`);
  }
  if (name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name) || name.startsWith("xn--") || name.endsWith("-s3alias")) {
    throw new Error(`bucket name ${JSON.stringify(name)} is reserved or shaped like an IP address`);
  }
  return name;
}

/**
 * Checks a key prefix (or object key) that goes into a policy's Resource and Condition. `*` and
 * `?` are wildcards and `${…}` a policy variable there: any of them would widen the grant.
 */
export function checkKeyPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  if (prefix.length > 1024) throw new Error("an S3 prefix must be at most 1024 characters");
  if (prefix.startsWith("/")) throw new Error(`S3 prefix ${JSON.stringify(prefix)} must not start with '/'`);
  const hasControl = [...prefix].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  if (hasControl || /[*?$]/.test(prefix)) {
    throw new Error(`S3 prefix ${JSON.stringify(prefix)} must not contain '*', '?', '$' or control characters (they would widen the grant's policy)`);
  }
  if (prefix.split("/").some((segment, i, all) => segment === ".." || segment === "." || (segment === "" && i < all.length - 1))) {
    throw new Error(`S3 prefix ${JSON.stringify(prefix)} must not contain empty, '.' or '..' segments`);
  }
  return prefix;
}

function slugAndHash(key: string, room: number): { slug: string; hash: string } {
  if (key.length === 0) throw new Error("a grant key must not be empty");
  const hash = createHash("sha256").update(key).digest("hex").slice(0, 12);
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, Math.max(0, room - hash.length - 1))
    .replace(/-+$/, "");
  return { slug, hash };
}

function joinName(prefix: string, slug: string, hash: string): string {
  return slug ? `${prefix}${slug}-${hash}` : `${prefix}${hash}`;
}

function area(key: string, scope: S3GrantScope): Pick<S3GrantNames, "bucket" | "prefix" | "owned"> {
  if (scope.kind === "bucket") {
    const b = slugAndHash(key, 63 - "archipel-".length);
    return { bucket: checkBucketName(joinName("archipel-", b.slug, b.hash)), prefix: "", owned: true };
  }
  if (scope.kind === "exact") return { bucket: checkBucketName(scope.bucket), prefix: checkKeyPrefix(scope.prefix ?? ""), owned: false };
  const under = checkKeyPrefix(scope.under ?? "");
  if (under !== "" && !under.endsWith("/")) throw new Error(`S3 prefix ${JSON.stringify(under)} must end with '/' to hold grant prefixes`);
  const p = slugAndHash(key, 200);
  return { bucket: checkBucketName(scope.bucket), prefix: checkKeyPrefix(`${under}grants/${joinName("", p.slug, p.hash)}/`), owned: true };
}

/**
 * Deterministic names for the grant identified by `key` (e.g. "namespace/name" of the AccessGrant):
 * a readable slug plus a hash of the whole key, so two keys never share a user, bucket or prefix.
 */
export function s3GrantNames(key: string, scope: S3GrantScope): S3GrantNames {
  const userPart = slugAndHash(key, 64 - "archipel-g-".length);
  return { user: joinName("archipel-g-", userPart.slug, userPart.hash), policyName: "archipel-grant", ...area(key, scope) };
}

/** The inline policy that confines the grant's user to its area, with read or write access. */
export function s3PolicyDocument(names: S3GrantNames, access: S3Access): S3PolicyDocument {
  const bucketArn = `arn:aws:s3:::${checkBucketName(names.bucket)}`;
  const prefix = checkKeyPrefix(names.prefix);
  const isObject = prefix !== "" && !prefix.endsWith("/");
  const objectsArn = isObject ? `${bucketArn}/${prefix}` : `${bucketArn}/${prefix}*`;
  const actions = access === "write" ? writeObjectActions : readObjectActions;
  const objects: S3PolicyStatement = { Effect: "Allow", Action: [...actions], Resource: [objectsArn] };
  const list: S3PolicyStatement = { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] };
  // ListBucket applies to the bucket ARN; the Condition limits it to listings of the grant's area.
  if (prefix !== "") list.Condition = { StringLike: { "s3:prefix": [isObject ? prefix : `${prefix}*`] } };
  return { Version: "2012-10-17", Statement: [objects, list] };
}
