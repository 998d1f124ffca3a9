// Records from peers. A step run on a peer is metered there: the peer's usage controller signs the
// record (usageSignature.ts), this cluster fetches it over the federation API, keeps a copy bound
// to its own run, and tells the peer what it thinks of it (a receipt). Each side shows the verdict
// on its own record (condition Agreed), so a disagreement is visible on both clusters. Pure.
//
// The copy keeps the peer's spec as signed, except the fields that name the peer's objects (its
// run, its name for this cluster, its project): those move to spec.received and this cluster's
// own take their place. Putting them back (signedOriginal) gives the bytes the peer signed, so
// anyone can check a copy against the peer's key at any time.
import { createHash } from "node:crypto";
import type { ConditionUpdate } from "../runtime/conditions.ts";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";
import { add, compare, MoneyError, parseDecimal, zero } from "./money.ts";
import { usageSigningPayload, verifyUsageRecord } from "./usageSignature.ts";

/** On a served run's record: the requester's last receipt for it (JSON of ServedReceipt), written by the federation API. */
export const requesterReceiptAnnotation = "archipel.io/requester-receipt";

export const AgreementReason = {
  /** both sides hold the same record and the requester found nothing wrong with it */
  Agreed: "Agreed",
  /** the requester has not answered yet */
  AwaitingReceipt: "AwaitingReceipt",
  /** the record's times are not the step's times the peer reported while it ran */
  TimesDisagree: "TimesDisagree",
  /** the line items do not add up to the cost, or mix currencies */
  CostDisagrees: "CostDisagrees",
  /** the serving cluster's record is not the one the requester holds (changed, or re-metered differently) */
  RecordsDiffer: "RecordsDiffer",
  /** the requester disputed the record (its reason in the message) */
  RequesterDisputed: "RequesterDisputed",
  /** the requester's receipt cannot be read */
  ReceiptUnreadable: "ReceiptUnreadable",
} as const;

/** Why a peer's record is not kept here at all (reported as a Warning Event on the run, and in the receipt). */
export const RefusalReason = {
  SignatureInvalid: "SignatureInvalid",
  NotThisRun: "NotThisRun",
  UnknownStep: "UnknownStep",
  InvalidRecord: "InvalidRecord",
} as const;

/** sha256 (hex) of the bytes a record's signature covers: the requester and the peer compute it alike. */
export function usageDigest(spec: UsageRecordSpec): string {
  return createHash("sha256").update(usageSigningPayload(spec)).digest("hex");
}

/** How a copy binds to this cluster: its run, its Peer object for the signer, the project it bills. */
export interface CopyBinding {
  run: { name: string; uid: string };
  peer: string;
  project?: string;
  /** the record's name on the peer */
  recordName: string;
}

/** This cluster's copy of a peer's signed record. */
export function receivedCopy(signed: UsageRecordSpec, bind: CopyBinding): UsageRecordSpec {
  const { requester, pipelineRunRef, projectRef, peer: _peer, received: _received, ...kept } = signed;
  return {
    ...kept,
    pipelineRunRef: { name: bind.run.name, uid: bind.run.uid },
    peer: bind.peer,
    ...(bind.project ? { projectRef: { name: bind.project } } : {}),
    received: { name: bind.recordName, pipelineRunRef, ...(requester ? { requester } : {}), ...(projectRef ? { projectRef } : {}) },
  };
}

/** The spec the peer signed, from a copy (undefined: not a copy). */
export function signedOriginal(copy: UsageRecordSpec): UsageRecordSpec | undefined {
  if (!copy.received) return undefined;
  const { received, peer: _peer, pipelineRunRef: _run, projectRef: _project, ...kept } = copy;
  return {
    ...kept,
    pipelineRunRef: received.pipelineRunRef,
    ...(received.requester ? { requester: received.requester } : {}),
    ...(received.projectRef ? { projectRef: received.projectRef } : {}),
  };
}

