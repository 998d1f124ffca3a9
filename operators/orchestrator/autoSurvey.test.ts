// The survey's choice of whom to ask, with the peers' quote answers faked (the federation client
// and the caches are its only I/O); ranking itself is autoPlacement.test.ts's.
import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PeerQuoteAnswer, PeerQuoteRequest } from "../federation/peerRuns.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import type { Peer } from "../schema/peer.ts";
import type { PipelineRun, PipelineRunSpec } from "../schema/pipelineRun.ts";
import { createAutoSurvey } from "./autoSurvey.ts";
import type { PeerEndpoint, PeerRunsClient } from "./peerClient.ts";
import { defaultPeerRunSettings } from "./peerRun.ts";
import { RunReason } from "./reasons.ts";

const verified = { type: "DescriptorVerified", status: "True" as const, reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
const peer = (name: string, over: { reachability?: string; trust?: number } = {}): Peer =>
  ({
    metadata: { name },
    spec: { peerId: "p", networkRef: { name: "net" }, approval: "Accepted" },
    status: { reachability: over.reachability ?? "Connected", trust: { score: over.trust ?? 90 }, conditions: [verified], descriptor: { clusterName: `${name}-1`, apiEndpoint: `http://127.0.0.1:1/${name}` } },
  }) as unknown as Peer;

function survey(peers: Peer[], answers: Record<string, PeerQuoteAnswer | ((request: PeerQuoteRequest) => PeerQuoteAnswer)>): { asked: string[]; place: (spec: PipelineRunSpec, others?: { step: string; site: { kind: "local" } | { kind: "peer"; peer: string } }[]) => ReturnType<ReturnType<typeof createAutoSurvey>["place"]> } {
  const asked: string[] = [];
  const client = {
    quote: (ep: PeerEndpoint, request: PeerQuoteRequest): Promise<PeerQuoteAnswer> => {
      asked.push(ep.peer);
      const answer = answers[ep.peer];
      return Promise.resolve((typeof answer === "function" ? answer(request) : answer) ?? { priced: false, totals: [], message: "no price" });
    },
  } as unknown as PeerRunsClient;
  const s = createAutoSurvey({
    client,
    settings: defaultPeerRunSettings,
    now: () => new Date("2026-06-01T00:00:00Z"),
    peers: () => peers,
    services: () => undefined,
    prices: () => [],
    providers: () => [],
    // This cluster has none of the services.
    load: (_ctx, _run, steps) => Promise.resolve({ reason: RunReason.ServiceNotFound, message: `service ${steps[0]?.serviceRef.name ?? ""} does not exist here` }),
  });
  const run = (spec: PipelineRunSpec): PipelineRun => ({ metadata: { name: "r", namespace: "ns", uid: "u" }, spec }) as PipelineRun;
  return { asked, place: (spec, others = []) => s.place({} as ReconcileContext, run(spec), others) };
}

const eur = (amount: string): PeerQuoteAnswer => ({ priced: true, totals: [{ amount, currency: "EUR" }], message: "", requests: { cpu: "100m", memory: "100Mi" } });
const autoStep = { name: "a", serviceRef: { name: "tool" }, placement: { strategy: "Auto" as const } };

describe("createAutoSurvey", () => {
  it("asks every Connected, Accepted peer with a verified descriptor, and pins the cheapest for all the Auto steps", async () => {
    const s = survey([peer("lyon"), peer("nice"), peer("down", { reachability: "Unreachable" })], { lyon: eur("0.30"), nice: eur("0.20") });
    const placed = await s.place({ steps: [autoStep, { ...autoStep, name: "b", in: { x: "a/out" } }] });
    assert.deepEqual(s.asked.sort(), ["lyon", "nice"]);
    assert.ok("pins" in placed);
    assert.deepEqual(placed.pins.map((p) => [p.step, p.peer]), [["a", "nice"], ["b", "nice"]]);
    assert.match(placed.pins[0]?.reason ?? "", /^Auto: peer nice \(nice-1\): 0\.20 EUR.*this cluster: service tool does not exist here/);
  });

  it("asks only the peer of a step the Auto steps read, or that reads them (a step on a peer reads only that peer's steps)", async () => {
    const explicit = { name: "e", serviceRef: { name: "other", peer: "lyon" } };
    const onLyon = [{ step: "e", site: { kind: "peer" as const, peer: "lyon" } }];
    const reads = survey([peer("lyon"), peer("nice")], { lyon: eur("0.30"), nice: eur("0.20") });
    const placed = await reads.place({ steps: [explicit, { ...autoStep, in: { x: "e/out" } }] }, onLyon);
    assert.deepEqual(reads.asked, ["lyon"]);
    assert.ok("pins" in placed && placed.pins[0]?.peer === "lyon");
    const read = survey([peer("lyon"), peer("nice")], { lyon: eur("0.30"), nice: eur("0.20") });
    await read.place({ steps: [autoStep, { ...explicit, in: { x: "a/out" } }] }, onLyon);
    assert.deepEqual(read.asked, ["lyon"]);
    // Wired to steps on two peers: no peer can take them (this cluster still may).
    const both = survey([peer("lyon"), peer("nice")], {});
    await both.place({ steps: [explicit, { name: "f", serviceRef: { name: "other", peer: "nice" } }, { ...autoStep, in: { x: "e/out", y: "f/out" } }] }, [...onLyon, { step: "f", site: { kind: "peer", peer: "nice" } }]);
    assert.deepEqual(both.asked, []);
  });

  it("asks every peer when the Auto steps are not wired to a step on a peer, even if the run uses one: a run may use several", async () => {
    const s = survey([peer("lyon"), peer("nice")], { lyon: eur("0.30"), nice: eur("0.20") });
    const placed = await s.place({ steps: [{ name: "e", serviceRef: { name: "other", peer: "lyon" } }, autoStep] }, [{ step: "e", site: { kind: "peer", peer: "lyon" } }]);
    assert.deepEqual(s.asked.sort(), ["lyon", "nice"]);
    assert.ok("pins" in placed && placed.pins[0]?.peer === "nice", "the cheaper peer, though the run's other step is on lyon");
  });

  it("ranks apart the Auto steps not wired to each other: each branch goes to its cheapest peer, a chain stays together", async () => {
    const bySteps = (prices: Record<string, string>) => (request: PeerQuoteRequest): PeerQuoteAnswer => eur(request.steps.map((s) => prices[s.service] ?? "9.00").sort().at(-1) ?? "9.00");
    const s = survey([peer("lyon"), peer("nice")], { lyon: bySteps({ cutter: "0.10", tagger: "0.50" }), nice: bySteps({ cutter: "0.40", tagger: "0.20" }) });
    const placed = await s.place({
      steps: [
        { ...autoStep, name: "cut", serviceRef: { name: "cutter" } },
        { ...autoStep, name: "tag", serviceRef: { name: "tagger" } },
        { ...autoStep, name: "retag", serviceRef: { name: "tagger" }, in: { x: "tag/out" } },
      ],
    });
    assert.ok("pins" in placed, JSON.stringify(placed));
    assert.deepEqual(placed.pins.map((p) => [p.step, p.peer]), [["cut", "lyon"], ["tag", "nice"], ["retag", "nice"]]);
    assert.match(placed.pins[0]?.reason ?? "", /^Auto: peer lyon \(lyon-1\): 0\.10 EUR/);
    assert.match(placed.pins[1]?.reason ?? "", /^Auto: peer nice \(nice-1\): 0\.20 EUR/);
    assert.equal(s.asked.length, 4, "each group asks each peer once");
  });

  it("names the group no cluster can take when the run's Auto steps are ranked in several", async () => {
    const s = survey([peer("lyon")], { lyon: (request) => (request.steps[0]?.service === "cutter" ? eur("0.10") : { priced: false, totals: [], message: "" }) });
    const placed = await s.place({ inputs: [{ name: "d", resourceRef: { name: "local-data" } }], steps: [{ ...autoStep, name: "cut", serviceRef: { name: "cutter" } }, { ...autoStep, name: "read", in: { x: "d" } }] });
    assert.ok("reason" in placed);
    assert.match(placed.message, /^Auto, for read: no cluster can run the steps \(this cluster: service tool does not exist here\)$/);
  });

  it("steps that read a peer's data go there: this cluster is left out and only that peer asked", async () => {
    const s = survey([peer("lyon"), peer("nice")], { lyon: eur("0.30"), nice: eur("0.01") });
    const placed = await s.place({ inputs: [{ name: "d", resourceRef: { name: "samples", peer: "lyon" } }], steps: [{ ...autoStep, in: { x: "d" } }] });
    assert.deepEqual(s.asked, ["lyon"]);
    assert.ok("pins" in placed);
    assert.match(placed.pins[0]?.reason ?? "", /left out this cluster: the steps read data Resource samples of peer lyon/);
  });

  it("no cluster can take the steps: NoPlacement, naming why each was left out", async () => {
    const s = survey([peer("lyon")], {});
    const placed = await s.place({ inputs: [{ name: "d", resourceRef: { name: "local-data" } }], steps: [{ ...autoStep, in: { x: "d" } }] });
    assert.deepEqual(s.asked, [], "steps reading this cluster's data ask no peer");
    assert.ok("reason" in placed);
    assert.equal(placed.reason, RunReason.NoPlacement);
    assert.match(placed.message, /^Auto: no cluster can run the steps \(this cluster: service tool does not exist here\)$/);
  });

  it("asks at most 16 peers, the most trusted first", async () => {
    const many = Array.from({ length: 20 }, (_, i) => peer(`p${String(i).padStart(2, "0")}`, { trust: i }));
    const s = survey(many, {});
    await s.place({ steps: [autoStep] });
    assert.equal(s.asked.length, 16);
    assert.ok(!s.asked.includes("p00") && !s.asked.includes("p03") && s.asked.includes("p19"));
  });
});
