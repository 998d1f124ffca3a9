// One informer per watched kind: list, then watch from the list's resourceVersion; resume a broken
// watch from the last resourceVersion seen; relist on 410 Gone; on any other error retry with
// exponential back-off (client-node's own ListWatch stops for good on such errors). The loop is
// written against a ListWatchSource so it can be tested without a server; apiListWatch is the
// real source (plain JSON from the API server, the same shape for list items and watch events).
import {
  ApiException,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  RequestContext,
  Watch,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Logger } from "./logger.ts";
import { exponentialDelay } from "./backoff.ts";
import { Store, type KindRef } from "./cache.ts";
import { slimForCache } from "./cacheTransform.ts";

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchHandle {
  abort(): void;
}

export interface ListWatchSource<T> {
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /** Opens a watch; `onDone` is called exactly once when it ends (null: closed normally). */
  watch(resourceVersion: string, onEvent: (type: WatchEventType, obj: T) => void, onDone: (err: unknown) => void): Promise<WatchHandle>;
}

export interface InformerHandlers<T> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, current: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T> {
  name: string;
  source: ListWatchSource<T>;
  logger: Logger;
  /** Back-off after errors: first delay and cap (defaults 1 s and 30 s, like client-node's reconnect). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /**
   * Applied to every object before it is stored, from list results and watch events alike
   * (client-go's TransformFunc; it may change the object in place). Default: slimForCache.
   */
  transform?: (obj: T) => T;
}

/** 410 Gone: the resourceVersion is too old to resume from; only a relist helps. */
export function isGone(err: unknown): boolean {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  return e?.code === 410 || e?.statusCode === 410;
}

const quickCloseMs = 1000;

class WatchEventError extends Error {
  readonly code: number | undefined;
  constructor(status: { code?: number; reason?: string; message?: string }) {
    super(`watch ERROR event: ${status.code ?? "?"} ${status.reason ?? ""}: ${status.message ?? "no message"}`);
    this.code = status.code;
  }
}

