// Kubernetes Events (events.k8s.io/v1) so `kubectl describe` shows what a controller did.
// Events are best effort: a failed write is logged, never thrown into the reconcile.
// Repeats are folded into one Event: its name is derived from (object, type, reason, action,
// note), so the second occurrence — even from a restarted manager — updates `series` instead of
// creating another object.
import { createHash } from "node:crypto";
import os from "node:os";
import { EventsV1Api, type EventsV1Event, type KubeConfig, type KubernetesObject, PatchStrategy, setHeaderOptions, V1MicroTime, type V1ObjectReference } from "@kubernetes/client-node";
import type { Logger } from "./logger.ts";
import { errorMessage, isAlreadyExists, isNotFound } from "./errors.ts";

export type EventType = "Normal" | "Warning";

/** Identifies this process in Events (the pod name in a cluster). */
export function reportingInstance(): string {
  return process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`;
}

export interface EventInput {
  type: EventType;
  /** CamelCase, from the component's reason constants. */
  reason: string;
  /** What the controller did or failed to do, CamelCase (e.g. `Reconcile`, `RemoveFinalizer`). */
  action: string;
  /** For humans; never a secret. Cut to the API's 1 KiB limit. */
  note: string;
  related?: KubernetesObject;
}

export interface EventRecorderOptions {
  /** e.g. `archipel.io/provider-controller` */
  reportingController: string;
  /** This process, e.g. the pod name. */
  reportingInstance: string;
  logger?: Logger;
  now?: () => Date;
}

const noteLimit = 1024;
const fieldLimit = 128;
/** Folded events remembered locally (beyond that, a repeat costs one extra read). */
const rememberedLimit = 4096;

export function objectReference(obj: KubernetesObject): V1ObjectReference {
  const m = obj.metadata ?? {};
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
}

/** Deterministic Event name: the same occurrence on the same object always gets the same name. */
export function eventName(regarding: KubernetesObject, e: EventInput, reportingController: string): string {
  const m = regarding.metadata ?? {};
  const digest = createHash("sha256")
    .update([m.uid ?? "", regarding.kind ?? "", m.name ?? "", e.type, e.reason, e.action, e.note, reportingController].join("\u0000"))
    .digest("hex")
    .slice(0, 16);
  return `${(m.name ?? "object").slice(0, 200)}.${digest}`;
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

export class EventRecorder {
  private readonly api: EventsV1Api;
  private readonly opts: EventRecorderOptions;
  /** name → series count last written by this process. */
  private readonly counts = new Map<string, number>();

  constructor(kubeConfig: KubeConfig, opts: EventRecorderOptions) {
    this.api = kubeConfig.makeApiClient(EventsV1Api);
    this.opts = opts;
  }

  /** Writes the Event (or bumps its series); logs and swallows failures. */
  async record(regarding: KubernetesObject, e: EventInput): Promise<void> {
    const namespace = regarding.metadata?.namespace || "default";
    const name = eventName(regarding, e, this.opts.reportingController);
    try {
      await this.write(namespace, name, regarding, e);
    } catch (err) {
      this.opts.logger?.warn("event not recorded", { namespace, name, reason: e.reason, error: errorMessage(err) });
    }
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private async write(namespace: string, name: string, regarding: KubernetesObject, e: EventInput): Promise<void> {
    const known = this.counts.get(name);
    if (known !== undefined && (await this.bump(namespace, name, known))) return;
    try {
      await this.api.createNamespacedEvent({ namespace, body: this.build(namespace, name, regarding, e) });
      this.remember(name, 1);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Written before by another process or before a restart: continue its series.
      const existing = await this.api.readNamespacedEvent({ namespace, name });
      await this.bump(namespace, name, existing.series?.count ?? 1);
    }
  }

  /** Increments the series of an existing Event; false when it has expired meanwhile. */
  private async bump(namespace: string, name: string, count: number): Promise<boolean> {
    const next = count + 1;
    const body = { series: { count: next, lastObservedTime: new V1MicroTime(this.now().getTime()).toISOString() } };
    try {
      await this.api.patchNamespacedEvent({ namespace, name, body }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
    } catch (err) {
      if (isNotFound(err)) {
        this.counts.delete(name);
        return false;
      }
      throw err;
    }
    this.remember(name, next);
    return true;
  }

  private remember(name: string, count: number): void {
    this.counts.delete(name);
    this.counts.set(name, count);
    if (this.counts.size > rememberedLimit) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
  }

  private build(namespace: string, name: string, regarding: KubernetesObject, e: EventInput): EventsV1Event {
    return {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace },
      eventTime: new V1MicroTime(this.now().getTime()),
      type: e.type,
      reason: clip(e.reason, fieldLimit),
      action: clip(e.action, fieldLimit),
      note: clip(e.note, noteLimit),
      regarding: objectReference(regarding),
      ...(e.related ? { related: objectReference(e.related) } : {}),
      reportingController: this.opts.reportingController,
      reportingInstance: clip(this.opts.reportingInstance, fieldLimit),
    };
  }
}
