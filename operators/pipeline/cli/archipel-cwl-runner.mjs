#!/usr/bin/env node
// Launcher of archipel-cwl-runner (and, linked under that name, archipel-cwl-entrypoint).
// It may be started by any `node` on PATH (cwltest does), including one too old to run
// TypeScript, so it is plain JavaScript: it finds a Node >= 22.19 with hack/ensure-node and
// runs the TypeScript command with it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(realpathSync(fileURLToPath(import.meta.url))), "..", "..", "..");
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
const newEnough = major > 22 || (major === 22 && minor >= 19);
const node = newEnough ? process.execPath : join(execFileSync(join(root, "hack", "ensure-node"), { encoding: "utf8" }).trim(), "node");
const commands = {
  "archipel-cwl-entrypoint": join(root, "operators", "pipeline", "entrypoint", "main.ts"),
};
const source = commands[basename(process.argv[1] ?? "")] ?? join(root, "operators", "pipeline", "cli", "main.ts");
// An image has the command's JavaScript beside it (images/typeStripped.ts): run that, without
// Node's type stripper, which would hold ~18 MiB in every step's pod.
const built = source.replace(/\.ts$/, ".js");
const script = existsSync(built) ? ["--no-experimental-strip-types", built] : [source];
const result = spawnSync(node, [...script, ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(result.status ?? 1);
