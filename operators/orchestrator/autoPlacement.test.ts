import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PipelineRunSpec } from "../schema/pipelineRun.ts";
import { autoGroups, type AutoOffer, chooseAutoSite, placedOnPeerByAuto, rankedByAuto, refusedHold, withAutoPins } from "./autoPlacement.ts";

const here = (over: Partial<AutoOffer> = {}): AutoOffer => ({ site: { kind: "local" }, label: "this cluster", ...over });
const peer = (name: string, over: Partial<AutoOffer> = {}): AutoOffer => ({ site: { kind: "peer", peer: name }, label: `peer ${name}`, trust: 90, ...over });
const eur = (amount: string): AutoOffer["quote"] => [{ amount, currency: "EUR" }];
const chosen = (offers: AutoOffer[], rules = {}): string => {
  const c = chooseAutoSite(offers, rules);
  assert.ok(c.ok, !c.ok ? c.message : "");
  return c.site.kind === "peer" ? c.site.peer : "here";
};

describe("chooseAutoSite", () => {
  it("takes the cheapest quote in the run's currency, and says what each cluster offered", () => {
    const choice = chooseAutoSite([here({ quote: eur("5.00") }), peer("lyon", { quote: eur("0.20") }), peer("nice", { quote: eur("0.30") })]);
    assert.ok(choice.ok);
    assert.deepEqual(choice.site, { kind: "peer", peer: "lyon" });
    assert.equal(choice.reason, "Auto: peer lyon: 0.20 EUR, trust 90; ranked over peer nice: 0.30 EUR, trust 90; this cluster: 5.00 EUR");
  });

  it("compares amounts exactly, not as text", () => {
    assert.equal(chosen([peer("lyon", { quote: eur("10.00") }), peer("nice", { quote: eur("9.5") })]), "nice");
  });

  it("leaves out a cluster without room, a service, or the trust the run asks, naming why", () => {
    const choice = chooseAutoSite(
      [
        here({ unavailable: "spec.steps[0].serviceRef: service tool does not exist" }),
        peer("lyon", { quote: eur("0.10"), needs: { cpu: "1100m", memory: "1124Mi" }, free: { cpu: "1", memory: "8Gi" } }),
        peer("nice", { quote: eur("0.20"), trust: 40 }),
        peer("oslo", { quote: eur("0.90"), needs: { cpu: "1100m", memory: "1124Mi" }, free: { cpu: "2", memory: "2Gi" } }),
      ],
      { minTrust: { min: 50, field: "spec.placement.minTrust" } },
    );
    assert.ok(choice.ok);
    assert.deepEqual(choice.site, { kind: "peer", peer: "oslo" });
    assert.match(choice.reason, /left out this cluster: spec\.steps\[0\]\.serviceRef: service tool does not exist; peer lyon: no room: the hold needs 1100m cpu and 1124Mi, 1 cpu and 8Gi are free; peer nice: trust 40 below spec\.placement\.minTrust 50$/);
  });

  it("a peer with no trust score yet is left out when the run asks for one", () => {
    const choice = chooseAutoSite([peer("lyon", { trust: undefined })], { minTrust: { min: 1, field: "spec.placement.minTrust" } });
    assert.deepEqual(choice, { ok: false, message: "Auto: no cluster can run the steps (peer lyon: trust unknown below spec.placement.minTrust 1)" });
  });

  it("ranks a quote it can compare before one in another currency or none", () => {
    assert.equal(chosen([here(), peer("lyon", { quote: [{ amount: "1", currency: "USD" }] }), peer("nice", { quote: eur("99") })], { currency: "EUR" }), "nice");
    // Without a budget's currency, this cluster's quote sets it.
    assert.equal(chosen([here({ quote: [{ amount: "3", currency: "USD" }] }), peer("lyon", { quote: eur("0.01") })]), "here");
  });

  it("on equal price: the more trusted, then this cluster, then by name", () => {
    assert.equal(chosen([peer("lyon", { quote: eur("1"), trust: 80 }), peer("nice", { quote: eur("1"), trust: 95 })]), "nice");
    assert.equal(chosen([peer("lyon", { trust: 100 }), here()]), "here");
    assert.equal(chosen([peer("nice", { trust: 70 }), peer("lyon", { trust: 70 })]), "lyon");
  });

  it("says why no cluster can take the steps", () => {
    const choice = chooseAutoSite([here({ unavailable: "no service" }), peer("lyon", { unavailable: "does not offer us tool" })]);
    assert.deepEqual(choice, { ok: false, message: "Auto: no cluster can run the steps (this cluster: no service; peer lyon: does not offer us tool)" });
  });

  it("keeps the reason within what status holds", () => {
    const many = Array.from({ length: 40 }, (_, i) => peer(`peer-with-a-long-name-${i}`, { quote: eur(String(i + 1)) }));
    const choice = chooseAutoSite(many);
    assert.ok(choice.ok);
    assert.ok(choice.reason.length <= 1000 && choice.reason.endsWith("…"), String(choice.reason.length));
  });
});

