// Asks the clusters that could run a run's Auto steps what they would do (autoPlacement.ts ranks
// the answers). This cluster answers from its own caches: its services, its Prices, its compute
// Providers' free capacity. A peer answers a signed quote (/federation/v1/quotes: its rates for us,
// the steps' requests, its free capacity); asking holds nothing. The candidates: Accepted peers
// with a verified descriptor that are Connected now, at most maxPeersAsked of them (the most
// trusted), asked at once, each within the client's deadline.
import { largestFree } from "../catalog/computeCapacity.ts";
import { peakRequests } from "../compute/concurrentPeak.ts";
import type { ReconcileContext } from "../runtime/index.ts";
import { errorMessage } from "../runtime/errors.ts";
import { present } from "../runtime/present.ts";
import type { Peer } from "../schema/peer.ts";
import type { PipelineRun, PipelineRunSpec, PipelineStep } from "../schema/pipelineRun.ts";
import type { Price } from "../schema/price.ts";
import type { Provider } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import type { AutoChoice, AutoOffer, AutoPin, AutoRules } from "./autoPlacement.ts";
import { autoGroups, chooseAutoSite, rankedByAuto, refusedHold } from "./autoPlacement.ts";
import { type PeerEndpoint, PeerRefusal, type PeerRunsClient } from "./peerClient.ts";
import { minTrustOf, type PeerRunSettings, peerNamespace, quoteRequest, reservationSize } from "./peerRun.ts";
import { peerEndpoint } from "./peerSteps.ts";
import { type ServiceProcess, upstreamOf } from "./pipelineWorkflow.ts";
import type { StepSite } from "./placement.ts";
import { RunReason } from "./reasons.ts";
import { requestsOf, runQuote } from "./runQuote.ts";
import type { Blocked } from "./serviceResolution.ts";

/** Peers asked at most, per run: a federation of hundreds is not asked all at once. */
export const maxPeersAsked = 16;

export interface AutoSurveyDeps {
  client: PeerRunsClient;
  settings: PeerRunSettings;
  now: () => Date;
  /** The caches the survey reads (registered by the controller so that they have synced). */
  peers: (ctx: ReconcileContext) => Peer[];
  services: (ctx: ReconcileContext, namespace: string, name: string) => Resource | undefined;
  prices: (ctx: ReconcileContext) => Price[];
  providers: (ctx: ReconcileContext, namespace: string) => Provider[];
  /** This cluster's services of the steps, loaded (or why one cannot be). */
  load: (ctx: ReconcileContext, run: PipelineRun, steps: PipelineStep[]) => Promise<Map<string, ServiceProcess> | Blocked>;
}

const connected = (p: Peer): boolean => p.spec.approval === "Accepted" && p.status?.reachability === "Connected";

/** The steps among `steps` whose outputs `step` reads: it never runs at the same time as them (the hold is sized by the widest moment). */
function afterOf(step: PipelineStep, steps: readonly PipelineStep[]): string[] {
  const names = new Set(steps.map((s) => s.name));
  return upstreamOf(step).filter((n) => names.has(n));
}

interface DataRead {
  resource: string;
  peer?: string;
}

/** The data Resource the steps read (a pipeline input bound to one), if any. */
function dataRead(run: PipelineRun, steps: readonly PipelineStep[]): DataRead | undefined {
  const read = new Set(steps.flatMap((s) => Object.values(s.in ?? {}).filter((source) => !source.includes("/"))));
  const bound = (run.spec.inputs ?? []).find((i) => read.has(i.name));
  return bound && { resource: bound.resourceRef.name, ...present({ peer: bound.resourceRef.peer }) };
}

/** The peers of the steps placed there that the Auto steps read, or that read them. */
function wiredPeers(spec: PipelineRunSpec, autoSteps: readonly PipelineStep[], others: readonly { step: string; site: StepSite }[]): string[] {
  const auto = new Set(autoSteps.map((s) => s.name));
  const peerOf = new Map(others.flatMap((o) => (o.site.kind === "peer" ? [[o.step, o.site.peer] as const] : [])));
  const wired = new Set<string>();
  for (const step of spec.steps) {
    for (const from of upstreamOf(step)) {
      const peer = auto.has(step.name) ? peerOf.get(from) : auto.has(from) ? peerOf.get(step.name) : undefined;
      if (peer !== undefined) wired.add(peer);
    }
  }
  return [...wired];
}

