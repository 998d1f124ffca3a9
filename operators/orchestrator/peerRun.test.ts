import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PeerReservationAnswer, PeerRunAnswer } from "../federation/peerRuns.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Peer } from "../schema/peer.ts";
import { combineQuotes, defaultPeerRunSettings, failedPeerRun, freshRound, groupActions, maxHoldRounds, observeParts, type PartState, minTrustOf, quoteRequest, reservationSize, keptObservation, nextPeerAction, observePeerRun, peerNamespace, requestedName, reservationRequest, runRequest, trustRefusal, wholeRun } from "./peerRun.ts";
import type { StepPlacement } from "./placement.ts";

const run: PipelineRun = {
  apiVersion: "archipel.io/v1alpha1",
  kind: "PipelineRun",
  metadata: { name: "greet", namespace: "team", uid: "0b6f6c9e-1" },
  spec: { steps: [{ name: "write", serviceRef: { name: "writer", peer: "lyon", namespace: "shared" }, in: { message: "greeting" } }], job: { greeting: "hi" }, outputs: [{ name: "result", source: "write/out" }] },
};
const plan: StepPlacement[] = [{ step: "write", site: { kind: "peer", peer: "lyon" }, reason: "serviceRef.peer: the service writer is on peer lyon" }];
const site = { peer: "lyon", cluster: "isle-2" };
const answer = (over: Partial<PeerRunAnswer>): PeerRunAnswer => ({ namespace: "shared", name: "a-greet-1", steps: [], outputs: [], ...over });

