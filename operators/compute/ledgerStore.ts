// Reads and writes a Provider's admission ledger (a ConfigMap beside the Provider, owned by it).
// Every write carries the resourceVersion it was computed from, so two writers (two workers, or
// two manager replicas during a leadership hand-over) can never both add to the same version:
// the second gets 409 and recomputes from the fresh ledger. Reads go to the API server, never to
// a cache, so the decision is made on the latest committed ledger.
import type { CoreV1Api, KubernetesObject, V1ConfigMap } from "@kubernetes/client-node";
import { isAlreadyExists, isConflict, isNotFound } from "../runtime/errors.ts";
import { controllerRef, isControlledBy } from "../runtime/ownerReferences.ts";
import { withDeadline } from "../runtime/apiDeadline.ts";
import { type Ledger, ledgerName, parseLedger, serializeLedger } from "./reservationLedger.ts";

export const ledgerLabel = "archipel.io/reservation-ledger";
export const ledgerProviderAnnotation = "archipel.io/provider";

/** The ledger's name is held by an object the Provider does not control: never touched. */
export class LedgerNameTakenError extends Error {}

/** Attempts of one read-compute-write before the conflict goes back to the work queue. */
const attempts = 8;

export interface LedgerRead {
  ledger: Ledger;
  /** Absent when the ConfigMap does not exist yet. */
  current?: V1ConfigMap;
}

export class LedgerStore {
  private readonly core: CoreV1Api;
  private readonly signal: AbortSignal | undefined;

  constructor(core: CoreV1Api, signal?: AbortSignal) {
    this.core = core;
    this.signal = signal;
  }

  /** The Provider's ledger (empty when none exists yet). */
  async read(provider: KubernetesObject): Promise<LedgerRead> {
    const namespace = provider.metadata?.namespace ?? "";
    const name = ledgerName(provider.metadata?.name ?? "");
    let current: V1ConfigMap;
    try {
      current = await this.core.readNamespacedConfigMap({ name, namespace }, withDeadline(undefined, this.signal));
    } catch (err) {
      if (isNotFound(err)) return { ledger: new Map() };
      throw err;
    }
    if (!isControlledBy(current as KubernetesObject, provider)) {
      throw new LedgerNameTakenError(`ConfigMap ${namespace}/${name} exists but is not the reservation ledger of Provider ${provider.metadata?.name} (no controller owner reference to it); rename or delete that ConfigMap`);
    }
    return { ledger: parseLedger(current.data), current };
  }

  /**
   * Reads the ledger, applies `change` (pure: returns the new ledger, or undefined for no
   * change) and writes it back on the version it read; on a conflict, again from a fresh read.
   * Returns the ledger as stored afterwards.
   */
  async update(provider: KubernetesObject, change: (ledger: Ledger) => Ledger | undefined): Promise<Ledger> {
    for (let attempt = 1; ; attempt++) {
      const { ledger, current } = await this.read(provider);
      const next = change(ledger);
      if (next === undefined) return ledger;
      try {
        await this.write(provider, next, current);
        return next;
      } catch (err) {
        if (!(isConflict(err) || isAlreadyExists(err)) || attempt >= attempts) throw err;
      }
    }
  }

  private async write(provider: KubernetesObject, ledger: Ledger, current: V1ConfigMap | undefined): Promise<void> {
    const namespace = provider.metadata?.namespace ?? "";
    const name = ledgerName(provider.metadata?.name ?? "");
    const body: V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace,
        labels: { [ledgerLabel]: "true" },
        annotations: { [ledgerProviderAnnotation]: provider.metadata?.name ?? "" },
        ownerReferences: [controllerRef(provider)],
        ...(current ? { resourceVersion: current.metadata?.resourceVersion } : {}),
      },
      data: serializeLedger(ledger),
    };
    if (current) await this.core.replaceNamespacedConfigMap({ name, namespace, body }, withDeadline(undefined, this.signal));
    else await this.core.createNamespacedConfigMap({ namespace, body }, withDeadline(undefined, this.signal));
  }
}
