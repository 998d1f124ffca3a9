import assert from "node:assert/strict";
import { ConfigError, parseDuration, parseManagerConfig } from "./config.ts";

const known = ["provider", "resource", "discovery"] as const;

describe("manager/config", () => {
  it("defaults: every controller, leader election with controller-runtime's timings", () => {
    const cfg = parseManagerConfig([], {}, known);
    assert.deepEqual(cfg?.controllers, ["provider", "resource", "discovery"]);
    assert.equal(cfg?.metricsPort, 8080);
    assert.equal(cfg?.healthPort, 8081);
    assert.equal(cfg?.namespace, undefined);
    assert.ok(cfg?.leaderElection);
    assert.deepEqual(
      { ...cfg.leaderElection, identity: undefined },
      { leaseName: "archipel-manager", leaseNamespace: "default", identity: undefined, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
    );
  });

  it("tells controllers named by flag or environment from the default set (a controller whose API is missing is only left out of the default)", () => {
    assert.equal(parseManagerConfig([], {}, known)?.controllersNamed, false);
    assert.equal(parseManagerConfig(["--controllers=all"], {}, known)?.controllersNamed, false);
    assert.equal(parseManagerConfig(["--controllers=provider"], {}, known)?.controllersNamed, true);
    assert.equal(parseManagerConfig([], { ARCHIPEL_CONTROLLERS: "resource" }, known)?.controllersNamed, true);
  });

  it("reads the environment, and flags win over it", () => {
    const env = { ARCHIPEL_CONTROLLERS: "provider", ARCHIPEL_LEASE_NAMESPACE: "ops", POD_NAME: "pod-1", ARCHIPEL_METRICS_PORT: "9000" };
    const cfg = parseManagerConfig(["--metrics-port=9100", "--lease-duration=3s", "--renew-deadline=2s", "--retry-period=500ms"], env, known);
    assert.deepEqual(cfg?.controllers, ["provider"]);
    assert.equal(cfg?.metricsPort, 9100);
    assert.ok(cfg?.leaderElection);
    assert.equal(cfg.leaderElection.leaseName, "archipel-provider");
    assert.equal(cfg.leaderElection.leaseNamespace, "ops");
    assert.equal(cfg.leaderElection.identity, "pod-1");
    assert.equal(cfg.leaderElection.retryPeriodMs, 500);
  });

  it("turns leader election off", () => {
    assert.equal(parseManagerConfig(["--leader-elect=false"], {}, known)?.leaderElection, false);
    assert.equal(parseManagerConfig([], { ARCHIPEL_LEADER_ELECT: "0" }, known)?.leaderElection, false);
  });

  it("refuses what it cannot use, naming the flag", () => {
    assert.throws(() => parseManagerConfig(["--controllers=provider,billing"], {}, known), (e: Error) => e instanceof ConfigError && /unknown controller\(s\) billing/.test(e.message));
    assert.throws(() => parseManagerConfig(["--metrics-port=http"], {}, known), /--metrics-port="http"/);
    assert.throws(() => parseManagerConfig(["--lease-duration=2s", "--renew-deadline=5s"], {}, known), /lease-duration > renew-deadline/);
    assert.throws(() => parseManagerConfig(["--leader-elect=maybe"], {}, known), /--leader-elect="maybe"/);
    assert.throws(() => parseManagerConfig(["--frobnicate"], {}, known), ConfigError);
  });

  it("egress: nothing allowed by default; the allow-list and cluster ranges from flags or environment", () => {
    const none = parseManagerConfig([], {}, known);
    assert.deepEqual(none?.egress, { allow: [], cluster: [], allowHttpPeers: false });
    const env = { ARCHIPEL_EGRESS_ALLOW_CIDRS: "127.0.0.0/8,::1/128", ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS: "true" };
    const cfg = parseManagerConfig(["--egress-cluster-cidrs=10.96.0.0/12,10.244.0.0/16"], env, known);
    assert.deepEqual(cfg?.egress.allow.map((c) => c.text), ["127.0.0.0/8", "::1/128"]);
    assert.deepEqual(cfg?.egress.cluster.map((c) => c.text), ["10.96.0.0/12", "10.244.0.0/16"]);
    assert.equal(cfg?.egress.allowHttpPeers, true);
    assert.throws(() => parseManagerConfig(["--egress-allow-cidrs=localhost"], {}, known), (e: Error) => e instanceof ConfigError && /--egress-allow-cidrs: "localhost" is not a CIDR range/.test(e.message));
  });

  it("parses durations", () => {
    assert.equal(parseDuration("x", "1m30s"), 90_000);
    assert.equal(parseDuration("x", "250ms"), 250);
    assert.throws(() => parseDuration("x", "15"), /--x="15"/);
  });

  it("returns undefined for --help", () => {
    assert.equal(parseManagerConfig(["--help"], {}, known), undefined);
  });
});
