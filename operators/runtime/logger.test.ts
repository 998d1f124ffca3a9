import assert from "node:assert/strict";
import { createLogger, isSecretFieldName, type Logger, redactRecord } from "./logger.ts";

function captured(level = "debug"): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = createLogger("test", { level, sink: (line) => chunks.push(line) });
  return { logger, lines: () => chunks.join("").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("runtime/logger", () => {
  it("drops secret-named fields at any depth and keeps the rest", () => {
    const { logger, lines } = captured();
    logger.info("connecting", {
      token: "t0p",
      provider: { name: "pg", password: "hunter2", credentialsSecretRef: { name: "pg-creds" } },
      items: [{ secretAccessKey: "AKIA", region: "eu" }],
      headers: { Authorization: "Bearer abc", accept: "json" },
    });
    const [line] = lines();
    assert.deepEqual(line?.provider, { name: "pg", credentialsSecretRef: { name: "pg-creds" } });
    assert.deepEqual(line?.items, [{ region: "eu" }]);
    assert.deepEqual(line?.headers, { accept: "json" });
    assert.equal("token" in (line ?? {}), false);
    assert.doesNotMatch(JSON.stringify(line), /hunter2|t0p|AKIA|Bearer/);
    assert.equal(line?.component, "test");
    assert.equal(line?.message, "connecting");
  });

  it("never mutates the objects it is given", () => {
    const spec = { host: "db", auth: { password: "p" } };
    redactRecord({ spec });
    assert.deepEqual(spec, { host: "db", auth: { password: "p" } });
  });

  it("survives cycles and logs errors with their message", () => {
    const { logger, lines } = captured();
    const loop: Record<string, unknown> = { name: "a" };
    loop.self = loop;
    logger.warn("cycle", { loop, error: new Error("boom") });
    logger.error(new Error("bad thing"));
    const [first, second] = lines();
    assert.equal((first?.loop as Record<string, unknown>).self, "[elided]");
    assert.equal((first?.error as Record<string, unknown>).message, "boom");
    assert.equal(second?.message, "bad thing");
    assert.match(String(second?.stack), /bad thing/, "an Error logged as the message brings its stack");
  });

  it("writes one JSON line per call at or above its level, with the component, the child's fields and a time", () => {
    const { logger, lines } = captured("info");
    const child = logger.child({ controller: "provider" });
    child.debug("not at info");
    child.info("reconciled", { name: "p1" });
    logger.error("failed", { count: 2n });
    const [first, second, ...rest] = lines();
    assert.equal(rest.length, 0, "debug is below info");
    assert.deepEqual({ ...first, timestamp: undefined }, { component: "test", controller: "provider", name: "p1", message: "reconciled", level: "info", timestamp: undefined });
    assert.ok(!Number.isNaN(Date.parse(String(first?.timestamp))));
    assert.deepEqual([second?.level, second?.count, "controller" in (second ?? {})], ["error", "2", false]);
  });

  it("writes nothing when silent, and takes LOG_LEVEL when no level is given", () => {
    const chunks: string[] = [];
    createLogger("quiet", { silent: true, sink: (l) => chunks.push(l) }).error("x");
    const before = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = "warn";
    try {
      const logger = createLogger("env", { sink: (l) => chunks.push(l) });
      logger.info("below warn");
      logger.warn("at warn");
    } finally {
      if (before === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = before;
    }
    assert.deepEqual(chunks.map((l) => (JSON.parse(l) as { message: string }).message), ["at warn"]);
  });

  it("classifies names", () => {
    for (const n of ["secret", "apiKey", "api_key", "privateKey", "accessKeyId", "swarmKey", "bearerToken", "passwd", "key"]) {
      assert.equal(isSecretFieldName(n), true, n);
    }
    for (const n of ["name", "keys", "secretRef", "credentialsSecretRef", "pullSecretRefs", "queueKey", "namespace"]) {
      assert.equal(isSecretFieldName(n), false, n);
    }
  });
});
