import assert from "node:assert/strict";
import { Type } from "typebox";
import { manifests } from "../../hack/gen-manifests.ts";
import { celRulesOf, crdOf, structural, type JsonObject } from "./crd.ts";
import { kinds } from "./index.ts";
import { openapiSchemaOf } from "./openapi.ts";
import { readFile } from "node:fs/promises";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../..");

// Keywords a structural CRD schema may carry (apiextensions.k8s.io/v1 JSONSchemaProps we use).
const crdKeywords = new Set([
  "description", "type", "format", "enum", "default", "minimum", "maximum", "minLength", "maxLength", "pattern",
  "minItems", "maxItems", "minProperties", "maxProperties", "required", "properties", "additionalProperties", "items",
  "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);

/** Every problem that would make the API server call the schema non-structural. */
function structuralProblems(node: JsonObject, at: string): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(node)) if (!crdKeywords.has(key)) problems.push(`${at}: keyword ${key}`);
  if (node.type === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true) problems.push(`${at}: no type`);
  if (node.properties !== undefined && node.additionalProperties !== undefined) problems.push(`${at}: properties and additionalProperties`);
  if (node.type === "object" && node.properties === undefined && node.additionalProperties === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true && !at.endsWith(".metadata")) {
    problems.push(`${at}: object with no fields`);
  }
  if (node.type === "array" && node.items === undefined) problems.push(`${at}: array without items`);
  if (typeof node.additionalProperties === "boolean") problems.push(`${at}: additionalProperties boolean`);
  for (const [name, child] of Object.entries((node.properties as JsonObject | undefined) ?? {})) {
    problems.push(...structuralProblems(child as JsonObject, `${at}.${name}`));
  }
  if (node.items !== undefined) problems.push(...structuralProblems(node.items as JsonObject, `${at}[]`));
  if (typeof node.additionalProperties === "object") problems.push(...structuralProblems(node.additionalProperties as JsonObject, `${at}{}`));
  return problems;
}

