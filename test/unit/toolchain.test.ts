import assert from "node:assert/strict";

describe("toolchain", () => {
  it("runs on Node.js >= 22.19, as package.json engines requires", () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    assert.ok(major > 22 || (major === 22 && minor >= 19), `node ${process.versions.node}`);
  });
});