describe("Auto steps and their pins", () => {
  it("groups the Auto steps wired to each other, directly or through another Auto step; the others each alone", () => {
    const step = (name: string, ...reads: string[]): PipelineRunSpec["steps"][number] => ({ name, serviceRef: { name: "t" }, in: Object.fromEntries(reads.map((r, i) => [`i${i}`, `${r}/out`])) });
    const groups = autoGroups([step("a"), step("b"), step("c", "a"), step("d", "outside"), step("e", "c", "b"), step("f")]);
    assert.deepEqual(groups.map((g) => g.map((s) => s.name)), [["a", "b", "c", "e"], ["d"], ["f"]]);
    assert.deepEqual(autoGroups([]), []);
  });

  const spec: PipelineRunSpec = {
    placement: { strategy: "Auto" },
    steps: [
      { name: "a", serviceRef: { name: "tool" } },
      { name: "b", serviceRef: { name: "other", peer: "nice" } },
      { name: "c", serviceRef: { name: "tool" }, placement: { strategy: "Local" } },
    ],
  };

  it("ranks the steps whose strategy is Auto and whose service names no peer", () => {
    assert.deepEqual(spec.steps.filter((s) => rankedByAuto(spec, s)).map((s) => s.name), ["a"]);
  });

  it("a step pinned to a peer names that peer's service; a step pinned here is left as it is", () => {
    const pinned = withAutoPins(spec, [{ step: "a", peer: "lyon", reason: "r" }, { step: "c", reason: "r" }]);
    assert.deepEqual(pinned.steps.map((s) => s.serviceRef), [{ name: "tool", peer: "lyon" }, { name: "other", peer: "nice" }, { name: "tool" }]);
    assert.equal(withAutoPins(spec, undefined), spec);
  });

  it("steps on a peer may be ranked again only when Auto alone put them there", () => {
    const pins = [{ step: "a", peer: "nice", reason: "r" }];
    // a on nice by Auto, b on nice by its own serviceRef: nice's hold cannot be left for another cluster.
    assert.equal(placedOnPeerByAuto(withAutoPins(spec, pins), pins, "nice"), false);
    const lyon = [{ step: "a", peer: "lyon", reason: "r" }];
    assert.equal(placedOnPeerByAuto(withAutoPins(spec, lyon), lyon, "lyon"), true);
    assert.equal(placedOnPeerByAuto(withAutoPins(spec, lyon), lyon, "nice"), false, "no Auto pin names nice");
    assert.equal(placedOnPeerByAuto(spec, undefined, "lyon"), false);
  });

  it("says why a peer is out of the ranking: the last hold it did not keep for the run", () => {
    const refused = [
      { peer: "lyon", reservation: "r1", state: "Expired" },
      { peer: "nice", reservation: "r2", state: "Rejected", message: "cpu: 3500m admitted at 10:00, 4 allowed" },
    ];
    assert.equal(refusedHold(refused, "nice"), "its hold r2 for these steps ended Rejected (cpu: 3500m admitted at 10:00, 4 allowed) before they were sent");
    assert.equal(refusedHold(refused, "lyon"), "its hold r1 for these steps ended Expired before they were sent");
    assert.equal(refusedHold(refused, "oslo"), undefined);
    assert.equal(refusedHold(undefined, "lyon"), undefined);
  });
});