export class Informer<T extends KubernetesObject> {
  readonly store = new Store<T>();
  readonly name: string;
  private readonly source: ListWatchSource<T>;
  private readonly logger: Logger;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly transform: (obj: T) => T;
  private rv = "";
  private failures = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly stopping: Promise<void>;
  private signalStop: () => void = () => {};
  private currentWatch: WatchHandle | undefined;
  private wakeSleep: (() => void) | undefined;
  /** How often the loop recovered from an error (a broken watch, a failed list). */
  restarts = 0;
  relists = 0;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.source = opts.source;
    this.logger = opts.logger;
    this.baseMs = opts.backoffBaseMs ?? 1000;
    this.maxMs = opts.backoffMaxMs ?? 30_000;
    this.transform = opts.transform ?? slimForCache;
    this.stopping = new Promise<void>((resolve) => (this.signalStop = resolve));
  }

  addHandlers(h: InformerHandlers<T>): void {
    this.handlers.push(h);
    // A handler added late still hears about everything already cached, as in client-go.
    for (const obj of this.store.list()) this.emit("onAdd", obj);
  }

  hasSynced(): boolean {
    return this.store.hasSynced();
  }

  resourceVersion(): string {
    return this.rv;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    this.abort.abort();
    this.currentWatch?.abort();
    this.wakeSleep?.();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.rv) await this.relist();
        if (this.stopped) break;
        // client-node's Watch cannot be aborted before the response headers arrive (it hands
        // out its AbortController only then): stop does not wait for such a watch, which is
        // aborted as soon as it opens.
        await Promise.race([this.watchOnce(), this.stopping]);
      } catch (err) {
        await this.recover(err);
      }
    }
  }

  private async recover(err: unknown): Promise<void> {
    if (this.stopped) return;
    if (isGone(err)) {
      this.logger.info("resourceVersion expired (410 Gone): relisting", { informer: this.name, resourceVersion: this.rv });
      this.rv = "";
      return;
    }
    this.failures++;
    this.restarts++;
    const delayMs = exponentialDelay(this.failures, this.baseMs, this.maxMs);
    this.logger.warn("list/watch failed: retrying", { informer: this.name, error: String(err), retryInMs: delayMs, resumeFrom: this.rv || "relist" });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      this.wakeSleep = (): void => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeSleep = undefined;
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.source.list(this.abort.signal);
    if (this.stopped) return;
    this.relists++;
    const change = this.store.replace(items.map(this.transform));
    this.rv = resourceVersion;
    this.failures = 0;
    for (const obj of change.added) this.emit("onAdd", obj);
    for (const u of change.updated) this.emit("onUpdate", u.old, u.current);
    for (const obj of change.deleted) this.emit("onDelete", obj);
  }

  private watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let eventError: unknown;
      let events = 0;
      const openedAt = Date.now();
      const onDone = (err: unknown): void => {
        this.currentWatch = undefined;
        const failure = eventError ?? err;
        if (failure && !(failure instanceof Error && failure.name === "TimeoutError")) reject(failure);
        // A watch the server ends at once, with nothing in it, would otherwise be reopened in a tight loop.
        else if (events === 0 && Date.now() - openedAt < quickCloseMs && !this.stopped) reject(new Error("watch closed at once without events"));
        else resolve();
      };
      const onEvent = (type: WatchEventType, obj: T): void => {
        events++;
        if (type === "ERROR") {
          eventError = new WatchEventError(obj as { code?: number });
          this.currentWatch?.abort();
          return;
        }
        this.apply(type, obj);
      };
      this.source.watch(this.rv, onEvent, onDone).then(
        (handle) => {
          this.currentWatch = handle;
          if (this.stopped) handle.abort();
        },
        reject,
      );
    });
  }

  private apply(type: WatchEventType, obj: T): void {
    this.rv = obj.metadata?.resourceVersion ?? this.rv;
    this.failures = 0;
    if (type === "DELETED") {
      if (this.store.remove(obj)) this.emit("onDelete", obj);
      return;
    }
    if (type === "BOOKMARK") return;
    const slim = this.transform(obj);
    const previous = this.store.upsert(slim);
    if (previous === null) this.emit("onAdd", slim);
    else if (previous !== "unchanged") this.emit("onUpdate", previous, slim);
  }

  private emit(event: "onAdd" | "onDelete", obj: T): void;
  private emit(event: "onUpdate", old: T, current: T): void;
  private emit(event: keyof InformerHandlers<T>, a: T, b?: T): void {
    for (const h of this.handlers) {
      try {
        if (event === "onUpdate") h.onUpdate?.(a, b ?? a);
        else h[event]?.(a);
      } catch (err) {
        this.logger.error("informer event handler threw", { informer: this.name, event, error: String(err) });
      }
    }
  }
}

/** The URL path of a kind's collection, in one namespace or across all. */
export function collectionPath(kind: KindRef, namespace?: string): string {
  const base = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
  const ns = kind.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${kind.plural}`;
}

interface RawList<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

async function getJson<T>(kc: KubeConfig, url: string, signal: AbortSignal): Promise<T> {
  const ctx = new RequestContext(url, HttpMethod.GET);
  ctx.setHeaderParam("Accept", "application/json");
  ctx.setSignal(signal);
  await kc.applySecurityAuthentication(ctx);
  const response = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode !== 200) {
    throw new ApiException(response.httpStatusCode, `GET ${new URL(url).pathname} failed with HTTP ${response.httpStatusCode}`, text, response.headers);
  }
  return JSON.parse(text) as T;
}

/** The real list+watch of one kind against the API server of `kc` (pages of 500 on list). */
export function apiListWatch<T extends KubernetesObject>(kc: KubeConfig, kind: KindRef, namespace?: string): ListWatchSource<T> {
  const path = collectionPath(kind, namespace);
  const watcher = new Watch(kc);
  return {
    async list(signal): Promise<ListResult<T>> {
      const server = kc.getCurrentCluster()?.server;
      if (!server) throw new Error("kubeconfig has no current cluster: set current-context");
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const query = new URLSearchParams({ limit: "500", ...(cont ? { continue: cont } : {}) });
        const page = await getJson<RawList<T>>(kc, `${server}${path}?${query.toString()}`, signal);
        items.push(...(page.items ?? []));
        resourceVersion = page.metadata?.resourceVersion ?? "";
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    async watch(resourceVersion, onEvent, onDone): Promise<WatchHandle> {
      const params = { resourceVersion, allowWatchBookmarks: true };
      const controller = await watcher.watch(path, params, (type: string, obj: T) => onEvent(type as WatchEventType, obj), onDone);
      return { abort: () => controller.abort() };
    },
  };
}
