// A run's pods reach the artifact repository with credentials of the run's own: an IAM user whose
// only policy allows the run's prefix (`<keyPrefix>/<namespace>/<workflow>/`), its key in a Secret
// the run controls. The namespace's repository Secret (argo-artifacts-s3) holds the key Argo's
// ConfigMap names, which is the repository's admin here; handed to every pod, it would let any
// step's image — a peer's service, in a namespace opened to peers' runs — read, overwrite or delete
// every run's objects in the bucket and manage the server's users. Pure: names and the repository
// the Workflow is built with; runArtifacts.ts issues and revokes.
import { createHash } from "node:crypto";
import type { S3GrantNames } from "../catalog/backends/s3Grant.ts";
import type { S3Repository } from "../pipeline/argo/translate.ts";
import { workflowKeyBase } from "../pipeline/argo/conventions.ts";

/** The Secret holding the run's key, in the run's namespace (controlled by the run). */
export function runCredentialsSecretName(workflow: string): string {
  return `${workflow}-artifacts`;
}

export const runCredentialsKeys = { accessKey: "accessKey", secretKey: "secretKey" } as const;

/**
 * The run's IAM user and its area: deterministic from the namespace and the Workflow's name, so a
 * pass after a crash converges the same user (a hash of both: two runs never share one).
 */
export function runCredentialNames(repository: Pick<S3Repository, "bucket" | "keyPrefix">, namespace: string, workflow: string): S3GrantNames {
  const hash = createHash("sha256").update(`${namespace}/${workflow}`).digest("hex").slice(0, 16);
  const slug = `${namespace}-${workflow}`.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 64 - "archipel-run--".length - hash.length).replace(/-+$/, "");
  return {
    user: `archipel-run-${slug}-${hash}`,
    policyName: "archipel-run",
    bucket: repository.bucket,
    prefix: `${workflowKeyBase(repository.keyPrefix, namespace, workflow)}/`,
    owned: false,
  };
}

/** The repository as the run's pods see it: the same bucket and keys, the run's own Secret. */
export function withRunCredentials(repository: S3Repository, workflow: string): S3Repository {
  const name = runCredentialsSecretName(workflow);
  return { ...repository, accessKeySecret: { name, key: runCredentialsKeys.accessKey }, secretKeySecret: { name, key: runCredentialsKeys.secretKey } };
}
