// Status conditions per the Kubernetes API conventions (metav1.Condition). Pure: the clock is
// passed in, arrays are never mutated.
import type { Condition, ConditionStatus } from "../schema/common.ts";

export type { Condition, ConditionStatus };

/** What a reconciler decides; the helper adds observedGeneration and lastTransitionTime. */
export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  /** CamelCase constant from the component's one list of reasons. */
  reason: string;
  message: string;
}

/** The API server's own limit on condition messages (metav1.Condition). */
const maxMessageLength = 32768;

/** metav1.Time has second precision; writing milliseconds would make every read-back differ. */
export function conditionTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function truncate(message: string): string {
  return message.length <= maxMessageLength ? message : `${message.slice(0, maxMessageLength - 1)}…`;
}

/**
 * Returns a new list with `update` set: an existing condition of the same type is replaced in
 * place, others are kept. `lastTransitionTime` moves to `now` only when `status` flips (or the
 * condition is new), so it tells how long the object has been in its current state.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: truncate(update.message),
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : conditionTime(now),
  };
  if (observedGeneration !== undefined) next.observedGeneration = observedGeneration;
  if (!previous) return [...list, next];
  return list.map((c) => (c.type === update.type ? next : c));
}

/** Returns a new list without the condition of `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}

export function isFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "False";
}

/**
 * True when `type` holds the same status, reason and message as `update` — the comparison an
 * event recorder uses to tell a transition from a repeat.
 */
export function conditionMatches(conditions: readonly Condition[] | undefined, update: ConditionUpdate): boolean {
  const c = findCondition(conditions, update.type);
  return c !== undefined && c.status === update.status && c.reason === update.reason && c.message === update.message;
}
