#!/usr/bin/env node
// Launcher of archipel-cwl-runner. It may be started by any `node` on PATH (cwltest does),
// including one too old to run TypeScript, so it is plain JavaScript: it finds a Node
// >= 22.19 with hack/ensure-node and runs the TypeScript CLI with it.
"use strict";
const { execFileSync, spawnSync } = require("node:child_process");
const { join, dirname } = require("node:path");
const { realpathSync } = require("node:fs");

const root = join(dirname(realpathSync(__filename)), "..", "..", "..");
const [major, minor] = process.versions.node.split(".").map(Number);
const newEnough = major > 22 || (major === 22 && minor >= 19);
const node = newEnough ? process.execPath : join(execFileSync(join(root, "hack", "ensure-node"), { encoding: "utf8" }).trim(), "node");
const result = spawnSync(node, [join(root, "operators", "pipeline", "cli", "main.ts"), ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(result.status === null ? 1 : result.status);
