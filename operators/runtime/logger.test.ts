import assert from "node:assert/strict";
import { Writable } from "node:stream";
import winston from "winston";
import { createLogger, isSecretFieldName, redactRecord } from "./logger.ts";

function captured(): { logger: winston.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger("test", { level: "debug", silent: true });
  logger.add(new winston.transports.Stream({ stream }));
  return { logger, lines: () => chunks.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) };
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
