import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { PeerRunAnswer } from "../federation/peerRuns.ts";
import type { PipelineRun } from "../schema/pipelineRun.ts";
import type { Peer } from "../schema/peer.ts";
import { combineQuotes, defaultPeerRunSettings, failedPeerRun, minTrustOf, quoteRequest, reservationSize, keptObservation, nextPeerAction, observePeerRun, peerNamespace, requestedName, reservationRequest, runRequest, trustRefusal, wholeRun } from "./peerRun.ts";
import type { StepPlacement } from "./placement.ts";

const run: PipelineRun = {
  apiVersion: "archipel.io/v1alpha1",
  kind: "PipelineRun",
  metadata: { name: "greet", namespace: "team", uid: "0b6f6c9e-1" },
  spec: { steps: [{ name: "write", serviceRef: { name: "writer", peer: "lyon", namespace: "shared" }, in: { message: "greeting" } }], job: { greeting: "hi" }, outputs: [{ name: "result", source: "write/out" }] },
};
const plan: StepPlacement[] = [{ step: "write", site: { kind: "peer", peer: "lyon" }, reason: "Local: the service writer is on peer lyon" }];
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
    const both = combineQuotes(peer, here, "isle-2");
    assert.deepEqual(both.priced && both.totals, [{ amount: "0.36", currency: "EUR" }, { amount: "3", currency: "JPY" }]);
    assert.match(both.message, /^0\.36 EUR \+ 3 JPY \(peer isle-2: 0\.11 EUR for 1 step\(s\); here: here\)$/);
    const alone = combineQuotes(peer, undefined, "isle-2");
    assert.deepEqual(alone.priced && alone.totals, [{ amount: "0.11", currency: "EUR" }]);
    // A part that cannot be quoted leaves the run unquoted (a budget then refuses it, naming why).
    const unpriced = combineQuotes({ priced: false, totals: [], message: "step write: no Price applies" }, here, "isle-2");
    assert.deepEqual([unpriced.priced, unpriced.message], [false, "peer isle-2 cannot quote its steps: step write: no Price applies"]);
    assert.equal(combineQuotes(peer, { priced: false, message: "no Price here" }, "isle-2").priced, false);
  });

  it("holds what the steps request (as the peer's quote sums them) plus the default as room for Argo's own containers", () => {
    assert.deepEqual(reservationSize(defaultPeerRunSettings, undefined), { cpu: "1", memory: "1Gi" });
    assert.deepEqual(reservationSize(defaultPeerRunSettings, { cpu: "2100m", memory: "1636Mi" }), { cpu: "3100m", memory: "2660Mi" });
    const r = reservationRequest(run, "shared", Date.parse("2026-12-02T10:00:00Z"), { settings: defaultPeerRunSettings, steps: { cpu: "4", memory: "8Gi" } });
    assert.deepEqual([r.cpu, r.memory], ["5", "9Gi"]);
  });
});
