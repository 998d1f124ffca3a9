// When a Ready update is worth an Event and an info log: its status or reason changed (a new
// message alone — a peer count, an error text — is not a transition). Pure.
import type { Condition, ConditionUpdate } from "../runtime/conditions.ts";

export function isReadyTransition(conditions: readonly Condition[] | undefined, update: ConditionUpdate): boolean {
  const previous = conditions?.find((c) => c.type === update.type);
  return previous === undefined || previous.status !== update.status || previous.reason !== update.reason;
}
