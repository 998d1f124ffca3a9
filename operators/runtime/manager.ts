// The Manager runs a set of controllers in one process: one shared informer per watched kind,
// leader election (only the leader runs controllers; every replica keeps warm caches), the
// /metrics, /healthz and /readyz endpoints, and a graceful stop.
// Losing the Lease aborts every in-flight reconcile (ReconcileContext.signal) and waits for them,
// at most until the Lease could pass to another replica; only then may this replica campaign
// again. A reconcile that ignores the abort past that point ends the process (controller-runtime
// exits on a lost Lease), so no key is ever reconciled by two replicas, or two runs, at once.
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Cache, KindRef } from "./cache.ts";
import { Controller, type ControllerOptions } from "./controller.ts";
import { readiness, serveEndpoints, type Endpoint, type ProbeServer } from "./health.ts";
import { apiListWatch, Informer } from "./informer.ts";
import { LeaderElector, type LeaderElectionOptions } from "./leaderElection.ts";
import { createLogger, type Logger } from "./logger.ts";
import { RuntimeMetrics } from "./metrics.ts";

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger?: Logger;
  /** false (or absent) runs controllers at once, as the only replica. */
  leaderElection?: LeaderElectionOptions | false;
  /** Port of /metrics (0 = any free port; absent = not served). */
  metricsPort?: number;
  /** Port of /healthz and /readyz (0 = any free port; absent = not served). May equal metricsPort. */
  healthPort?: number;
  /** Watch only this namespace (cluster-scoped kinds are still watched cluster-wide). Default: all. */
  namespace?: string;
  /** Address the HTTP endpoints listen on (default 0.0.0.0). */
  bindAddress?: string;
  /** How long stop() waits for in-flight reconciles (default 30 s; the pod's grace period must be longer). */
  shutdownTimeoutMs?: number;
  /**
   * Called when the Lease was lost and reconciles did not return before another replica could
   * lead. Default: log and exit the process (status 1), as controller-runtime does. A hook that
   * returns makes the Manager wait for those reconciles, however long, before campaigning again.
   */
  onReconcilesOutlivedLease?: () => void;
  /** Back-off of a failing list/watch (default 1 s doubling to 30 s). */
  informerBackoff?: { baseMs: number; maxMs: number };
}

/** stop()'s default bound on in-flight reconciles; config/manager's terminationGracePeriodSeconds exceeds it. */
export const defaultShutdownTimeoutMs = 30_000;

function kindId(kind: KindRef): string {
  return kind.group ? `${kind.plural}.${kind.group}` : kind.plural;
}

