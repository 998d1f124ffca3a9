// hack/argo's helper: makes sure the S3 bucket of Argo's artifact repository exists (idempotent).
// Run by hack/argo through Node; the credentials stay in their file and never reach a command line.
//
// usage: node hack/argo-bucket.ts ENDPOINT_URL REGION BUCKET CREDENTIALS_FILE
import { readFileSync } from "node:fs";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";

const requestTimeoutMs = 10_000;

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? "";
}

function isMissingBucket(err: unknown): boolean {
  return (
    ["NotFound", "NoSuchBucket"].includes(errorName(err)) ||
    (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  );
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<"exists" | "created"> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(requestTimeoutMs) });
    return "exists";
  } catch (err) {
    if (!isMissingBucket(err)) throw err;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(requestTimeoutMs) });
  } catch (err) {
    if (errorName(err) !== "BucketAlreadyOwnedByYou") throw err;
  }
  return "created";
}

async function main(argv: string[]): Promise<void> {
  const [endpoint, region, bucket, credentialsFile] = argv;
  if (!endpoint || !region || !bucket || !credentialsFile) {
    throw new Error("usage: node hack/argo-bucket.ts ENDPOINT_URL REGION BUCKET CREDENTIALS_FILE");
  }
  const creds = JSON.parse(readFileSync(credentialsFile, "utf8")) as { accessKeyId?: string; secretAccessKey?: string };
  if (!creds.accessKeyId || !creds.secretAccessKey) {
    throw new Error(`${credentialsFile}: expected JSON with accessKeyId and secretAccessKey`);
  }
  const credentials = { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey };
  const s3 = new S3Client({ endpoint, region, credentials, forcePathStyle: true, maxAttempts: 2 });
  try {
    const outcome = await ensureBucket(s3, bucket);
    process.stderr.write(`hack/argo: bucket '${bucket}' ${outcome === "created" ? "created" : "already exists"} at ${endpoint}\n`);
  } finally {
    s3.destroy();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`hack/argo: bucket: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
