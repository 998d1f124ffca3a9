// Starts the API server in-process on a free loopback port against a test cluster, and gives
// tests a small fetch helper that speaks as a chosen user.
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../../operators/api/server.ts";
import type { ApiKind } from "../../../operators/api/view.ts";
import type { KubeConfig } from "@kubernetes/client-node";
import type { TestCluster } from "../../support/cluster.ts";
import { actingAs } from "../../support/rbac.ts";

/** The API's own identity, as deployed: its ServiceAccount bound to config/rbac's roles. */
export async function apiKubeConfig(cluster: TestCluster): Promise<KubeConfig> {
  return (await actingAs(cluster, "archipel-api")).kubeConfig();
}

export interface RunningApi {
  url: string;
  app: FastifyInstance;
  stop(): Promise<void>;
}

export async function startApi(cluster: TestCluster, kinds: readonly ApiKind[]): Promise<RunningApi> {
  // The server gets its ServiceAccount's kubeconfig under config/rbac, as in production; the
  // tests prove user requests never use it (each caller's own RBAC decides).
  const app = buildServer({ kubeConfig: await apiKubeConfig(cluster), kinds });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, app, stop: () => app.close() };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any shape
}

export interface ApiCaller {
  get(path: string): Promise<ApiResponse>;
  post(path: string, body: unknown): Promise<ApiResponse>;
  put(path: string, body: unknown): Promise<ApiResponse>;
  delete(path: string): Promise<ApiResponse>;
}

/** Requests as the holder of `token`; undefined sends no Authorization header. */
export function as(api: RunningApi, token: string | undefined): ApiCaller {
  const send = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${api.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
  };
  return {
    get: (path) => send("GET", path),
    post: (path, body) => send("POST", path, body),
    put: (path, body) => send("PUT", path, body),
    delete: (path) => send("DELETE", path),
  };
}