export function createAutoSurvey(deps: AutoSurveyDeps): {
  /** The Auto steps of the run (none: nothing to rank). */
  steps(run: PipelineRun): PipelineStep[];
  /** The pins for the Auto steps, or why no cluster can take them. */
  place(ctx: ReconcileContext, run: PipelineRun, others: readonly { step: string; site: StepSite }[]): Promise<{ pins: AutoPin[] } | Blocked>;
} {
  async function localOffer(ctx: ReconcileContext, run: PipelineRun, steps: PipelineStep[]): Promise<AutoOffer> {
    const label = "this cluster";
    const namespace = run.metadata.namespace ?? "";
    const loaded = await deps.load(ctx, run, steps);
    if (!(loaded instanceof Map)) return { site: { kind: "local" }, label, unavailable: loaded.message };
    const quoted = steps.flatMap((s) => {
      const service = deps.services(ctx, namespace, s.serviceRef.name);
      const process = loaded.get(s.name)?.process;
      return service && process ? [{ step: s.name, service, process }] : [];
    });
    const quote = runQuote(run, quoted, deps.prices(ctx), deps.now());
    const requests = peakRequests(quoted.map((q) => ({ name: q.step, requests: requestsOf(q.process), after: afterOf(steps.find((s) => s.name === q.step)!, steps) })));
    const free = largestFree(deps.providers(ctx, namespace));
    return { site: { kind: "local" }, label, needs: reservationSize(deps.settings, requests), ...present({ quote: quote.priced ? quote.totals : undefined, free }) };
  }

  /** Where the peer's answer says the steps could run: its quote, what they need there, its room. */
  async function quotedBy(run: PipelineRun, steps: PipelineStep[], ep: PeerEndpoint): Promise<Pick<AutoOffer, "unavailable" | "quote" | "needs" | "free">> {
    const namespace = peerNamespace({ ...run, spec: { ...run.spec, steps } });
    if (typeof namespace !== "string") return { unavailable: namespace.message };
    try {
      const answer = await deps.client.quote(ep, quoteRequest(run, { steps, outputs: [] }, namespace));
      return { needs: reservationSize(deps.settings, answer.requests), ...present({ quote: answer.priced ? answer.totals : undefined, free: answer.free }) };
    } catch (err) {
      return { unavailable: err instanceof PeerRefusal && err.status === 404 ? `does not offer us ${steps.map((s) => s.serviceRef.name).join(", ")}` : errorMessage(err) };
    }
  }

  async function peerOffer(run: PipelineRun, steps: PipelineStep[], peer: Peer): Promise<AutoOffer> {
    const name = peer.metadata.name ?? "";
    const ep = peerEndpoint(peer, name);
    const known = { site: { kind: "peer" as const, peer: name }, ...present({ trust: peer.status?.trust?.score }) };
    if ("message" in ep) return { ...known, label: `peer ${name}`, unavailable: ep.message };
    // Not asked again: it would likely say yes to a quote and no to the hold once more.
    const refused = refusedHold(run.status?.autoRefused, name);
    if (refused) return { ...known, label: `peer ${name} (${ep.cluster})`, unavailable: refused };
    return { ...known, label: `peer ${name} (${ep.cluster})`, ...(await quotedBy(run, steps, ep)) };
  }

  /** This cluster's offer, unless the steps read a peer's data (read on its own cluster). */
  function hereOffer(ctx: ReconcileContext, run: PipelineRun, steps: PipelineStep[], data: DataRead | undefined): Promise<AutoOffer> {
    if (!data?.peer) return localOffer(ctx, run, steps);
    return Promise.resolve({ site: { kind: "local" }, label: "this cluster", unavailable: `the steps read data Resource ${data.resource} of peer ${data.peer} (data is read on its own cluster)` });
  }

  /**
   * The peers asked: none when the steps read this cluster's data; only the data's peer; only the
   * peer of the steps they are wired to (a step on a peer reads only steps on that peer), none when
   * wired to several; else every candidate.
   */
  function peersAsked(ctx: ReconcileContext, data: DataRead | undefined, wired: string[]): Peer[] {
    if (data && data.peer === undefined) return [];
    if (data?.peer) return candidatePeers(ctx, data.peer);
    if (wired.length > 1) return [];
    return candidatePeers(ctx, wired[0]);
  }

  /** The peers worth asking: Connected and Accepted, the most trusted first; only `only` when the run already uses a peer. */
  function candidatePeers(ctx: ReconcileContext, only: string | undefined): Peer[] {
    const peers = deps.peers(ctx).filter((p) => connected(p) && (only === undefined || p.metadata.name === only));
    return peers.sort((a, b) => (b.status?.trust?.score ?? 0) - (a.status?.trust?.score ?? 0) || (a.metadata.name ?? "").localeCompare(b.metadata.name ?? "")).slice(0, maxPeersAsked);
  }

  /** One group of Auto steps (wired to each other) ranked among the clusters that could take it. */
  async function placeGroup(ctx: ReconcileContext, run: PipelineRun, steps: PipelineStep[], others: readonly { step: string; site: StepSite }[]): Promise<AutoChoice> {
    const data = dataRead(run, steps);
    const [here, ...there] = await Promise.all([hereOffer(ctx, run, steps, data), ...peersAsked(ctx, data, wiredPeers(run.spec, steps, others)).map((p) => peerOffer(run, steps, p))]);
    const rules: AutoRules = present({ minTrust: minTrustOf(run, { steps, outputs: [] }), currency: run.spec.budget?.currency });
    return chooseAutoSite([here!, ...there], rules);
  }

  return {
    steps: (run) => run.spec.steps.filter((s) => rankedByAuto(run.spec, s)),

    async place(ctx, run, others) {
      const groups = autoGroups(run.spec.steps.filter((s) => rankedByAuto(run.spec, s)));
      const pins: AutoPin[] = [];
      for (const steps of groups) {
        const placed = await placeGroup(ctx, run, steps, others);
        if (!placed.ok) {
          const which = groups.length > 1 ? `Auto, for ${steps.map((s) => s.name).join(", ")}: ` : "Auto: ";
          return { reason: RunReason.NoPlacement, message: placed.message.replace(/^Auto: /, which) };
        }
        const peer = placed.site.kind === "peer" ? placed.site.peer : undefined;
        pins.push(...steps.map((s) => ({ step: s.name, reason: placed.reason, ...present({ peer }) })));
      }
      return { pins };
    },
  };
}
