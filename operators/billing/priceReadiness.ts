// Whether a Price is usable now: a chain of named pure checks, the first failure wins
// (cert-manager's readiness policies). The Price controller writes the verdict as Ready.
import type { Price } from "../schema/price.ts";
import { conflictingPrices, validityOf } from "./priceResolution.ts";

/** Every reason the Price controller writes into the Ready condition and Events. */
export const PriceReason = {
  Valid: "Valid",
  TargetNotFound: "TargetNotFound",
  Conflict: "Conflict",
  NotYetValid: "NotYetValid",
  Expired: "Expired",
} as const;
export type PriceReason = (typeof PriceReason)[keyof typeof PriceReason];

export interface PriceVerdict {
  ready: boolean;
  reason: PriceReason;
  message: string;
  /** When the verdict changes by itself (validFrom or validUntil reached), in ms from now. */
  changesInMs?: number;
}

/** What the checks read besides the Price itself. */
export interface PriceWorld {
  /** The object spec.targetRef names exists in the Price's namespace. */
  targetExists: boolean;
  /** Prices of the same namespace (the Price itself may be among them). */
  others: readonly Price[];
  now: Date;
}

type Check = (price: Price, world: PriceWorld) => PriceVerdict | undefined;

const notReady = (reason: PriceReason, message: string, changesInMs?: number): PriceVerdict => ({ ready: false, reason, message, ...(changesInMs !== undefined ? { changesInMs } : {}) });

const targetExists: Check = (price, world) => {
  if (world.targetExists) return undefined;
  const ref = price.spec.targetRef;
  return notReady(PriceReason.TargetNotFound, `spec.targetRef: ${ref.kind} "${ref.name}" does not exist in namespace ${price.metadata.namespace ?? ""}; create it or fix the reference`);
};

const noConflict: Check = (price, world) => {
  const others = conflictingPrices(price, world.others).map((p) => `"${p.metadata.name ?? ""}"`);
  if (others.length === 0) return undefined;
  return notReady(
    PriceReason.Conflict,
    `conflicts with Price ${others.join(", ")}: same spec.targetRef, overlapping spec.audience and validity; neither applies where they overlap until one is changed (different audience, or validity windows that do not overlap)`,
  );
};

const started: Check = (price, world) => {
  const { from } = validityOf(price);
  const wait = from - world.now.getTime();
  return wait > 0 ? notReady(PriceReason.NotYetValid, `not in force before spec.validFrom ${price.spec.validFrom}`, wait) : undefined;
};

const notExpired: Check = (price, world) => {
  const { until } = validityOf(price);
  return until !== undefined && until <= world.now.getTime() ? notReady(PriceReason.Expired, `not in force since spec.validUntil ${price.spec.validUntil ?? ""}`) : undefined;
};

/** In order: the first failing check is the verdict. */
export const priceChecks: readonly Check[] = [targetExists, noConflict, started, notExpired];

export function priceReadiness(price: Price, world: PriceWorld): PriceVerdict {
  for (const check of priceChecks) {
    const failure = check(price, world);
    if (failure) return failure;
  }
  const { until } = validityOf(price);
  const message = until === undefined ? "in force, with no end" : `in force until ${price.spec.validUntil ?? ""}`;
  return { ready: true, reason: PriceReason.Valid, message, ...(until !== undefined ? { changesInMs: until - world.now.getTime() } : {}) };
}
