import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { load } from "js-yaml";
import { Value } from "typebox/value";
import { kindObject } from "./common.ts";
import { kinds } from "./index.ts";
import type { KindDefinition } from "./kind.ts";

const samplesDir = path.resolve(import.meta.dirname, "../../config/samples");
type Json = Record<string, unknown>;

async function samples(): Promise<Map<string, Json>> {
  const byKind = new Map<string, Json>();
  for (const file of (await readdir(samplesDir)).filter((f) => f.startsWith("archipel_v1alpha1_"))) {
    const doc = load(await readFile(path.join(samplesDir, file), "utf8")) as Json;
    assert.equal(file, `archipel_v1alpha1_${String(doc.kind).toLowerCase()}.yaml`);
    byKind.set(String(doc.kind), doc);
  }
  return byKind;
}

const schemaOf = (kind: KindDefinition): ReturnType<typeof kindObject> => kindObject(kind.kind, kind.spec, kind.status);
const errorsOf = (kind: KindDefinition, value: unknown): string[] =>
  [...Value.Errors(schemaOf(kind), value)].map((e) => `${e.instancePath} ${e.message}`);
const kind = (name: string): KindDefinition => kinds.find((k) => k.kind === name)!;
const withSpec = (doc: Json, patch: Json): Json => ({ ...doc, spec: { ...(doc.spec as Json), ...patch } });

describe("config/samples", () => {
  let byKind: Map<string, Json>;
  before(async () => {
    byKind = await samples();
  });

  it("has one sample per kind, each listed in the kustomization", async () => {
    assert.deepEqual([...byKind.keys()].sort(), kinds.map((k) => k.kind).sort());
    const kustomization = load(await readFile(path.join(samplesDir, "kustomization.yaml"), "utf8")) as { resources: string[] };
    assert.deepEqual(kustomization.resources.slice().sort(), kinds.map((k) => `archipel_v1alpha1_${k.kind.toLowerCase()}.yaml`).sort());
  });

  for (const k of kinds) {
    it(`${k.kind}: the sample validates against the TypeBox schema`, () => {
      assert.deepEqual(errorsOf(k, byKind.get(k.kind)), []);
    });
  }

  it("the schemas reject typos, floats for money and bad enums (closed objects, strict patterns)", () => {
    const project = byKind.get("Project")!;
    assert.notDeepEqual(errorsOf(kind("Project"), withSpec(project, { displayname: "x" })), []);
    assert.notDeepEqual(errorsOf(kind("Project"), withSpec(project, { budget: { amount: 12.5, currency: "EUR" } })), []);
    assert.notDeepEqual(errorsOf(kind("Project"), withSpec(project, { budget: { amount: "12.5", currency: "euro" } })), []);
    const resource = byKind.get("Resource")!;
    assert.notDeepEqual(errorsOf(kind("Resource"), withSpec(resource, { visibility: "secret" })), []);
    const reservation = byKind.get("Reservation")!;
    assert.notDeepEqual(errorsOf(kind("Reservation"), withSpec(reservation, { memory: "16 GB" })), []);
    assert.notDeepEqual(errorsOf(kind("Reservation"), withSpec(reservation, { start: "tomorrow" })), []);
  });
});