describe("peerRun", () => {
  it("asks a peer's trust score of the highest placement.minTrust among the run's and its steps' own, and holds nothing below it", () => {
    assert.equal(minTrustOf(run, wholeRun(run)), undefined);
    const strict = { ...run, spec: { ...run.spec, placement: { minTrust: 60 }, steps: [{ ...run.spec.steps[0]!, placement: { minTrust: 80 } }] } };
    const wanted = minTrustOf(strict, wholeRun(strict));
    assert.deepEqual(wanted, { min: 80, field: "spec.steps[0].placement.minTrust" });
    const peer = (score?: number): Peer => ({ apiVersion: "archipel.io/v1alpha1", kind: "Peer", metadata: { name: "lyon" }, spec: { networkRef: { name: "n" }, peerId: "p", approval: "Accepted" }, ...(score === undefined ? {} : { status: { trust: { score, availability: 100, connectedSeconds: 0, observedSeconds: 0, observedAt: "2026-12-01T00:00:00Z", runsSucceeded: 0, runsFailed: 0 } } }) }) as Peer;
    assert.equal(trustRefusal(peer(80), wanted, "isle-2"), undefined);
    assert.equal(trustRefusal(peer(10), undefined, "isle-2"), undefined, "no minTrust: any peer");
    const low = trustRefusal(peer(75), wanted, "isle-2");
    assert.equal(low?.reason, "PeerUntrusted");
    assert.match(low?.message ?? "", /^peer isle-2 has a trust score of 75 \(Peer lyon, status\.trust\), below spec\.steps\[0\]\.placement\.minTrust 80: nothing is held there/);
    assert.match(trustRefusal(peer(), wanted, "isle-2")?.message ?? "", /has no trust score yet/);
  });

  it("asks the peer with stable names, in the services' namespace, for a window from now", () => {
    assert.equal(requestedName(run), requestedName(structuredClone(run)));
    assert.match(requestedName(run), /^greet-[0-9a-f]{8}$/);
    assert.equal(peerNamespace(run), "shared");
    const r = reservationRequest(run, "shared", Date.parse("2026-12-02T10:00:00.700Z"), { settings: defaultPeerRunSettings });
    assert.deepEqual({ start: r.start, end: r.end, cpu: r.cpu }, { start: "2026-12-02T10:00:00Z", end: "2026-12-02T11:00:00Z", cpu: "1" });
    assert.deepEqual(runRequest(run, wholeRun(run), { namespace: "shared", reservation: "a-greet-1" }).steps, [{ name: "write", service: "writer", in: { message: "greeting" } }]);
    // The peer's run retries as this run asks.
    const retried = { ...run, spec: { ...run.spec, retry: { limit: 2, policy: "OnError" as const } } };
    assert.deepEqual(runRequest(retried, wholeRun(retried), { namespace: "shared", reservation: "a-greet-1" }).retry, { limit: 2, policy: "OnError" });
    assert.equal(runRequest(run, wholeRun(run), { namespace: "shared", reservation: "a-greet-1" }).retry, undefined);
    assert.equal(runRequest(run, wholeRun(run), { namespace: "shared", reservation: "a-greet-1" }).awaitedInputs, undefined);
    const relayed = { ...wholeRun(run), awaits: [{ input: "peer_read_out", from: "oslo", output: "read_out" }] };
    assert.deepEqual(runRequest(run, relayed, { namespace: "shared", reservation: "a-greet-1" }).awaitedInputs, ["peer_read_out"], "the peer's run is told which inputs to wait for");
    // What the peer's run may cost, when a budget applies.
    assert.deepEqual(runRequest(run, wholeRun(run), { namespace: "shared", reservation: "a-greet-1" }, { amount: "4.00", currency: "EUR" }).budget, { amount: "4.00", currency: "EUR" });
    assert.equal("budget" in runRequest(run, wholeRun(run), { namespace: "shared", reservation: "a-greet-1" }), false);
    const two = { ...run, spec: { ...run.spec, steps: [...run.spec.steps, { name: "b", serviceRef: { name: "x", peer: "lyon", namespace: "other" } }] } };
    assert.match((peerNamespace(two) as { message: string }).message, /one namespace there \(they name other, shared\)/);
  });

  it("walks reserve → confirm → submit → follow → release, and fails on a refused hold", () => {
    assert.equal(nextPeerAction(undefined, undefined, false).kind, "reserve");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Pending" }, undefined, false).kind, "wait");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Tentative" }, undefined, false).kind, "confirm");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Confirmed" }, undefined, false).kind, "submit");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Active" }, answer({ phase: "Running" }), true).kind, "follow");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Active" }, answer({ phase: "Failed" }), true).kind, "release");
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Released" }, answer({ phase: "Succeeded" }), true).kind, "done");
    const rejected = nextPeerAction({ namespace: "s", name: "r", state: "Rejected", message: "cpu short by 2 at 10:00" }, undefined, false);
    assert.deepEqual(rejected, { kind: "fail", reason: "ReservationRejected", message: "the peer's reservation r is Rejected: cpu short by 2 at 10:00" });
    assert.equal(nextPeerAction({ namespace: "s", name: "r", state: "Active" }, undefined, true).kind, "fail");
  });

  it("reads the peer's answer as this run's status, naming the peer's cluster on each step", () => {
    const waiting = observePeerRun(plan, site, undefined);
    assert.equal(waiting.ready.reason, "Reserving");
    assert.deepEqual(waiting.steps[0], { name: "write", phase: "Pending", cluster: "isle-2", peer: "lyon", placement: plan[0]?.reason });
    const done = observePeerRun(plan, site, answer({ phase: "Succeeded", finishedAt: "2026-12-02T10:01:00Z", steps: [{ name: "write", phase: "Succeeded" }], outputs: [{ name: "result", location: "s3://b/k" }] }));
    assert.deepEqual({ phase: done.phase, progress: done.progress, succeeded: done.succeeded.status, outputs: done.outputs }, { phase: "Succeeded", progress: "1/1", succeeded: "True", outputs: [{ name: "result", location: "s3://b/k" }] });
    const failed = observePeerRun(plan, site, answer({ phase: "Failed", steps: [{ name: "write", phase: "Failed", message: "exit 3" }] }));
    assert.equal(failed.succeeded.message, 'step "write" failed on cluster isle-2: exit 3');
    const blocked = observePeerRun(plan, site, answer({ phase: "Pending", ready: { status: "False", reason: "ServiceNotReady", message: "image missing" } }));
    assert.deepEqual([blocked.ready.reason, blocked.ready.message], ["PeerRefused", "on peer isle-2: ServiceNotReady: image missing"]);
    // Waiting for outputs this cluster relays is the plan, not the peer refusing.
    const awaiting = observePeerRun(plan, site, answer({ phase: "Pending", ready: { status: "False", reason: "InputsAwaited", message: "waiting for peer a" }, awaiting: ["peer_read_out"] }));
    assert.deepEqual([awaiting.ready.status, awaiting.ready.reason], ["True", "RelayingOutputs"]);
    assert.match(awaiting.ready.message, /waits for peer_read_out: outputs of another peer's steps, relayed by this cluster/);
    const refused = failedPeerRun(plan, site, { reason: "ReservationRejected", message: "no room", at: "2026-12-02T10:00:00Z" });
    assert.deepEqual([refused.phase, refused.succeeded.status, refused.finishedAt], ["Failed", "False", "2026-12-02T10:00:00Z"]);
  });

  it("keeps a finished run's outcome as its status holds it (releasing the hold decides nothing again)", () => {
    const status = { phase: "Failed" as const, progress: "0/1", finishedAt: "2026-12-02T10:00:00Z", conditions: [{ type: "Succeeded", status: "False" as const, reason: "PeerRefused", message: "peer isle-2: no", lastTransitionTime: "2026-12-02T10:00:00Z" }] };
    const kept = keptObservation(status);
    assert.deepEqual([kept.phase, kept.succeeded.status, kept.succeeded.reason, kept.finishedAt, kept.ready.status], ["Failed", "False", "PeerRefused", "2026-12-02T10:00:00Z", "Unknown"]);
  });

  it("tells the peer which of its steps wait for which (after), so that it sizes the widest moment, not the sum", () => {
    const steps: PipelineRun["spec"]["steps"] = [
      { name: "write", serviceRef: { name: "writer", peer: "isle-2" }, in: { message: "greeting" } },
      { name: "shout", serviceRef: { name: "shouter", peer: "isle-2" }, in: { text: "write/out", again: "write/log" } },
      { name: "stamp", serviceRef: { name: "stamper" }, in: { text: "shout/shouted" } },
    ];
    const chain = { ...run, spec: { ...run.spec, steps } };
    const part = { ...wholeRun(chain), steps: chain.spec.steps.slice(0, 2) };
    // "stamp" runs here: it is not the peer's to size; "write" is named once however many outputs are read.
    assert.deepEqual(quoteRequest(chain, part, "shared").steps, [{ name: "write", service: "writer" }, { name: "shout", service: "shouter", after: ["write"] }]);
  });

  it("asks the peer to quote its steps for the run's expected duration, and adds what the steps here are quoted, per currency", () => {
    assert.deepEqual(quoteRequest({ ...run, spec: { ...run.spec, expectedDuration: "30m" } }, wholeRun(run), "shared"), { namespace: "shared", steps: [{ name: "write", service: "writer" }], expectedDuration: "30m" });
    const peer = { priced: true, totals: [{ amount: "0.11", currency: "EUR" }], message: "0.11 EUR for 1 step(s)" };
    const here = { priced: true as const, totals: [{ amount: "0.25", currency: "EUR" }, { amount: "3", currency: "JPY" }], message: "here", plans: [] };
    const both = combineQuotes([{ answer: peer, cluster: "isle-2" }], here);
    assert.deepEqual(both.priced && both.totals, [{ amount: "0.36", currency: "EUR" }, { amount: "3", currency: "JPY" }]);
    assert.match(both.message, /^0\.36 EUR \+ 3 JPY \(peer isle-2: 0\.11 EUR for 1 step\(s\); here: here\)$/);
    const alone = combineQuotes([{ answer: peer, cluster: "isle-2" }], undefined);
    assert.deepEqual(alone.priced && alone.totals, [{ amount: "0.11", currency: "EUR" }]);
    // A part that cannot be quoted leaves the run unquoted (a budget then refuses it, naming why).
    const unpriced = combineQuotes([{ answer: peer, cluster: "isle-3" }, { answer: { priced: false, totals: [], message: "step write: no Price applies" }, cluster: "isle-2" }], here);
    assert.deepEqual([unpriced.priced, unpriced.message], [false, "peer isle-2 cannot quote its steps: step write: no Price applies"]);
    assert.equal(combineQuotes([{ answer: peer, cluster: "isle-2" }], { priced: false, message: "no Price here" }).priced, false);
    const two = combineQuotes([{ answer: peer, cluster: "isle-2" }, { answer: { priced: true, totals: [{ amount: "0.20", currency: "EUR" }], message: "0.20 EUR for 1 step(s)" }, cluster: "isle-3" }], here);
    assert.deepEqual(two.priced && two.totals, [{ amount: "0.56", currency: "EUR" }, { amount: "3", currency: "JPY" }]);
    assert.match(two.message, /\(peer isle-2: 0\.11 EUR for 1 step\(s\); peer isle-3: 0\.20 EUR for 1 step\(s\); here: here\)$/);
  });

  describe("several peers: every hold admitted before any is confirmed, one refused releases all", () => {
    const hold = (state: string): PeerReservationAnswer => ({ namespace: "s", name: `h-${state}`, state });
    const part = (cluster: string, reservation?: PeerReservationAnswer, remote?: PeerRunAnswer): PartState => ({ cluster, reservation, run: remote, submitted: remote !== undefined });
    const kinds = (parts: PartState[]): string[] => groupActions(parts).map((a) => a.kind);

    it("confirms no hold until every peer has admitted its own, and sends no step until every hold is confirmed", () => {
      assert.deepEqual(kinds([part("b"), part("c")]), ["reserve", "reserve"]);
      assert.deepEqual(kinds([part("b", hold("Tentative")), part("c")]), ["wait", "reserve"]);
      const waiting = groupActions([part("b", hold("Tentative")), part("c", hold("Pending"))]);
      assert.deepEqual(waiting.map((a) => a.kind), ["wait", "wait"]);
      assert.match(waiting[0]?.kind === "wait" ? waiting[0].message : "", /^waiting for c to admit the run's hold before confirming this hold/);
      assert.deepEqual(kinds([part("b", hold("Tentative")), part("c", hold("Tentative"))]), ["confirm", "confirm"]);
      assert.deepEqual(kinds([part("b", hold("Confirmed")), part("c", hold("Tentative"))]), ["wait", "confirm"]);
      assert.deepEqual(kinds([part("b", hold("Confirmed")), part("c", hold("Confirmed"))]), ["submit", "submit"]);
      // A peer slow to answer the submission does not hold the others back once they run.
      assert.deepEqual(kinds([part("b", hold("Active"), answer({ phase: "Running" })), part("c", hold("Confirmed"))]), ["follow", "submit"]);
    });

    it("releases every other hold when one peer rejects its own or lets it expire, before anything is sent", () => {
      const actions = groupActions([part("b", hold("Tentative")), part("c", hold("Rejected")), part("d")]);
      assert.deepEqual(actions.map((a) => a.kind), ["abandon", "fail", "abandon"]);
      assert.match(actions[0]?.kind === "abandon" ? actions[0].message : "", /^peer c's part failed/);
      assert.deepEqual(kinds([part("b", hold("Confirmed")), part("c", hold("Expired"))]), ["abandon", "fail"]);
    });

    it("cancels the other parts when one peer's run fails, and lets a finished part give its hold back", () => {
      const failed = part("c", hold("Active"), answer({ phase: "Failed" }));
      assert.deepEqual(kinds([part("b", hold("Active"), answer({ phase: "Running" })), failed]), ["abandon", "release"]);
      assert.deepEqual(kinds([part("b", hold("Active"), answer({ phase: "Succeeded" })), failed]), ["release", "release"]);
      assert.deepEqual(kinds([part("b", hold("Released"), answer({ phase: "Succeeded" })), part("c", hold("Released"), answer({ phase: "Failed" }))]), ["done", "done"]);
      // One peer alone: as before.
      assert.deepEqual(kinds([part("b", hold("Rejected"))]), ["fail"]);
    });

    it("reads the parts as one run: failed naming the failing part, succeeded when all have, else what is awaited", () => {
      const onB = observePeerRun(plan, site, answer({ phase: "Running", startedAt: "2026-12-02T10:00:00Z", steps: [{ name: "write", phase: "Running" }] }));
      const cPlan: StepPlacement[] = [{ step: "tag", site: { kind: "peer", peer: "oslo" }, reason: "Explicit" }];
      const cSite = { peer: "oslo", cluster: "isle-3" };
      const onC = observePeerRun(cPlan, cSite, undefined, "waiting for isle-2");
      const running = observeParts([onB, onC], ["isle-2", "isle-3"]);
      assert.deepEqual([running.phase, running.progress, running.steps.map((s) => `${s.name}@${s.cluster ?? ""}`)], ["Running", "0/2", ["write@isle-2", "tag@isle-3"]]);
      assert.equal(running.succeeded.message, "waiting for isle-2");
      const refused = failedPeerRun(cPlan, cSite, { reason: "ReservationRejected", message: "the peer's reservation h is Rejected", at: "2026-12-02T10:01:00Z" });
      const failed = observeParts([onB, refused], ["isle-2", "isle-3"]);
      assert.deepEqual([failed.phase, failed.succeeded.status, failed.succeeded.reason, failed.finishedAt], ["Failed", "False", "ReservationRejected", "2026-12-02T10:01:00Z"]);
      const done = (p: StepPlacement[], s: typeof site, name: string): ReturnType<typeof observePeerRun> =>
        observePeerRun(p, s, answer({ phase: "Succeeded", finishedAt: `2026-12-02T10:0${name === "write" ? 2 : 3}:00Z`, steps: [{ name, phase: "Succeeded" }], outputs: [{ name: `${name}_out`, location: `s3://b/${name}` }] }));
      const all = observeParts([done(plan, site, "write"), done(cPlan, cSite, "tag")], ["isle-2", "isle-3"]);
      assert.deepEqual([all.phase, all.progress, all.finishedAt, all.outputs?.map((o) => o.name)], ["Succeeded", "2/2", "2026-12-02T10:03:00Z", ["write_out", "tag_out"]]);
      assert.equal(all.succeeded.message, "all 2 steps succeeded on peers isle-2, isle-3");
      assert.equal(observeParts([onB], ["isle-2"]), onB, "one part is the run");
    });
  });

  it("holds what the steps request (as the peer's quote sums them) plus the default as room for Argo's own containers", () => {
    assert.deepEqual(reservationSize(defaultPeerRunSettings, undefined), { cpu: "1", memory: "1Gi" });
    assert.deepEqual(reservationSize(defaultPeerRunSettings, { cpu: "2100m", memory: "1636Mi" }), { cpu: "3100m", memory: "2660Mi" });
    const r = reservationRequest(run, "shared", Date.parse("2026-12-02T10:00:00Z"), { settings: defaultPeerRunSettings, steps: { cpu: "4", memory: "8Gi" } });
    assert.deepEqual([r.cpu, r.memory], ["5", "9Gi"]);
  });

  describe("a fresh round of holds", () => {
    const part = (state: string | undefined, extra: Partial<PartState> = {}): PartState => ({ cluster: "x", reservation: state ? { namespace: "n", name: `h-${state}`, state } : undefined, run: undefined, submitted: false, ...extra });

    it("follows a hold that lapsed, while rounds are left", () => {
      assert.equal(freshRound([part("Tentative"), part("Expired")], 1)?.lapsed.reservation?.state, "Expired");
      assert.ok(freshRound([part("Pending"), part("Expired")], 2));
      assert.equal(freshRound([part("Pending"), part("Expired")], maxHoldRounds), undefined, "no rounds left");
    });

    it("never follows a refusal, a run already sent, or holds that are all fine", () => {
      assert.equal(freshRound([part("Rejected"), part("Expired")], 1), undefined, "a peer's verdict stands");
      assert.equal(freshRound([part("Expired"), part("Confirmed", { submitted: true })], 1), undefined);
      assert.equal(freshRound([part("Expired"), part("Confirmed", { run: { namespace: "n", name: "r", phase: "Running", steps: [], outputs: [] } })], 1), undefined);
      assert.equal(freshRound([part("Tentative"), part("Pending")], 1), undefined);
    });

    it("asks later rounds' holds under other names (a lapsed hold is not found again by name), the first as before", () => {
      const run = { metadata: { name: "fan", uid: "u-1" }, spec: { steps: [] } } as unknown as PipelineRun;
      assert.equal(requestedName(run, 1), requestedName(run));
      assert.notEqual(requestedName(run, 2), requestedName(run));
      assert.notEqual(requestedName(run, 3), requestedName(run, 2));
    });
  });
});
