// What a storage AccessGrant on an S3 provider means, as pure builders: a bucket of the grant's
// own, or a prefix of a shared bucket, and an IAM user whose only policy lets it read, write,
// delete and list objects there. The policy is a plain AWS IAM policy document (listing scoped by
// an s3:prefix Condition); SeaweedFS evaluates it with the same semantics (tested in
// test/integration/backends/s3.test.ts).
import { createHash } from "node:crypto";

/** A bucket per grant, or a prefix per grant inside a bucket the provider names. */
export type S3GrantScope = { kind: "bucket" } | { kind: "prefix"; bucket: string };

export interface S3GrantNames {
  /** IAM user that holds the grant's access key. */
  user: string;
  /** Name of the user's inline policy. */
  policyName: string;
  bucket: string;
  /** "" for a bucket of its own; else ends with "/". */
  prefix: string;
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

/** Object actions a storage grant holds within its scope. */
export const storageObjectActions = [
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

/**
 * Deterministic names for the grant identified by `key` (e.g. "namespace/name" of the AccessGrant):
 * a readable slug plus a hash of the whole key, so two keys never share a user, bucket or prefix.
 */
export function s3GrantNames(key: string, scope: S3GrantScope): S3GrantNames {
  const userPart = slugAndHash(key, 64 - "archipel-g-".length);
  const user = joinName("archipel-g-", userPart.slug, userPart.hash);
  if (scope.kind === "bucket") {
    const b = slugAndHash(key, 63 - "archipel-".length);
    return { user, policyName: "archipel-storage", bucket: checkBucketName(joinName("archipel-", b.slug, b.hash)), prefix: "" };
  }
  const p = slugAndHash(key, 200);
  return { user, policyName: "archipel-storage", bucket: checkBucketName(scope.bucket), prefix: `grants/${joinName("", p.slug, p.hash)}/` };
}

/** The inline policy that confines the grant's user to its bucket or prefix. */
export function s3PolicyDocument(names: S3GrantNames): S3PolicyDocument {
  const bucketArn = `arn:aws:s3:::${names.bucket}`;
  const objectsArn = `${bucketArn}/${names.prefix}*`;
  const objects: S3PolicyStatement = { Effect: "Allow", Action: [...storageObjectActions], Resource: [objectsArn] };
  if (names.prefix === "") {
    return { Version: "2012-10-17", Statement: [objects, { Effect: "Allow", Action: ["s3:ListBucket"], Resource: [bucketArn] }] };
  }
  // ListBucket applies to the bucket ARN; the Condition limits it to listings of the grant's prefix.
  const list: S3PolicyStatement = {
    Effect: "Allow",
    Action: ["s3:ListBucket"],
    Resource: [bucketArn],
    Condition: { StringLike: { "s3:prefix": [`${names.prefix}*`] } },
  };
  return { Version: "2012-10-17", Statement: [objects, list] };
}
