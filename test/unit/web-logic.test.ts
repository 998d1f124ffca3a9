// The web UI's pure pieces (web/src/logic.ts): routing, the run DAG's levels, quantities, ages.
import assert from "node:assert/strict";
import { age, grantName, match, parseWiring, peerPartText, quantity, type StepShape, stepLevels, upstreamOf } from "../../web/src/logic.ts";

describe("web ui logic", () => {
  it("says what a run holds on each peer: where, the hold's state, the peer's run (cancelled ones said so)", () => {
    const sent = { peer: "lyon", cluster: "lyon-1", reservation: "isle-1-greet-0b6f6c9e", reservationState: "Released", name: "isle-1-greet-0b6f6c9e", phase: "Succeeded", quote: { amount: "0.11", currency: "EUR" } };
    assert.deepEqual(peerPartText(sent), { where: "lyon-1 (Peer lyon)", hold: "isle-1-greet-0b6f6c9e: Released", run: "isle-1-greet-0b6f6c9e: Succeeded", quote: "0.11 EUR" });
    assert.equal(peerPartText({ ...sent, phase: "Cancelled" }).run, "isle-1-greet-0b6f6c9e: cancelled (another peer's part failed)");
    const { name: _name, phase: _phase, quote: _quote, ...held } = sent;
    assert.deepEqual(peerPartText({ ...held, reservationState: "Tentative" }), { where: "lyon-1 (Peer lyon)", hold: "isle-1-greet-0b6f6c9e: Tentative", run: "not sent", quote: "" });
    assert.equal(peerPartText({ peer: "oslo", cluster: "oslo-1", reservation: "" }).hold, "nothing held");
    assert.equal(peerPartText({ ...held, reservationState: "Tentative", holdRound: 2 }).hold, "isle-1-greet-0b6f6c9e: Tentative (round 2 of holds: an earlier one lapsed)");
  });

  it("matches hash routes and decodes their parameters", () => {
    assert.deepEqual(match("/resources/:namespace/:name", "/resources/team-a/obs%2Fx"), { namespace: "team-a", name: "obs/x" });
    assert.equal(match("/resources/:namespace/:name", "/resources/team-a"), undefined);
    assert.equal(match("/admin/providers", "/admin/prices"), undefined);
    assert.deepEqual(match("/catalog", "/catalog/"), {});
  });

  it("lays steps out by dependency level from their `in` sources", () => {
    const steps: StepShape[] = [
      { name: "plot", in: { table: "clean/table", raw: "fetch/raw" } },
      { name: "fetch" },
      { name: "clean", in: { raw: "fetch/raw", threshold: "threshold" } },
    ];
    assert.deepEqual(Object.fromEntries(stepLevels(steps)), { fetch: 0, clean: 1, plot: 2 });
    assert.deepEqual(upstreamOf(steps[0] as StepShape, new Set(["plot", "fetch", "clean"])).sort(), ["clean", "fetch"]);
  });

  it("does not loop on a cycle (which the API refuses anyway)", () => {
    const levels = stepLevels([{ name: "a", in: { x: "b/y" } }, { name: "b", in: { y: "a/x" } }]);
    assert.equal(levels.size, 2);
  });

  it("reads Kubernetes quantities for capacity bars", () => {
    assert.equal(quantity("4"), 4);
    assert.equal(quantity("500m"), 0.5);
    assert.equal(quantity("8Gi"), 8 * 1024 ** 3);
    assert.equal(quantity("2k"), 2000);
    assert.equal(quantity("four"), 0);
    assert.equal(quantity("3Xi"), 0);
    assert.equal(quantity(undefined), 0);
  });

  it("says how long ago, from a given now", () => {
    const now = Date.parse("2026-01-02T00:00:00Z");
    assert.equal(age("2026-01-01T23:59:30Z", now), "30s ago");
    assert.equal(age("2026-01-01T23:00:00Z", now), "1h ago");
    assert.equal(age("2025-12-30T00:00:00Z", now), "3d ago");
    assert.equal(age(undefined, now), "");
  });

  it("names a grant after the Resource and the user, as a DNS label", () => {
    assert.equal(grantName("obs", "alice"), "obs-alice");
    assert.equal(grantName("obs", "system:serviceaccount:team-a:bot"), "obs-system-serviceaccount-team-a-bot");
    assert.ok(grantName("x".repeat(60), "alice").length <= 63);
  });

  it("reads a step's wiring, one input=source a line", () => {
    assert.deepEqual(parseWiring("text = write/out\n\nthreshold=limit\nnot a line\n=x\n"), { text: "write/out", threshold: "limit" });
  });
});