/** What this cluster saw of the step while the peer ran it (its run's status, from the peer's answers). */
export interface StepSeen {
  name: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface JudgeInput {
  /** the Peer's clusterName and published key */
  cluster: string;
  publicKey: string;
  /** the peer's run of these steps (status.peerRun.name) */
  peerRunName: string;
  /** this run's steps placed on that peer */
  steps: readonly StepSeen[];
}

export type Judgement =
  | { keep: false; reason: (typeof RefusalReason)[keyof typeof RefusalReason]; message: string }
  | { keep: true; agreed: boolean; reason: string; message: string };

const sameInstant = (a: string | undefined, b: string): boolean => a === undefined || Date.parse(a) === Date.parse(b);

/** The line items add up to the cost, in one currency. */
function costAddsUp(spec: UsageRecordSpec): string | undefined {
  if (!spec.cost) return undefined;
  try {
    const sum = (spec.lines ?? []).reduce((total, line, i) => add(total, parseDecimal(line.amount, `spec.lines[${i}].amount`)), zero);
    if (compare(sum, parseDecimal(spec.cost.amount, "spec.cost.amount")) !== 0) return `the line items add up to ${(spec.lines ?? []).map((l) => l.amount).join(" + ")}, not spec.cost.amount ${spec.cost.amount}`;
  } catch (err) {
    if (err instanceof MoneyError) return err.message;
    throw err;
  }
  return undefined;
}

/**
 * Whether to keep a peer's record, and whether this cluster agrees with it. A record that is not
 * the peer's (signature), not for this run, or for a step not placed there is not kept; a kept
 * one is disputed when its times are not what the peer reported while the step ran, or its cost
 * is not the sum of its lines.
 */
export function judgeReceived(signed: UsageRecordSpec, input: JudgeInput): Judgement {
  const signature = verifyUsageRecord(signed, input.cluster, input.publicKey);
  if (!signature.ok) return { keep: false, reason: RefusalReason.SignatureInvalid, message: signature.message };
  if (signed.pipelineRunRef.name !== input.peerRunName) {
    return { keep: false, reason: RefusalReason.NotThisRun, message: `the record is of run ${signed.pipelineRunRef.name} on ${input.cluster}, not ${input.peerRunName}` };
  }
  const step = input.steps.find((s) => s.name === signed.step);
  if (!step) return { keep: false, reason: RefusalReason.UnknownStep, message: `step ${signed.step} is not a step this run placed on ${input.cluster}` };
  if (!sameInstant(step.startedAt, signed.startedAt) || !sameInstant(step.finishedAt, signed.finishedAt)) {
    const seen = `${step.startedAt ?? "?"} to ${step.finishedAt ?? "?"}`;
    return { keep: true, agreed: false, reason: AgreementReason.TimesDisagree, message: `the record says step ${signed.step} ran from ${signed.startedAt} to ${signed.finishedAt}; ${input.cluster} reported ${seen} while it ran` };
  }
  const cost = costAddsUp(signed);
  if (cost) return { keep: true, agreed: false, reason: AgreementReason.CostDisagrees, message: cost };
  const priced = signed.cost ? `${signed.cost.amount} ${signed.cost.currency}` : "no cost";
  return { keep: true, agreed: true, reason: AgreementReason.Agreed, message: `signed by ${input.cluster}, times as reported while the step ran, ${priced}` };
}

/** What the serving cluster keeps of a receipt (the annotation's JSON). */
export interface ServedReceipt {
  digest: string;
  agreed: boolean;
  reason: string;
  message?: string;
  at: string;
}

const agreed = (status: ConditionUpdate["status"], reason: string, message: string): ConditionUpdate => ({ type: "Agreed", status, reason, message: message.slice(0, 1024) });

/** The serving cluster's Agreed condition on a record it made for a peer, from the requester's receipt. */
export function servedAgreement(spec: UsageRecordSpec, annotation: string | undefined): ConditionUpdate {
  const requester = spec.requester?.peer ?? "the requester";
  if (annotation === undefined) return agreed("Unknown", AgreementReason.AwaitingReceipt, `${requester} has not fetched this record yet`);
  let receipt: ServedReceipt;
  try {
    receipt = JSON.parse(annotation) as ServedReceipt;
  } catch {
    return agreed("Unknown", AgreementReason.ReceiptUnreadable, `annotation ${requesterReceiptAnnotation} is not JSON`);
  }
  if (receipt.digest !== usageDigest(spec)) {
    return agreed("False", AgreementReason.RecordsDiffer, `${requester} holds another record under this name (digest ${String(receipt.digest).slice(0, 12)}…, this one ${usageDigest(spec).slice(0, 12)}…)`);
  }
  if (!receipt.agreed) return agreed("False", AgreementReason.RequesterDisputed, `${requester} disputes it (${receipt.reason}): ${receipt.message ?? ""}`);
  return agreed("True", AgreementReason.Agreed, `${requester} holds the same record and agrees (${receipt.at})`);
}

/** The requester's Agreed condition on its copy, once the peer answered the receipt. */
export function copyAgreement(judged: { agreed: boolean; reason: string; message: string }, peer: { cluster: string; found: boolean; matches: boolean }): ConditionUpdate {
  if (!judged.agreed) return agreed("False", judged.reason, judged.message);
  if (!peer.found) return agreed("False", AgreementReason.RecordsDiffer, `${peer.cluster} no longer has this record`);
  if (!peer.matches) return agreed("False", AgreementReason.RecordsDiffer, `${peer.cluster} now holds another record under this name than the one it signed and sent`);
  return agreed("True", AgreementReason.Agreed, `${judged.message}; ${peer.cluster} holds the same record`);
}
