// hack/images: builds the project's OCI images reproducibly and loads them into a node's containerd.
//   hack/images build [NAME...]                  → .images/<name>.tar (OCI layout, tagged archipel.local/<name>:<tag>)
//   hack/images load --address SOCKET [NAME...]  → ctr -n k8s.io images import of those files
//   hack/images list                             → the names it knows
// SOURCE_DATE_EPOCH sets every mtime (default 0); ARCHIPEL_IMAGES_CACHE the cache (default
// ~/.cache/archipel-images); ARCHIPEL_IMAGES_OUT the output directory (default .images/).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { recipes } from "./definitions.ts";
import { buildImage, hashOf, type BuildContext, type BuiltImage } from "./recipe.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function context(): BuildContext {
  const own = join(root, "images");
  // the modules that decide layer content (not this CLI): a change to them rebuilds every layer
  const sources = readdirSync(own).filter((n) => n.endsWith(".ts") && !n.endsWith(".test.ts") && n !== "main.ts").sort();
  const epoch = process.env.SOURCE_DATE_EPOCH ?? "0";
  if (!/^\d+$/.test(epoch)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds, not '${epoch}'`);
  return {
    root,
    cache: process.env.ARCHIPEL_IMAGES_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "archipel-images"),
    out: process.env.ARCHIPEL_IMAGES_OUT ?? join(root, ".images"),
    mtime: Number(epoch),
    builder: hashOf(...sources.map((n) => readFileSync(join(own, n)))),
    log: (m) => process.stderr.write(`hack/images: ${m}\n`),
  };
}

function selected(names: string[]): string[] {
  const known = recipes(root).map((r) => r.name);
  for (const n of names) if (!known.includes(n)) throw new Error(`unknown image '${n}' (known: ${known.join(", ")})`);
  return names.length > 0 ? names : known;
}

export async function build(names: string[]): Promise<BuiltImage[]> {
  const ctx = context();
  const wanted = selected(names);
  const built: BuiltImage[] = [];
  for (const recipe of recipes(root).filter((r) => wanted.includes(r.name))) {
    const image = await buildImage(recipe, ctx);
    if (image !== undefined) built.push(image);
  }
  return built;
}

function load(args: string[]): void {
  const at = args.indexOf("--address");
  const address = at >= 0 ? args[at + 1] : undefined;
  if (address === undefined) throw new Error("load: --address SOCKET (the node's containerd socket) is required");
  const names = selected(args.filter((_, i) => i !== at && i !== at + 1));
  const ctr = join(root, "bin", "ctr");
  if (!existsSync(ctr)) throw new Error("bin/ctr is missing: run hack/build-tools containerd");
  for (const name of names) {
    const file = join(process.env.ARCHIPEL_IMAGES_OUT ?? join(root, ".images"), `${name}.tar`);
    if (!existsSync(file)) {
      process.stderr.write(`hack/images: ${name}: SKIPPED — ${file} is not built (hack/images build ${name})\n`);
      continue;
    }
    const start = Date.now();
    execFileSync(ctr, ["-a", address, "-n", "k8s.io", "images", "import", file], { stdio: ["ignore", "ignore", "inherit"] });
    process.stderr.write(`hack/images: ${name}: imported in ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  if (command === "build") await build(rest);
  else if (command === "load") load(rest);
  else if (command === "list") console.log(recipes(root).map((r) => r.name).join("\n"));
  else {
    console.error("usage: hack/images build [NAME...] | load --address SOCKET [NAME...] | list");
    return command === "help" ? 0 : 2;
  }
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`hack/images: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