describe("CRDs generated from operators/schema", () => {
  it("has the 11 kinds of the architecture, each once, with the architecture's scope", () => {
    const scopes = Object.fromEntries(kinds.map((k) => [k.kind, k.scope]));
    assert.deepEqual(scopes, {
      Identity: "Cluster", Network: "Cluster", Peer: "Cluster", Project: "Cluster",
      Provider: "Namespaced", Resource: "Namespaced", AccessGrant: "Namespaced", Price: "Namespaced",
      Reservation: "Namespaced", PipelineRun: "Namespaced", UsageRecord: "Namespaced",
    });
    for (const kind of kinds) {
      assert.equal(kind.group, "archipel.io");
      assert.equal(kind.version, "v1alpha1");
      assert.deepEqual(kind.categories, ["archipel"]);
      assert.equal(kind.listKind, `${kind.kind}List`);
      assert.equal(kind.singular, kind.kind.toLowerCase());
    }
  });

  for (const kind of kinds) {
    it(`${kind.kind}: the schema is structural (every node typed, no TypeBox-only keyword)`, () => {
      const schema = openapiSchemaOf(kind);
      assert.deepEqual(structuralProblems(schema, kind.kind), []);
      const text = JSON.stringify(schema);
      assert.doesNotMatch(text, /"\$id"|"~kind"|"const"|"anyOf"|"patternProperties"/);
    });

    it(`${kind.kind}: status subresource, Ready and Age columns, conditions as a map keyed by type`, () => {
      const crd = crdOf(kind) as { spec: { versions: [{ subresources: unknown; schema: { openAPIV3Schema: JsonObject } }] } };
      const v = crd.spec.versions[0];
      assert.deepEqual(v.subresources, { status: {} });
      assert.ok(kind.printerColumns.some((c) => c.name === "Ready" && c.jsonPath === '.status.conditions[?(@.type=="Ready")].status'));
      assert.ok(kind.printerColumns.some((c) => c.name === "Age" && c.type === "date"));
      const status = (v.schema.openAPIV3Schema.properties as JsonObject).status as JsonObject;
      const conditions = (status.properties as JsonObject).conditions as JsonObject;
      assert.equal(conditions["x-kubernetes-list-type"], "map");
      assert.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
      const condition = conditions.items as JsonObject;
      assert.deepEqual(condition.required, ["type", "status", "reason", "message", "lastTransitionTime"]);
      assert.deepEqual((condition.properties as { status: { enum: string[] } }).status.enum, ["True", "False", "Unknown"]);
      assert.ok("observedGeneration" in (status.properties as JsonObject));
    });

    it(`${kind.kind}: every CEL rule says which field it is about`, () => {
      for (const { path, rule } of celRulesOf(kind)) {
        assert.ok(rule.message !== undefined && /\bspec\b|\bstatus\b/.test(rule.message) || rule.fieldPath !== undefined, `${path}: ${rule.rule}`);
        if (rule.fieldPath !== undefined) assert.match(rule.fieldPath, /^\.[A-Za-z]/);
      }
    });
  }

  it("has the cross-field rules the foundation issue asks for", () => {
    const rules = (kindName: string): string[] =>
      celRulesOf(kinds.find((k) => k.kind === kindName)!).map(({ path, rule }) => `${path}: ${rule.rule}`);
    assert.ok(rules("Resource").some((r) => r.startsWith("spec: ") && r.includes("restricted") && r.includes("size(self.projects) > 0")));
    assert.ok(rules("Resource").includes("spec.type: self == oldSelf"));
    assert.ok(rules("Peer").includes("spec.peerId: self == oldSelf"));
    assert.ok(rules("Reservation").includes("spec: self.end > self.start"));
    assert.ok(rules("Price").some((r) => r.includes("self.validUntil > self.validFrom")));
    for (const kindName of ["Provider", "Resource"]) {
      for (const block of ["data", "storage", "compute", "service"]) {
        assert.ok(rules(kindName).includes(`spec: has(self.${block}) == (self.type == '${block}')`), `${kindName} ${block}`);
      }
    }
  });

  it("short names are unique and collide with no built-in or well-known resource", () => {
    // kubectl's built-ins plus short names of projects often installed next to Archipel
    // (Tekton: pr/tr/p/t, Argo: wf/cwf/wftmpl, cert-manager, Crossplane, Admiralty).
    const taken = new Set([
      "cm", "cs", "csr", "crd", "crds", "ds", "deploy", "ep", "ev", "hpa", "ing", "limits", "no", "ns", "netpol",
      "pc", "pdb", "po", "psp", "pv", "pvc", "quota", "rc", "rs", "sa", "sc", "sts", "svc", "ingclass",
      "pr", "tr", "p", "t", "wf", "cwf", "wftmpl", "cwftmpl", "wfeventbinding", "cert", "certs", "cr", "crs",
      "res", "net", "id", "peer", "prov", "price", "proj", "usage", "grant",
    ]);
    const all = kinds.flatMap((k) => k.shortNames);
    assert.equal(new Set(all).size, all.length);
    for (const name of all) assert.ok(!taken.has(name), `short name ${name} is taken`);
    for (const kind of kinds) assert.ok(kind.shortNames.length > 0, kind.kind);
  });

  it("is deterministic: two generations are byte-identical, and the committed files are current", async () => {
    const first = manifests();
    const second = manifests();
    assert.deepEqual([...first.entries()], [...second.entries()]);
    for (const [rel, content] of first) {
      const committed = await readFile(path.join(repoRoot, rel), "utf8").catch(() => "");
      assert.equal(committed, content, `${rel} is stale: run make manifests`);
    }
  });
});

describe("structural()", () => {
  it("turns unions of literals into enums and string maps into additionalProperties", () => {
    const schema = Type.Object({
      mode: Type.Union([Type.Literal("a"), Type.Literal("b")]),
      labels: Type.Record(Type.String(), Type.String()),
      fixed: Type.Literal("x"),
    }, { additionalProperties: false });
    assert.deepEqual(structural(schema), {
      type: "object",
      required: ["mode", "labels", "fixed"],
      properties: {
        mode: { type: "string", enum: ["a", "b"] },
        labels: { type: "object", additionalProperties: { type: "string" } },
        fixed: { type: "string", enum: ["x"] },
      },
    });
  });

  it("refuses what has no structural form, naming the node", () => {
    assert.throws(() => structural(Type.Object({ v: Type.Union([Type.String(), Type.Integer()]) })), /schema\.v\.anyOf\[0\]/);
    assert.throws(() => structural(Type.Object({ v: Type.Unsafe({}) })), /schema\.v: every node .* needs a type/);
    assert.throws(() => structural(Type.Object({ v: Type.String({ $id: "X" }) })), /schema\.v: keyword "\$id"/);
  });
});
