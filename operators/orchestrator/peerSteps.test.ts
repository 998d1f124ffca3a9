// The driver of a run's parts on several peers, pass by pass, against peers faked in memory (the
// federation client is its only I/O besides the status write, which the test applies itself):
// what it asks of each peer and when, and that a pass whose status write was lost converges.
import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { createHash } from "node:crypto";
import type { PeerInputComplete, PeerQuoteAnswer, PeerReservationAnswer, PeerReservationRequest, PeerRunAnswer, PeerRunRequest } from "../federation/peerRuns.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import type { Peer } from "../schema/peer.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { EventRecorder } from "../runtime/events.ts";
import type { PeerEndpoint, PeerInputAt, PeerOutput, PeerOutputAt, PeerRunsClient } from "./peerClient.ts";
import { defaultPeerRunSettings } from "./peerRun.ts";
import { createPeerSteps, type PeerGroup, peerRunFinalizer, type PeerRunRecord } from "./peerSteps.ts";
import type { RunObservation } from "./runStatus.ts";

/** One peer as the federation API shows it: its Reservations and runs for us, by name. */
class FakePeer {
  readonly holds = new Map<string, PeerReservationAnswer>();
  readonly runs = new Map<string, PeerRunAnswer>();
  readonly asked: string[] = [];
  created = 0;
  /** the state a new hold gets: Tentative (admitted), Pending (not yet), Rejected */
  admits: "Tentative" | "Pending" | "Rejected" = "Tentative";

  reserve(request: PeerReservationRequest): PeerReservationAnswer {
    this.asked.push("reserve");
    const found = this.holds.get(request.name);
    if (found) return found;
    this.created++;
    const hold = { namespace: request.namespace, name: request.name, state: this.admits, ...(this.admits === "Rejected" ? { message: "cpu short by 3 at 10:00" } : {}) };
    this.holds.set(request.name, hold);
    return hold;
  }

  decide(name: string, action: "confirm" | "release"): PeerReservationAnswer {
    this.asked.push(action);
    const hold = this.holds.get(name);
    assert.ok(hold, `decide on a hold that does not exist: ${name}`);
    hold.state = action === "confirm" ? "Confirmed" : "Released";
    return { ...hold };
  }

  /** Files sent to its runs' inputs (`run/input/path` → bytes), and the completions. */
  readonly received = new Map<string, string>();
  readonly completed: { run: string; input: string; body: PeerInputComplete }[] = [];

  async receive(at: PeerInputAt, path: string, stream: ReadableStream<Uint8Array>): Promise<void> {
    this.asked.push("send");
    this.received.set(`${at.name}/${at.input}/${path}`, await new Response(stream).text());
  }

  complete(at: PeerInputAt, body: PeerInputComplete): PeerRunAnswer {
    this.asked.push("complete");
    this.completed.push({ run: at.name, input: at.input, body });
    const run = this.runs.get(at.name);
    if (!run?.awaiting?.includes(at.input)) throw new Error(`${at.input} is completed only while awaited`);
    run.awaiting = run.awaiting.filter((name) => name !== at.input);
    return run;
  }

  submit(request: PeerRunRequest): PeerRunAnswer {
    this.asked.push("submit");
    const hold = this.holds.get(request.reservation);
    assert.equal(hold?.state, "Confirmed", "a run is sent only within a confirmed hold");
    const awaiting = request.awaitedInputs ? { awaiting: [...request.awaitedInputs] } : {};
    const run = this.runs.get(request.name) ?? { namespace: request.namespace, name: request.name, phase: "Running", steps: request.steps.map((s) => ({ name: s.name, phase: "Running" })), outputs: [], ...awaiting };
    this.runs.set(request.name, run);
    return run;
  }
}

