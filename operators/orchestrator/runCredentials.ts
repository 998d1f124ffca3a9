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

const hashOf = (text: string, chars: number): string => createHash("sha256").update(text).digest("hex").slice(0, chars);

/**
 * The Secret holding the run's key, next to its Workflow (controlled by the run). Argo names the
 * pods' volume after it, and a volume name is a DNS label: at most 63 of a-z, 0-9 and '-', so a
 * long or dotted Workflow name is cut and told apart by a hash of the whole.
 */
export function runCredentialsSecretName(workflow: string): string {
  const plain = `${workflow}-artifacts`;
  if (plain.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(plain)) return plain;
  const slug = workflow.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 63 - "--artifacts".length - 8).replace(/^-+|-+$/g, "");
  return `${slug ? `${slug}-` : ""}${hashOf(workflow, 8)}-artifacts`;
}

export const runCredentialsKeys = { accessKey: "accessKey", secretKey: "secretKey" } as const;

/**
 * The run's IAM user and its area: deterministic from the namespace and the Workflow's name, so a
 * pass after a crash converges the same user (a hash of both: two runs never share one).
 */
export function runCredentialNames(repository: Pick<S3Repository, "bucket" | "keyPrefix">, namespace: string, workflow: string): S3GrantNames {
  const hash = hashOf(`${namespace}/${workflow}`, 16);
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
