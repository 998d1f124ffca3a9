// A plain-HTTP forwarding proxy in front of the test kube-apiserver, so a test can break the
// informer's connections (as a network failure or an API server restart would) and answer one
// watch with the 410 Expired event the API server sends once etcd has compacted the requested
// resourceVersion. (The test cluster compacts only every 5 min and its watch cache accepts even
// resourceVersion=1, so a real expiry cannot be provoked within a test.) Lists always go through.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type { TestCluster } from "../../support/cluster.ts";

export interface ApiProxy {
  url: string;
  /** A KubeConfig (admin) whose requests go through the proxy. */
  kubeConfig(): KubeConfig;
  /** Cuts every open connection (client and upstream side); new ones are accepted again. */
  breakConnections(): void;
  /** While true, every new connection is cut at once (the API server looks unreachable). */
  refusing: boolean;
  /** The next watch request is answered with a 410 Expired ERROR event, as after a compaction. */
  expireNextWatch(): void;
  /** Watch requests seen, with the resourceVersion each asked for. */
  watches: string[];
  close(): Promise<void>;
}

export async function startApiProxy(cluster: TestCluster): Promise<ApiProxy> {
  const upstream = new URL(cluster.server);
  const agent = new https.Agent({ ca: readFileSync(cluster.caFile), keepAlive: false });
  const sockets = new Set<Socket>();
  const upstreamRequests = new Set<http.ClientRequest>();
  let expire = false;
  const state = { refusing: false };
  const watches: string[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    if (url.searchParams.get("watch") === "true") {
      const rv = url.searchParams.get("resourceVersion") ?? "";
      watches.push(expire ? `expired:${rv}` : rv);
      if (expire) {
        expire = false;
        res.writeHead(200, { "content-type": "application/json" });
        const status = { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", code: 410, message: `too old resource version: ${rv}` };
        res.end(`${JSON.stringify({ type: "ERROR", object: status })}\n`);
        return;
      }
    }
    const out = https.request(
      { host: upstream.hostname, port: upstream.port, path: url.pathname + url.search, method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        // Pass the headers on at once, as the API server sends them when a watch starts.
        res.flushHeaders();
        upstreamRes.pipe(res);
      },
    );
    upstreamRequests.add(out);
    out.on("close", () => upstreamRequests.delete(out));
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  server.on("connection", (socket: Socket) => {
    if (state.refusing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const breakConnections = (): void => {
    for (const s of sockets) s.destroy();
    for (const r of upstreamRequests) r.destroy();
  };
  return {
    url,
    watches,
    get refusing() {
      return state.refusing;
    },
    set refusing(v: boolean) {
      state.refusing = v;
    },
    kubeConfig: () => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        // client-node refuses plain HTTP unless TLS verification is off; the proxy is loopback-only.
        clusters: [{ name: "proxy", server: url, skipTLSVerify: true }],
        users: [{ name: "admin", token: cluster.adminToken }],
        contexts: [{ name: "proxy", cluster: "proxy", user: "admin" }],
        currentContext: "proxy",
      });
      return kc;
    },
    breakConnections,
    expireNextWatch: () => {
      expire = true;
    },
    close: async () => {
      breakConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