const verified = { type: "DescriptorVerified", status: "True" as const, reason: "Verified", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" };
const peerObject = (name: string): Peer =>
  ({ metadata: { name }, spec: { peerId: "p", networkRef: { name: "net" }, approval: "Accepted" }, status: { conditions: [verified], descriptor: { clusterName: `${name}-1`, apiEndpoint: `http://127.0.0.1:1/${name}` } } }) as unknown as Peer;

function federation(names: string[]): { peers: Record<string, FakePeer>; client: PeerRunsClient; ctx: ReconcileContext } {
  const peers = Object.fromEntries(names.map((n) => [n, new FakePeer()]));
  const on = (ep: PeerEndpoint): FakePeer => peers[ep.peer] as FakePeer;
  const client = {
    quote: (): Promise<PeerQuoteAnswer> => Promise.resolve({ priced: true, totals: [{ amount: "0.10", currency: "EUR" }], message: "0.10 EUR", requests: { cpu: "100m", memory: "64Mi" } }),
    reserve: (ep: PeerEndpoint, r: PeerReservationRequest) => Promise.resolve(on(ep).reserve(r)),
    reservation: (ep: PeerEndpoint, _ns: string, name: string) => Promise.resolve(on(ep).holds.get(name)),
    decide: (ep: PeerEndpoint, _ns: string, name: string, action: "confirm" | "release") => Promise.resolve(on(ep).decide(name, action)),
    submit: (ep: PeerEndpoint, r: PeerRunRequest) => Promise.resolve(on(ep).submit(r)),
    run: (ep: PeerEndpoint, _ns: string, name: string) => Promise.resolve(on(ep).runs.get(name)),
    output: (ep: PeerEndpoint, at: PeerOutputAt): Promise<PeerOutput> => {
      on(ep).asked.push(`output ${at.output}`);
      const bytes = new TextEncoder().encode("hello from b");
      return Promise.resolve({ kind: "File", basename: "greeting.txt", size: bytes.length, stream: new Response(bytes).body as ReadableStream<Uint8Array> });
    },
    sendInputFile: (ep: PeerEndpoint, at: PeerInputAt, file: { path: string }, stream: ReadableStream<Uint8Array>) => on(ep).receive(at, file.path, stream),
    completeInput: (ep: PeerEndpoint, at: PeerInputAt, body: PeerInputComplete) => Promise.resolve(on(ep).complete(at, body)),
    cancel: (ep: PeerEndpoint, _ns: string, name: string) => {
      on(ep).asked.push("cancel");
      on(ep).runs.delete(name);
      return Promise.resolve();
    },
  } as unknown as PeerRunsClient;
  const peerObjects = names.map(peerObject);
  const ctx = { logger: console, client: {}, cache: () => ({ get: ({ name }: { name: string }) => peerObjects.find((p) => p.metadata.name === name), list: () => peerObjects }) } as unknown as ReconcileContext;
  return { peers, client, ctx };
}

/** A run with `write` on peer b and `tag` on peer c; its status is what the driver last wrote (unless a write is dropped). */
function scenario(opts: { relay?: boolean; fromHere?: PeerGroup["sendFromHere"] } = {}): { peers: Record<string, FakePeer>; run: PipelineRun; pass: (opts?: { dropWrite?: boolean }) => Promise<void> } {
  const { peers, client, ctx } = federation(["b", "c"]);
  const run: PipelineRun = {
    apiVersion: "archipel.io/v1alpha1",
    kind: "PipelineRun",
    metadata: { name: "fan", namespace: "team", uid: "u-1", finalizers: [peerRunFinalizer] },
    spec: { job: { greeting: "hi" }, steps: [{ name: "write", serviceRef: { name: "writer", peer: "b" } }, { name: "tag", serviceRef: { name: "tagger", peer: "c" } }] },
  };
  let dropping = false;
  const write = (_ctx: ReconcileContext, _run: PipelineRun, o: RunObservation, kept: { peerRuns: PeerRunRecord[] | undefined }): Promise<void> => {
    if (!dropping) run.status = { ...run.status, phase: o.phase, steps: o.steps, conditions: [o.ready, o.succeeded].map((c) => ({ ...c, lastTransitionTime: "2026-12-02T10:00:00Z" })), ...(kept.peerRuns ? { peerRuns: kept.peerRuns } : {}) };
    return Promise.resolve();
  };
  // With `relay`: C's step reads B's output, relayed through this cluster (crossCluster.ts splits it so).
  const relayedPart = { steps: [{ name: "tag", serviceRef: { name: "tagger", peer: "c" }, in: { message: "peer_write_out" } }], outputs: [], awaits: [{ input: "peer_write_out", from: "b", output: "write_out" }] };
  // With `fromHere`: C's step reads an output of the run's prelude here (preludeRun.ts), sent by this cluster.
  const fromHerePart = { steps: [{ name: "tag", serviceRef: { name: "tagger", peer: "c" }, in: { message: "here_scribe_out" } }], outputs: [], awaits: [{ input: "here_scribe_out", output: "scribe_out" }] };
  const driver = createPeerSteps({ client, events: {} as EventRecorder, settings: defaultPeerRunSettings, now: () => new Date("2026-12-02T10:00:00Z"), write, giveUpAfterMs: 60_000 });
  const group = (): PeerGroup => ({
    run: structuredClone(run),
    jobs: ["b", "c"].map((peer, i) => ({
      peerName: peer,
      plan: [{ step: run.spec.steps[i]?.name ?? "", site: { kind: "peer" as const, peer }, reason: "Explicit" }],
      part: opts.relay && peer === "c" ? relayedPart : opts.fromHere && peer === "c" ? fromHerePart : { steps: [run.spec.steps[i]!], outputs: opts.relay ? [{ name: "write_out", source: "write/out" }] : [] },
    })),
    ...(opts.fromHere ? { sendFromHere: opts.fromHere } : {}),
  });
  return {
    peers,
    run,
    pass: async (opts = {}) => {
      dropping = opts.dropWrite === true;
      await driver.drive(ctx, group());
      dropping = false;
    },
  };
}

const succeeded = (run: PipelineRun) => run.status?.conditions?.find((c) => c.type === "Succeeded");

describe("createPeerSteps over several peers", () => {
  it("confirms no hold until every peer has admitted its own, and sends no step until every hold is confirmed", async () => {
    const s = scenario();
    const [b, c] = [s.peers.b!, s.peers.c!];
    c.admits = "Pending";
    await s.pass();
    assert.deepEqual([b.asked, c.asked], [["reserve"], ["reserve"]]);
    await s.pass();
    await s.pass();
    assert.deepEqual(b.asked, ["reserve"], "B's Tentative hold waits while C has not admitted C's");
    assert.match(succeeded(s.run)?.message ?? "", /waiting for c-1 to admit the run's hold/);
    for (const hold of c.holds.values()) hold.state = "Tentative";
    await s.pass();
    assert.deepEqual([b.asked, c.asked], [["reserve", "confirm"], ["reserve", "confirm"]]);
    await s.pass();
    assert.deepEqual([b.asked.at(-1), c.asked.at(-1)], ["submit", "submit"]);
    assert.deepEqual(s.run.status?.peerRuns?.map((r) => [r.peer, r.cluster, r.reservationState, r.phase]), [["b", "b-1", "Confirmed", "Running"], ["c", "c-1", "Confirmed", "Running"]]);
    assert.deepEqual(s.run.status?.steps?.map((x) => [x.name, x.cluster, x.phase]), [["write", "b-1", "Running"], ["tag", "c-1", "Running"]]);
  });

  it("a hold one peer rejects releases the other's before it was ever confirmed, and fails the run naming that peer", async () => {
    const s = scenario();
    const [b, c] = [s.peers.b!, s.peers.c!];
    c.admits = "Rejected";
    await s.pass();
    await s.pass();
    assert.deepEqual(b.asked, ["reserve", "release"], "B's hold is given back, never confirmed");
    assert.deepEqual(c.asked, ["reserve"]);
    assert.deepEqual([succeeded(s.run)?.status, succeeded(s.run)?.reason], ["False", "ReservationRejected"]);
    assert.match(succeeded(s.run)?.message ?? "", /^peer c-1: the peer's reservation \S+ is Rejected: cpu short by 3 at 10:00$/);
    assert.deepEqual(s.run.status?.peerRuns?.map((r) => [r.peer, r.reservationState, r.phase]), [["b", "Released", undefined], ["c", "Rejected", "Failed"]]);
    // The run has ended: later passes ask nothing more of either peer.
    await s.pass();
    assert.deepEqual([b.asked.length, c.asked.length], [2, 1]);
  });

  it("a pass whose status write was lost converges on the next: nothing is held twice", async () => {
    const s = scenario();
    await s.pass({ dropWrite: true });
    assert.equal(s.run.status?.peerRuns, undefined, "the write was lost");
    await s.pass();
    assert.deepEqual([s.peers.b!.created, s.peers.c!.created], [1, 1], "the second ask finds the first hold by name");
    await s.pass();
    await s.pass();
    assert.deepEqual([s.peers.b!.runs.size, s.peers.c!.runs.size], [1, 1]);
  });

  it("one peer's run fails: the other's is cancelled and its hold released, its part recorded Cancelled, the run failed naming the failing step", async () => {
    const s = scenario();
    const [b, c] = [s.peers.b!, s.peers.c!];
    for (let i = 0; i < 3; i++) await s.pass();
    assert.deepEqual([b.runs.size, c.runs.size], [1, 1]);
    const failed = [...b.runs.values()][0]!;
    Object.assign(failed, { phase: "Failed", steps: [{ name: "write", phase: "Failed", message: "exit 7" }], succeeded: { status: "False", reason: "StepFailed", message: "write failed" } });
    await s.pass();
    assert.deepEqual(c.asked.slice(-2), ["cancel", "release"]);
    assert.equal(c.runs.size, 0);
    assert.equal(b.asked.at(-1), "release");
    assert.deepEqual([succeeded(s.run)?.status, succeeded(s.run)?.reason], ["False", "StepFailed"]);
    assert.match(succeeded(s.run)?.message ?? "", /^step "write" failed on cluster b-1: exit 7$/);
    assert.deepEqual(s.run.status?.peerRuns?.map((r) => [r.peer, r.phase, r.reservationState]), [["b", "Failed", "Released"], ["c", "Cancelled", "Released"]]);
  });

  it("relays B's output to C's run, which awaits it, once B's part has succeeded: streamed with its digest, sent once", async () => {
    const s = scenario({ relay: true });
    const [b, c] = [s.peers.b!, s.peers.c!];
    for (let i = 0; i < 3; i++) await s.pass();
    const onC = [...c.runs.values()][0]!;
    assert.deepEqual(onC.awaiting, ["peer_write_out"], "C's run is sent with the input it awaits");
    await s.pass();
    assert.ok(!c.asked.includes("send"), "nothing is relayed while B's part runs");
    Object.assign([...b.runs.values()][0]!, { phase: "Succeeded", steps: [{ name: "write", phase: "Succeeded" }] });
    await s.pass();
    assert.deepEqual([...c.received.entries()], [[`${onC.name}/peer_write_out/greeting.txt`, "hello from b"]]);
    const sha256 = createHash("sha256").update("hello from b").digest("hex");
    assert.deepEqual(c.completed.map((x) => x.body), [{ class: "File", name: "greeting.txt", files: [{ path: "greeting.txt", size: 12, sha256 }] }]);
    assert.deepEqual(onC.awaiting, []);
    assert.ok(b.asked.includes("output write_out"));
    await s.pass();
    assert.equal(c.asked.filter((x) => x === "send").length, 1, "a completed input is not sent again");
  });

  it("sends an output of the run's prelude here to C's run once it awaits it, once", async () => {
    const sent: string[] = [];
    const at: { c?: FakePeer } = {};
    const s = scenario({
      fromHere: (_ctx, output, to) => {
        sent.push(`${output} → ${to.ep.peer}/${to.name}/${to.input}`);
        return Promise.resolve(at.c!.complete({ namespace: to.namespace, name: to.name, input: to.input }, { class: "File", name: "greeting.txt", files: [{ path: "greeting.txt", size: 1, sha256: "a".repeat(64) }] }));
      },
    });
    const c = (at.c = s.peers.c!);
    for (let i = 0; i < 3; i++) await s.pass();
    const onC = [...c.runs.values()][0]!;
    assert.deepEqual(onC.awaiting, ["here_scribe_out"], "C's run is sent with the input it awaits");
    assert.deepEqual(sent, []);
    await s.pass();
    assert.deepEqual(sent, [`scribe_out → c/${onC.name}/here_scribe_out`], "sent on the pass after C's run was made");
    assert.deepEqual(onC.awaiting, []);
    await s.pass();
    assert.equal(sent.length, 1, "not sent again");
  });

  it("a round whose hold lapsed while another peer had not admitted its own is given back whole and asked again under new names; the next round goes through", async () => {
    const s = scenario();
    const [b, c] = [s.peers.b!, s.peers.c!];
    c.admits = "Pending";
    await s.pass();
    await s.pass();
    const [firstB] = [...b.holds.keys()];
    // B's Tentative hold was never confirmed (C had not admitted) and lapsed.
    b.holds.get(firstB!)!.state = "Expired";
    await s.pass();
    assert.deepEqual([b.asked, c.asked], [["reserve"], ["reserve", "release"]], "C's hold of the lapsed round is given back; B's has lapsed already");
    assert.deepEqual(s.run.status?.peerRuns?.map((r) => [r.peer, r.reservation, r.holdRound]), [["b", "", 2], ["c", "", 2]]);
    assert.match(succeeded(s.run)?.message ?? "", /peer b-1: reservation \S+ is Expired.*round 2 of 3/);
    assert.equal(succeeded(s.run)?.status, "Unknown", "the run has not failed");
    c.admits = "Tentative";
    await s.pass();
    assert.deepEqual([b.created, c.created], [2, 2], "new holds, not the lapsed ones found again by name");
    assert.notEqual(s.run.status?.peerRuns?.[0]?.reservation, firstB);
    await s.pass();
    await s.pass();
    assert.deepEqual([b.asked.slice(-2), c.asked.slice(-2)], [["confirm", "submit"], ["confirm", "submit"]]);
    assert.deepEqual(s.run.status?.peerRuns?.map((r) => [r.reservationState, r.phase, r.holdRound]), [["Confirmed", "Running", 2], ["Confirmed", "Running", 2]]);
  });

  it("after the last round of holds lapses the run fails (ReservationRejected), having asked no more than three holds of each peer", async () => {
    const s = scenario();
    const [b, c] = [s.peers.b!, s.peers.c!];
    c.admits = "Pending";
    for (let round = 1; round <= 3; round++) {
      await s.pass();
      for (const hold of b.holds.values()) if (hold.state === "Tentative") hold.state = "Expired";
      await s.pass();
    }
    assert.deepEqual([b.created, c.created], [3, 3]);
    assert.deepEqual([succeeded(s.run)?.status, succeeded(s.run)?.reason], ["False", "ReservationRejected"]);
    assert.match(succeeded(s.run)?.message ?? "", /^peer b-1: the peer's reservation \S+ is Expired$/);
    assert.deepEqual([...c.holds.values()].map((h) => h.state), ["Released", "Released", "Released"], "every hold of C given back");
  });
});
