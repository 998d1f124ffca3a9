// The copy of a data input into the run's inputs in the artifact repository: its object (a File) or
// every object under its prefix (a Directory), read as the grant's grantee and written with the
// repository's credentials, streamed (objectCopy.ts). What is copied, where, and the limits are
// decided in dataAccess.ts.
import type { S3Client } from "@aws-sdk/client-s3";
import type { ArtifactStore } from "./artifactStore.ts";
import { type DataInput, directoryObjects, maxStagedBytes, stagedDataKey } from "./dataAccess.ts";
import { copyObjects, CopyRefused, copyS3Object, listPrefix } from "./objectCopy.ts";

/** Copies the data input into the run's inputs under `inputsKey`; the bytes copied. */
export async function stageData(source: S3Client, input: DataInput, into: { store: ArtifactStore; inputsKey: string }, ms: number): Promise<number> {
  const from = { s3: source, bucket: input.bucket };
  const to = { s3: into.store.s3, bucket: into.store.repository.bucket };
  if (input.kind === "File") return copyS3Object(from, to, { source: input.key, target: stagedDataKey(into.inputsKey, input) }, { ms, maxBytes: maxStagedBytes });
  const copies = directoryObjects(into.inputsKey, input, await listPrefix(from, input.key, ms));
  if ("problem" in copies) throw new CopyRefused(copies.problem);
  return copyObjects(from, to, copies, { ms, maxBytes: maxStagedBytes });
}