export class Manager {
  readonly kubeConfig: KubeConfig;
  readonly client: KubernetesObjectApi;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  private readonly opts: ManagerOptions;
  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  private readonly controllers: Controller[] = [];
  private readonly elector: LeaderElector | undefined;
  private readonly leaseName: string;
  private servers: ProbeServer[] = [];
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private leading = false;
  /** Leadership changes run one after another, so a controller never runs twice at once. */
  private transitions: Promise<void> = Promise.resolve();
  metricsUrl: string | undefined;
  healthUrl: string | undefined;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.kubeConfig = opts.kubeConfig;
    this.client = KubernetesObjectApi.makeApiClient(opts.kubeConfig);
    this.logger = opts.logger ?? createLogger("manager");
    this.metrics = new RuntimeMetrics();
    const le = opts.leaderElection;
    this.leaseName = le ? le.leaseName : "none";
    this.metrics.leaderStatus.set({ name: this.leaseName }, 0);
    if (le) {
      const identity = le.identity ?? `${hostname()}_${randomUUID()}`;
      let observedLeader: string | undefined; // a follower sees the holder on every retry: log changes only
      this.elector = new LeaderElector(this.kubeConfig, { ...le, identity }, {
        logger: this.logger,
        callbacks: {
          onStartedLeading: () => this.setLeading(true),
          onStoppedLeading: () => this.loseLeadership(),
          onLeaderObserved: (holder) => {
            if (holder !== observedLeader) this.logger.info("another replica leads", { leader: holder });
            observedLeader = holder;
          },
        },
      });
    }
  }

  /** Registers a controller; its kinds' informers start with the Manager (or at once if it runs). */
  add(options: ControllerOptions): void {
    if (this.controllers.some((c) => c.name === options.name)) throw new Error(`controller "${options.name}" is added twice: names must be unique`);
    const controller = new Controller(options, {
      informer: (kind) => this.informer(kind),
      cache: <T>(kind: KindRef) => this.cache<T>(kind),
      client: this.client,
      logger: this.logger,
      metrics: this.metrics,
    });
    this.controllers.push(controller);
    if (this.leading) this.transition(() => this.startWhenSynced([controller]));
  }

  /** The informer cache of `kind` (created on first use; reads never go to the API server). */
  cache<T>(kind: KindRef): Cache<T> {
    return this.informer(kind).store as unknown as Cache<T>;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** True when every informer has loaded its initial list. */
  cachesSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  /** Starts informers, endpoints and the election; resolves once they run (not when stopped). */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`manager cannot start: it is ${this.state}`);
    this.state = "running";
    await this.serve();
    for (const informer of this.informers.values()) informer.start();
    if (this.elector) this.elector.start();
    else this.setLeading(true);
  }

  /**
   * Stops taking work, aborts and waits for in-flight reconciles (bounded), releases the Lease
   * (only if they all returned: otherwise it is left to expire, so nobody leads beside them),
   * stops informers.
   */
  async stop(): Promise<void> {
    if (this.state !== "running") return;
    this.state = "stopping";
    this.leading = false;
    await this.transitions;
    const drained = await this.stopControllers(this.opts.shutdownTimeoutMs ?? defaultShutdownTimeoutMs);
    await this.elector?.stop({ release: drained });
    this.metrics.leaderStatus.set({ name: this.leaseName }, 0);
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await Promise.all(this.servers.map((s) => s.close()));
    this.servers = [];
    this.state = "stopped";
    this.logger.info("manager stopped");
  }

  private informer(kind: KindRef): Informer<KubernetesObject> {
    const id = kindId(kind);
    let informer = this.informers.get(id);
    if (!informer) {
      informer = new Informer<KubernetesObject>({
        name: id,
        source: apiListWatch(this.kubeConfig, kind, this.opts.namespace),
        logger: this.logger,
        ...(this.opts.informerBackoff ? { backoffBaseMs: this.opts.informerBackoff.baseMs, backoffMaxMs: this.opts.informerBackoff.maxMs } : {}),
      });
      this.informers.set(id, informer);
      if (this.state === "running") informer.start();
    }
    return informer;
  }

  private setLeading(leading: boolean): void {
    if (this.state !== "running") return;
    this.leading = leading;
    this.metrics.leaderStatus.set({ name: this.leaseName }, leading ? 1 : 0);
    if (leading) this.transition(() => this.startWhenSynced(this.controllers));
  }

  /**
   * The elector lost the Lease: abort every reconcile and wait for them until the Lease could
   * pass to another replica. The elector campaigns again only after this returns.
   */
  private async loseLeadership(): Promise<void> {
    if (this.state !== "running") return;
    this.leading = false;
    this.metrics.leaderStatus.set({ name: this.leaseName }, 0);
    const budgetMs = (this.elector?.leaseExpiresAtMs() ?? Date.now()) - Date.now();
    let drained = false;
    this.transition(async () => void (drained = await this.stopControllers(budgetMs)));
    await this.transitions;
    if (drained) {
      this.logger.info("lost the lease: every reconcile returned; campaigning again");
      return;
    }
    this.logger.error("lost the lease and reconciles did not return before another replica may lead", { budgetMs });
    const hook = this.opts.onReconcilesOutlivedLease ?? ((): never => process.exit(1));
    hook();
    await this.stopControllers(Infinity);
  }

  /** Stops every controller; true when all their reconciles returned within `timeoutMs`. */
  private async stopControllers(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.controllers.map((c) => c.stop(timeoutMs)));
    return results.every(Boolean);
  }

  private transition(step: () => Promise<void>): void {
    this.transitions = this.transitions.then(step).catch((err: unknown) => void this.logger.error("leadership transition failed", { error: String(err) }));
  }

  /**
   * Starts controllers once every cache has its initial list (controller-runtime's
   * WaitForCacheSync): their own kinds and every kind asked for with cache() so far.
   */
  private async startWhenSynced(controllers: Controller[]): Promise<void> {
    for (const kind of controllers.flatMap((c) => c.kinds())) this.informer(kind);
    const informers = [...this.informers.values()];
    while (!informers.every((i) => i.hasSynced())) {
      if (!this.leading || this.state !== "running") return;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!this.leading || this.state !== "running") return;
    for (const c of controllers) c.start();
  }

  private async serve(): Promise<void> {
    const host = this.opts.bindAddress;
    const metricsRoute: Record<string, Endpoint> = {
      "/metrics": async () => ({ status: 200, body: await this.metrics.registry.metrics(), contentType: this.metrics.registry.contentType }),
    };
    const healthRoutes: Record<string, Endpoint> = {
      "/healthz": () => ({ status: 200, body: "ok\n" }),
      "/readyz": () => this.readiness(),
    };
    const { metricsPort, healthPort } = this.opts;
    if (metricsPort !== undefined && metricsPort === healthPort && metricsPort !== 0) {
      const s = await serveEndpoints(metricsPort, { ...metricsRoute, ...healthRoutes }, host);
      this.servers.push(s);
      this.metricsUrl = this.healthUrl = s.url;
      return;
    }
    if (metricsPort !== undefined) this.metricsUrl = (await this.track(serveEndpoints(metricsPort, metricsRoute, host))).url;
    if (healthPort !== undefined) this.healthUrl = (await this.track(serveEndpoints(healthPort, healthRoutes, host))).url;
  }

  private async track(server: Promise<ProbeServer>): Promise<ProbeServer> {
    const s = await server;
    this.servers.push(s);
    return s;
  }

  /** Ready when every cache has synced; a replica that is not the leader is ready too. */
  private readiness(): ReturnType<typeof readiness> {
    const checks: Record<string, boolean> = { running: this.state === "running" };
    for (const [id, informer] of this.informers) checks[`cache/${id}`] = informer.hasSynced();
    return readiness(checks);
  }
}
