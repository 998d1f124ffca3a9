// Test fixture: a real S3-compatible server (SeaweedFS, bin/weed) on loopback, started by hack/s3.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const s3Script = path.join(repoRoot, "hack/s3");

export interface TestS3 {
  name: string;
  /** http://127.0.0.1:PORT — S3 and, on the same port, SeaweedFS's IAM API. */
  endpoint: string;
  region: string;
  /** The admin identity's keys. */
  accessKeyId: string;
  secretAccessKey: string;
  /** Stops the server and deletes its data (a no-op for a server this run did not start). */
  stop(): Promise<void>;
}

interface S3Json {
  name: string;
  endpoint: string;
  region: string;
  credentialsFile: string;
}

function s3Dir(): string {
  return process.env.S3_DIR ?? path.join(repoRoot, ".s3");
}

/** Reads a server that hack/s3 already started. */
export async function attachS3(name: string, owned = false): Promise<TestS3> {
  const info = JSON.parse(await readFile(path.join(s3Dir(), name, "s3.json"), "utf8")) as S3Json;
  const creds = JSON.parse(await readFile(info.credentialsFile, "utf8")) as { accessKeyId: string; secretAccessKey: string };
  return {
    name,
    endpoint: info.endpoint,
    region: info.region,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    stop: async () => {
      if (owned) await run(s3Script, ["down", name]);
    },
  };
}

/**
 * Starts S3 server NAME (or reuses it when already running; ARCHIPEL_TEST_S3=NAME reuses a server
 * you started by hand and keeps it afterwards). Needs bin/weed (hack/build-tools seaweedfs).
 */
export async function startS3(name: string): Promise<TestS3> {
  const reuse = process.env.ARCHIPEL_TEST_S3;
  const target = reuse ?? name;
  try {
    await run(s3Script, ["up", target], { maxBuffer: 1 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/s3 up ${target} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
  return attachS3(target, reuse === undefined);
}

/**
 * What a manager started outside a `--argo` cluster's node needs to reach its Argo artifact
 * repository: hack/cluster serves it on loopback, while the repository's endpoint is the pods'.
 */
export async function argoArtifactsEnv(cluster: string): Promise<Record<string, string>> {
  return { ARCHIPEL_ARTIFACTS_S3_ENDPOINT: (await attachS3(`argo-${cluster}`)).endpoint };
}
