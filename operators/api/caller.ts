// Acting as the caller: the bearer token of each request becomes the only credential of a
// per-request KubeConfig, so Kubernetes authenticates the caller and RBAC decides. The
// server's own kubeconfig contributes the cluster (address, CA, TLS server name), never its user.
import { KubeConfig, type Cluster } from "@kubernetes/client-node";
import { apiCallTimeoutMs, withCallDeadlines } from "../runtime/apiDeadline.ts";
import { pooledConnections } from "../runtime/kubeConnections.ts";
import { unauthorized } from "./errors.ts";

/**
 * The token of an `Authorization: Bearer <token>` header; throws 401 when it is missing or
 * not a bearer token. The message never contains the header's value.
 */
export function bearerToken(header: string | string[] | undefined): string {
  if (header === undefined || header === "") {
    throw unauthorized("missing Authorization header; send `Authorization: Bearer <token>` with a Kubernetes token");
  }
  if (Array.isArray(header)) throw unauthorized("send exactly one Authorization header");
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  if (!match?.[1]) {
    throw unauthorized("the Authorization header must be `Bearer <token>` with a Kubernetes token");
  }
  return match[1];
}

/** The cluster the server itself talks to; fails at start-up, not per request, when absent. */
export function serverCluster(kubeConfig: KubeConfig): Cluster {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster; set KUBECONFIG or run in a cluster");
  return cluster;
}

/**
 * A KubeConfig for one request: the server's cluster, the caller's token as the only credential.
 * Each of its calls gives up after `timeoutMs` (a 504 to the caller), so a hung API server never
 * holds a request open.
 */
export function callerKubeConfig(cluster: Cluster, token: string, timeoutMs = apiCallTimeoutMs): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(cluster, { name: "caller", token });
  // The token is a header: every caller's requests share the server's connections (no TLS
  // handshake per request once an access review's answer expires).
  return withCallDeadlines(pooledConnections(kc), timeoutMs);
}
