import assert from "node:assert/strict";
import { objectSchemaOf, type JsonObject } from "./crd.ts";
import { kinds } from "./index.ts";

/**
 * The schema node a printer column's JSONPath reads, or undefined when the path leaves the
 * schema. Supports what CRD columns use: `.a.b`, `[?(@.type=="X")]`, `[*]`, `[0]`.
 */
export function nodeAt(root: JsonObject, jsonPath: string): JsonObject | undefined {
  const segments = jsonPath.match(/\.[A-Za-z0-9_-]+|\[[^\]]*\]/g) ?? [];
  if (segments.join("") !== jsonPath) return undefined;
  let node: JsonObject | undefined = root;
  for (const segment of segments) {
    if (node === undefined) return undefined;
    if (segment.startsWith("[")) {
      node = node.type === "array" ? (node.items as JsonObject) : undefined;
      continue;
    }
    const name = segment.slice(1);
    if (name === "metadata" && node === root) return { type: "object" };
    node = (node.properties as Record<string, JsonObject> | undefined)?.[name];
  }
  return node;
}

describe("printer columns", () => {
  it("nodeAt follows fields and array filters, and refuses what is not there", () => {
    const root = objectSchemaOf(kinds.find((k) => k.kind === "Provider")!);
    assert.equal(nodeAt(root, ".spec.type")?.type, "string");
    assert.equal(nodeAt(root, '.status.conditions[?(@.type=="Ready")].status')?.type, "string");
    assert.equal(nodeAt(root, ".spec.typo"), undefined);
    assert.equal(nodeAt(root, ".spec.type[0]"), undefined);
  });

  for (const kind of kinds) {
    it(`${kind.kind}: shows Ready in the default table (kubectl get archipel -A reads it for every kind)`, () => {
      const ready = kind.printerColumns.find((c) => c.name === "Ready");
      assert.ok(ready, "no Ready column");
      assert.ok(!ready.priority, "the Ready column is hidden (priority > 0)");
    });

    it(`${kind.kind}: every column reads a field of the schema, of a matching type`, () => {
      const root = objectSchemaOf(kind);
      for (const column of kind.printerColumns) {
        if (column.jsonPath === ".metadata.creationTimestamp") continue;
        const node = nodeAt(root, column.jsonPath);
        assert.ok(node !== undefined, `${column.name}: ${column.jsonPath} is not in the schema`);
        const expected = column.type === "date" ? "string" : column.type;
        assert.equal(node.type, expected, `${column.name}: ${column.jsonPath} is ${String(node.type)}`);
        if (column.type === "date") assert.equal(node.format, "date-time", column.name);
      }
    });
  }

  it("the column filter on conditions names a condition type, and Type columns come first", () => {
    for (const kind of kinds) {
      for (const column of kind.printerColumns.filter((c) => c.jsonPath.includes("[?("))) {
        assert.match(column.jsonPath, /^\.status\.conditions\[\?\(@\.type=="[A-Z][A-Za-z]+"\)\]\.(status|reason)$/);
      }
    }
  });
});
