// The Manager's HTTP endpoints: /healthz (the process answers), /readyz (caches synced), and
// /metrics. Plain node:http: three GET routes do not need a framework.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface EndpointResponse {
  status: number;
  body: string;
  contentType?: string;
}

export type Endpoint = () => Promise<EndpointResponse> | EndpointResponse;

export interface ProbeServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Readiness as a body: "ok", or the checks that failed, one a line (like kube-apiserver's /readyz). */
export function readiness(checks: Record<string, boolean>): EndpointResponse {
  const failing = Object.entries(checks).filter(([, ok]) => !ok);
  if (failing.length === 0) return { status: 200, body: "ok\n" };
  return { status: 503, body: failing.map(([name]) => `[-]${name} failed: not synced\n`).join("") };
}

/** Serves `routes` (GET/HEAD) on `port` (0 = any free port) of `host`. */
export function serveEndpoints(port: number, routes: Record<string, Endpoint>, host = "0.0.0.0"): Promise<ProbeServer> {
  const server = http.createServer((req, res) => {
    const route = routes[new URL(req.url ?? "/", "http://x").pathname];
    if (!route || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(route ? 405 : 404, { "content-type": "text/plain" }).end(route ? "method not allowed\n" : "not found\n");
      return;
    }
    Promise.resolve()
      .then(route)
      .then(
        (r) => res.writeHead(r.status, { "content-type": r.contentType ?? "text/plain; charset=utf-8" }).end(r.body),
        (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${String(err)}\n`),
      );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const actual = (server.address() as AddressInfo).port;
      const shownHost = host === "0.0.0.0" ? "127.0.0.1" : host;
      resolve({
        port: actual,
        url: `http://${shownHost}:${actual}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
