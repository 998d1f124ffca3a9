// The AccessGrant controller: issues the credentials a grant stands for in its Resource's backend
// (PostgreSQL view + read role, PostgreSQL schema + write role, S3 prefix/object + key), keeps them
// in the Secret `<grant>-credentials` (owned by the grant, readable by the grantee only), and
// revokes them at spec.expiresAt or on deletion (finalizer). The password or key is generated once
// and kept in the Secret; backend names derive from the grant's UID, so a restart converges.
// It touches only children it controls (a name held by anything else is NameTaken), records what
// it issues in status.issued before touching the backend and revokes from that record, and skips
// the backend when the plan hash says nothing changed.
import { CoreV1Api, type KubeConfig, type KubernetesObject, RbacAuthorizationV1Api, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../runtime/logger.ts";
import type { ControllerOptions, ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../runtime/index.ts";
import { conditionMatches, setCondition } from "../runtime/conditions.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from "../runtime/finalizers.ts";
import { controllerRef, isControlledBy } from "../runtime/ownerReferences.ts";
import { StatusWriter } from "../runtime/status.ts";
import { type AccessGrant, accessGrantKind, type IssuedRecord } from "../schema/accessGrant.ts";
import { kindRefOf } from "../schema/kind.ts";
import { type Peer, peerKind } from "../schema/peer.ts";
import { type Project, projectKind } from "../schema/project.ts";
import type { Provider } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import {
  AccessGrantReason,
  credentialsReaderName,
  credentialsSecretName,
  decideGrantAction,
  type GrantAction,
  granteeCaller,
  granteeSubject,
  type ServiceAccountRef,
  grantKey,
  grantLabelValue,
  grantPhase,
} from "./accessGrantPlan.ts";
import { defaultEgressPolicy, type EgressPolicy } from "../runtime/egress.ts";
import { EgressRefused } from "../runtime/egressHttp.ts";
import { BackendError } from "./backends/postgresErrors.ts";
import { SqlSpecError } from "./backends/sqlCheck.ts";
import { adminSecretName, type GrantAccess, issueGrant, revokeIssued } from "./accessGrantBackend.ts";
import { backendFailure, issuedRecordOf, PeerApprovalTracker, planHash, sameTarget } from "./accessGrantRecord.ts";
import { providerKindRef, resourceKindRef } from "./providerReconciler.ts";
import { reportingInstance } from "../runtime/events.ts";
import { decideVisibility, type PeerApproval, type ProjectMemberships } from "./visibility.ts";

export const accessGrantControllerName = "access-grant";
export const accessGrantFinalizer = "archipel.io/access-grant-revoke";
export const accessGrantFieldManager = "archipel-access-grant-controller";
const reportingController = "archipel.io/access-grant-controller";
export const accessGrantKindRef = kindRefOf(accessGrantKind);
const peerKindRef = kindRefOf(peerKind);
const projectKindRef = kindRefOf(projectKind);
const readyType = "Ready";
/** Re-check a live grant at least this often (its expiry, its children); the backend only if its plan changed. */
const resyncMs = 10 * 60 * 1000;
/** A failed revocation is retried this often (the admin Secret may come back, the server wake up). */
const revokeRetryMs = 10_000;
/** Changing this annotation forces one full re-issue (e.g. after a role was dropped by hand). */
export const reissueAnnotation = "archipel.io/reissue";

type Failure = { reason: string; message: string };

interface Resolved {
  action: GrantAction;
  adminCreds: Record<string, string>;
}

export interface AccessGrantDeps {
  status: StatusWriter;
  events: EventRecorder;
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  /** Who reads a Peer grantee's credentials for it: the API's ServiceAccount. */
  peerReader?: ServiceAccountRef;
  now?: () => Date;
  /** Where the backends may be reached (the manager's --egress-* flags; default: the default policy). */
  egress?: EgressPolicy;
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

function memberships(ctx: ReconcileContext): ProjectMemberships {
  return new Map(ctx.cache<Project>(projectKindRef).list().map((p) => [p.metadata?.name ?? "", membersOf(p)]));
}

function membersOf(p: Project): { users: string[]; groups: string[]; clusters: string[] } {
  const m = p.spec?.members ?? {};
  return { users: m.users ?? [], groups: m.groups ?? [], clusters: m.clusters ?? [] };
}

/** The status fields a failed pass keeps as they were. */
function keptFields(grant: AccessGrant): Record<string, unknown> {
  const s = grant.status ?? {};
  return { secretRef: s.secretRef, access: s.access, issuedAt: s.issuedAt, revokedAt: s.revokedAt, issued: s.issued };
}

function hasCredentials(data: Record<string, string> | undefined): boolean {
  return data !== undefined && (data.password !== undefined || data.secretAccessKey !== undefined);
}

export function createAccessGrantReconciler(deps: AccessGrantDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());
  const egress = deps.egress ?? defaultEgressPolicy;

  async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const secret = await readOrUndefined(() => deps.core.readNamespacedSecret({ namespace, name }));
    return secret ? decode(secret.data) : undefined;
  }

  async function writeStatus(ctx: ReconcileContext, grant: AccessGrant, ready: { status: "True" | "False"; reason: string; message: string }, fields: Record<string, unknown>): Promise<void> {
    const generation = grant.metadata?.generation;
    const update = { type: readyType, ...ready };
    const conditions = setCondition(grant.status?.conditions, update, generation, now()).filter((c) => c.type === readyType);
    const wrote = await deps.status.apply(accessGrantKindRef, grant, { conditions, observedGeneration: generation, ...fields });
    if (!wrote || conditionMatches(grant.status?.conditions, update)) return;
    ctx.logger.info("access grant readiness changed", { namespace: grant.metadata?.namespace, name: grant.metadata?.name, status: ready.status, reason: ready.reason });
    await deps.events.record(grant as KubernetesObject, { type: ready.status === "True" ? "Normal" : "Warning", reason: ready.reason, action: "Issue", note: ready.message });
  }

  /** Writes status.issued alone, every other owned field as it is (the write-ahead record). */
  async function writeRecord(grant: AccessGrant, issued: IssuedRecord): Promise<void> {
    const conditions = (grant.status?.conditions ?? []).filter((c) => c.type === readyType);
    await deps.status.apply(accessGrantKindRef, grant, { conditions, observedGeneration: grant.status?.observedGeneration, ...keptFields(grant), issued });
  }

  async function resolve(ctx: ReconcileContext, grant: AccessGrant): Promise<Resolved | Failure> {
    const namespace = grant.metadata?.namespace ?? "";
    const resource = ctx.cache<Resource>(resourceKindRef).get({ namespace, name: grant.spec.resourceRef.name });
    if (!resource) return { reason: AccessGrantReason.ResourceNotFound, message: `spec.resourceRef: Resource "${grant.spec.resourceRef.name}" does not exist in this namespace` };
    const provider = ctx.cache<Provider>(providerKindRef).get({ namespace, name: resource.spec.providerRef.name });
    if (!provider) return { reason: AccessGrantReason.ProviderNotFound, message: `the Resource's Provider "${resource.spec.providerRef.name}" does not exist` };
    const decision = decideGrantAction(grant.spec.mode, resource, provider);
    if (!decision.ok) return decision;
    const secretName = adminSecretName(decision.action);
    const adminCreds = await readSecret(namespace, secretName);
    if (!adminCreds) return { reason: AccessGrantReason.CredentialsNotFound, message: `the Provider's credentials Secret "${secretName}" does not exist` };
    const visible = visibleToGrantee(ctx, grant, resource);
    if (visible) return visible;
    return { action: decision.action, adminCreds };
  }

  function visibleToGrantee(ctx: ReconcileContext, grant: AccessGrant, resource: Resource): Failure | undefined {
    type PeerObject = KubernetesObject & { spec?: { approval?: PeerApproval }; status?: { descriptor?: { clusterName?: string } } };
    const peer = (name: string): PeerObject | undefined => ctx.cache<PeerObject>(peerKindRef).get({ name });
    const approval = (name: string): PeerApproval => peer(name)?.spec?.approval ?? "Unknown";
    // Projects list member clusters by cluster name; the grantee names the Peer object.
    const caller = granteeCaller(grant.spec.grantee, approval, [], (name) => peer(name)?.status?.descriptor?.clusterName ?? name);
    const decision = decideVisibility({ visibility: resource.spec.visibility, projects: resource.spec.projects ?? [] }, caller, memberships(ctx));
    return decision.visible ? undefined : { reason: AccessGrantReason.NotVisible, message: `the grantee may not see Resource "${resource.metadata?.name}": ${decision.message}` };
  }

  /**
   * The grant's children as they are: the credentials Secret if this grant controls it, or why
   * the grant may not go on (a Secret, Role or RoleBinding of its names held by someone else).
   */
  async function inspectChildren(grant: AccessGrant): Promise<{ secret?: V1Secret } | Failure> {
    const namespace = grant.metadata?.namespace ?? "";
    const secretName = credentialsSecretName(grant.metadata?.name ?? "");
    const readerName = credentialsReaderName(grant.metadata?.name ?? "");
    const secret = await readOrUndefined(() => deps.core.readNamespacedSecret({ namespace, name: secretName }));
    const role = await readOrUndefined(() => deps.rbac.readNamespacedRole({ namespace, name: readerName }));
    const binding = await readOrUndefined(() => deps.rbac.readNamespacedRoleBinding({ namespace, name: readerName }));
    const children: [string, string, KubernetesObject | undefined][] = [["Secret", secretName, secret], ["Role", readerName, role], ["RoleBinding", readerName, binding]];
    const taken = children.find(([, , obj]) => obj && !isControlledBy(obj, grant as KubernetesObject));
    if (taken) return nameTaken(taken[0], taken[1]);
    return secret ? { secret } : {};
  }

  async function writeCredentials(grant: AccessGrant, data: Record<string, string>, current: V1Secret | undefined): Promise<void> {
    const namespace = grant.metadata?.namespace ?? "";
    const name = credentialsSecretName(grant.metadata?.name ?? "");
    const metadata = { name, namespace, ownerReferences: [controllerRef(grant as KubernetesObject)], labels: { "archipel.io/access-grant": grantLabelValue(grant.metadata?.name ?? "") } };
    // Replaced with the resourceVersion read: a Secret changed since (or taken over) fails with 409.
    if (current) await deps.core.replaceNamespacedSecret({ namespace, name, body: { metadata: { ...metadata, resourceVersion: current.metadata?.resourceVersion }, type: "Opaque", stringData: data } });
    else await deps.core.createNamespacedSecret({ namespace, body: { metadata, type: "Opaque", stringData: data } });
  }

  async function ensureReader(grant: AccessGrant): Promise<void> {
    const subject = granteeSubject(grant.spec.grantee, deps.peerReader);
    if (!subject) return;
    const namespace = grant.metadata?.namespace ?? "";
    const secret = credentialsSecretName(grant.metadata?.name ?? "");
    const metadata = { name: credentialsReaderName(grant.metadata?.name ?? ""), namespace, ownerReferences: [controllerRef(grant as KubernetesObject)] };
    const role = { metadata, rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [secret], verbs: ["get"] }] };
    const binding = { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: metadata.name }, subjects: [subject] };
    const read = { namespace, name: metadata.name };
    await createOwned(grant, "Role", () => deps.rbac.createNamespacedRole({ namespace, body: role }), () => deps.rbac.readNamespacedRole(read));
    await createOwned(grant, "RoleBinding", () => deps.rbac.createNamespacedRoleBinding({ namespace, body: binding }), () => deps.rbac.readNamespacedRoleBinding(read));
  }

  /** The kept secret part to issue with: a password always, S3 keys only if they are the recorded key. */
  function reusable(previous: IssuedRecord, existing: Record<string, string> | undefined): Record<string, string> | undefined {
    if (!existing || !previous.s3) return existing;
    return previous.s3.keyId !== undefined && existing.accessKeyId === previous.s3.keyId ? existing : undefined;
  }

  async function issue(ctx: ReconcileContext, grant: AccessGrant, plan: { resolved: Resolved; record: IssuedRecord; hash: string; secret: V1Secret | undefined }): Promise<void> {
    const existing = plan.secret ? decode(plan.secret.data) : undefined;
    const result = await issueGrant({ action: plan.resolved.action, key: grantKey(grant), adminCreds: plan.resolved.adminCreds, existing: reusable(plan.record, existing), expiresAt: new Date(grant.spec.expiresAt), egress });
    if (!existing || !sameData(existing, result.secret)) await writeCredentials(grant, result.secret, plan.secret);
    await ensureReader(grant);
    const keyId = result.secret.accessKeyId;
    const issued: IssuedRecord = { ...plan.record, planHash: plan.hash, ...(plan.record.s3 && keyId ? { s3: { ...plan.record.s3, keyId } } : {}) };
    await markIssued(ctx, grant, result.access, issued);
  }

  async function markIssued(ctx: ReconcileContext, grant: AccessGrant, access: GrantAccess | undefined, issued: IssuedRecord): Promise<void> {
    const secretName = credentialsSecretName(grant.metadata?.name ?? "");
    const issuedAt = grant.status?.issuedAt ?? now().toISOString();
    await writeStatus(ctx, grant, { status: "True", reason: AccessGrantReason.Issued, message: `credentials in Secret ${secretName} until ${grant.spec.expiresAt}` }, { secretRef: { name: secretName }, access, issuedAt, issued });
  }

  /** What to revoke: the record; for a grant issued before records were kept, the live Resource's. */
  function recordToRevoke(ctx: ReconcileContext, grant: AccessGrant): IssuedRecord | Failure | undefined {
    if (grant.status?.issued) return grant.status.issued;
    if (!grant.status?.issuedAt) return undefined;
    return liveRecord(ctx, grant) ?? { reason: AccessGrantReason.RevokeFailed, message: "issued before records were kept, and its Resource or Provider is gone: revoke in the backend by hand, then remove the finalizer" };
  }

  function liveRecord(ctx: ReconcileContext, grant: AccessGrant): IssuedRecord | undefined {
    const namespace = grant.metadata?.namespace ?? "";
    const resource = ctx.cache<Resource>(resourceKindRef).get({ namespace, name: grant.spec.resourceRef.name });
    const provider = resource && ctx.cache<Provider>(providerKindRef).get({ namespace, name: resource.spec.providerRef.name });
    const decision = resource && provider ? decideGrantAction(grant.spec.mode, resource, provider) : undefined;
    const record = decision?.ok ? recordOf(decision.action, grantKey(grant)) : undefined;
    return record && !("reason" in record) ? record : undefined;
  }

  async function revokeRecord(namespace: string, record: IssuedRecord): Promise<Failure | undefined> {
    const adminCreds = await readSecret(namespace, record.adminSecretRef.name);
    if (!adminCreds) return { reason: AccessGrantReason.RevokeFailed, message: `the admin Secret "${record.adminSecretRef.name}" named by status.issued does not exist; retrying` };
    try {
      await revokeIssued(record, adminCreds, egress);
      return undefined;
    } catch (err) {
      return { reason: AccessGrantReason.RevokeFailed, message: `revocation not confirmed: ${backendFailure(err)}; retrying` };
    }
  }

  /** Empties the credentials Secret if this grant controls it (it is deleted with the grant). */
  async function emptyCredentials(grant: AccessGrant): Promise<void> {
    const namespace = grant.metadata?.namespace ?? "";
    const name = credentialsSecretName(grant.metadata?.name ?? "");
    const secret = await readOrUndefined(() => deps.core.readNamespacedSecret({ namespace, name }));
    if (!secret || !holdsDataOf(secret, grant)) return;
    const metadata = { ...secret.metadata, annotations: { ...secret.metadata?.annotations, "archipel.io/revoked-at": now().toISOString() } };
    await deps.core.replaceNamespacedSecret({ namespace, name, body: { metadata, type: secret.type ?? "Opaque", data: {} } });
  }

  /** Backend first, then the Secret; a failure is returned (and the finalizer stays). */
  async function revoke(ctx: ReconcileContext, grant: AccessGrant): Promise<Failure | undefined> {
    const record = grant.status?.revokedAt ? undefined : recordToRevoke(ctx, grant);
    if (record && "reason" in record) return record;
    const failed = record ? await revokeRecord(grant.metadata?.namespace ?? "", record) : undefined;
    if (failed) return failed;
    await emptyCredentials(grant);
    return undefined;
  }

  async function expire(ctx: ReconcileContext, grant: AccessGrant): Promise<ReconcileResult | void> {
    const failed = await revoke(ctx, grant);
    if (failed) {
      await writeStatus(ctx, grant, { status: "False", ...failed }, keptFields(grant));
      return { requeueAfter: revokeRetryMs };
    }
    const revokedAt = grant.status?.revokedAt ?? now().toISOString();
    const what = grant.status?.issued || grant.status?.issuedAt ? "credentials revoked" : "nothing had been issued";
    await writeStatus(ctx, grant, { status: "False", reason: AccessGrantReason.Expired, message: `expired at ${grant.spec.expiresAt}; ${what}` }, { ...keptFields(grant), secretRef: undefined, revokedAt });
  }

  async function finalize(ctx: ReconcileContext, grant: AccessGrant): Promise<ReconcileResult | void> {
    if (!hasFinalizer(grant as KubernetesObject, accessGrantFinalizer)) return;
    const failed = await revoke(ctx, grant);
    if (failed) {
      await writeStatus(ctx, grant, { status: "False", ...failed }, keptFields(grant));
      return { requeueAfter: revokeRetryMs };
    }
    await removeFinalizer(ctx.client, grant as KubernetesObject, accessGrantFinalizer);
  }

  async function fail(ctx: ReconcileContext, grant: AccessGrant, failure: Failure, remainingMs: number): Promise<ReconcileResult> {
    await writeStatus(ctx, grant, { status: "False", ...failure }, keptFields(grant));
    return { requeueAfter: Math.min(remainingMs, 30_000) };
  }

  /** The record is written before the backend is touched; a record pointing elsewhere is revoked first. */
  async function recordFirst(ctx: ReconcileContext, grant: AccessGrant, record: IssuedRecord): Promise<ReconcileResult | void> {
    const previous = grant.status?.issued;
    const failed = previous ? await revokeRecord(grant.metadata?.namespace ?? "", previous) : undefined;
    if (failed) return fail(ctx, grant, failed, revokeRetryMs);
    // Its own pass: the status write re-enqueues the grant, which then issues.
    await writeRecord(grant, record);
  }

  async function applyPlan(ctx: ReconcileContext, grant: AccessGrant, plan: { resolved: Resolved; record: IssuedRecord; secret: V1Secret | undefined }, remainingMs: number): Promise<ReconcileResult> {
    const hash = planHash({ action: plan.resolved.action, record: plan.record, expiresAt: grant.spec.expiresAt, reissue: grant.metadata?.annotations?.[reissueAnnotation] });
    try {
      if (isUpToDate(plan.record, hash, plan.secret)) {
        await ensureReader(grant);
        await markIssued(ctx, grant, grant.status?.access, plan.record);
      } else {
        await issue(ctx, grant, { ...plan, hash });
      }
    } catch (err) {
      if (err instanceof NameTakenError) return fail(ctx, grant, err.failure, remainingMs);
      await writeStatus(ctx, grant, { status: "False", ...grantFailure(ctx, grant, err) }, keptFields(grant));
      throw err;
    }
    return { requeueAfter: Math.min(remainingMs, resyncMs) };
  }

  /**
   * What a failed backend pass shows: a BackendError (postgresErrors.ts, s3Errors.ts), SqlSpecError
   * or EgressRefused carries a reason and a message of ours; anything else is summarised by its
   * code. The server's own text only reaches a debug log.
   */
  function grantFailure(ctx: ReconcileContext, grant: AccessGrant, err: unknown): Failure {
    if (err instanceof BackendError) {
      if (err.detail) ctx.logger.debug("access grant backend failure", { namespace: grant.metadata?.namespace, name: grant.metadata?.name, detail: err.detail });
      return { reason: err.reason, message: err.message };
    }
    if (err instanceof SqlSpecError || err instanceof EgressRefused) return { reason: err instanceof SqlSpecError ? err.reason : AccessGrantReason.BackendError, message: err.message };
    return { reason: AccessGrantReason.BackendError, message: backendFailure(err) };
  }

  /** One pass over a live grant: resolve, check the children's names, record, then issue. */
  async function converge(ctx: ReconcileContext, grant: AccessGrant, remainingMs: number): Promise<ReconcileResult | void> {
    const resolved = await resolve(ctx, grant);
    if ("reason" in resolved) return fail(ctx, grant, resolved, remainingMs);
    const children = await inspectChildren(grant);
    if ("reason" in children) return fail(ctx, grant, children, remainingMs);
    const record = recordOf(resolved.action, grantKey(grant));
    if ("reason" in record) return fail(ctx, grant, record, remainingMs);
    const previous = grant.status?.issued;
    if (!previous || !sameTarget(previous, record)) return recordFirst(ctx, grant, record);
    return applyPlan(ctx, grant, { resolved, record: previous, secret: children.secret }, remainingMs);
  }

  return async (key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> => {
    const cached = ctx.cache<AccessGrant>(accessGrantKindRef).get(key);
    if (!cached) return;
    if (isBeingDeleted(cached as KubernetesObject)) return finalize(ctx, cached);
    const updated = await ensureFinalizer(ctx.client, cached as KubernetesObject, accessGrantFinalizer);
    const grant = updated ? { ...cached, metadata: { ...cached.metadata, resourceVersion: updated.metadata?.resourceVersion } } : cached;
    const phase = grantPhase(grant.spec.expiresAt, now());
    if (phase.expired) return expire(ctx, grant);
    return converge(ctx, grant, phase.remainingMs);
  };
}

/** The record for the action; names the backend refuses (e.g. an invalid bucket) are the grant's error. */
function recordOf(action: GrantAction, key: string): IssuedRecord | Failure {
  try {
    return issuedRecordOf(action, key);
  } catch (err) {
    return { reason: AccessGrantReason.UnsupportedGrant, message: (err as Error).message };
  }
}

function nameTaken(kind: string, name: string): Failure {
  return { reason: AccessGrantReason.NameTaken, message: `${kind} "${name}" exists and is not controlled by this AccessGrant: rename the grant or remove that ${kind}` };
}

class NameTakenError extends Error {
  readonly failure: Failure;
  constructor(failure: Failure) {
    super(failure.message);
    this.failure = failure;
  }
}

/** The backend already has this plan and the Secret still holds the credentials. */
function isUpToDate(record: IssuedRecord, hash: string, secret: V1Secret | undefined): boolean {
  return record.planHash === hash && hasCredentials(secret ? decode(secret.data) : undefined);
}

/** The Secret is this grant's and still holds something. */
function holdsDataOf(secret: V1Secret, grant: AccessGrant): boolean {
  return isControlledBy(secret, grant as KubernetesObject) && Object.keys(secret.data ?? {}).length > 0;
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

/** Creates a child; one that already exists is kept only if this grant controls it. */
async function createOwned(grant: AccessGrant, kind: string, create: () => Promise<unknown>, read: () => Promise<KubernetesObject>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const existing = await read();
    if (!isControlledBy(existing, grant as KubernetesObject)) throw new NameTakenError(nameTaken(kind, existing.metadata?.name ?? ""));
  }
}

/** The controller as the manager registers it. */
export function accessGrantController(kubeConfig: KubeConfig, opts: { logger?: Logger; peerReader?: ServiceAccountRef; egress?: EgressPolicy } = {}): ControllerOptions {
  const reconcile = createAccessGrantReconciler({
    status: new StatusWriter(kubeConfig, accessGrantFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    core: kubeConfig.makeApiClient(CoreV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
    ...(opts.peerReader ? { peerReader: opts.peerReader } : {}),
    ...(opts.egress ? { egress: opts.egress } : {}),
  });
  let cache: ReconcileContext["cache"] | undefined;
  const grants = (): AccessGrant[] => cache?.<AccessGrant>(accessGrantKindRef).list() ?? [];
  const keys = (list: AccessGrant[]): ObjectKey[] => list.map((g) => ({ namespace: g.metadata?.namespace ?? "", name: g.metadata?.name ?? "" }));
  const inNamespace = (obj: KubernetesObject): ObjectKey[] => keys(grants().filter((g) => g.metadata?.namespace === obj.metadata?.namespace));
  // Projects change rarely and decide visibility: every grant is re-checked.
  const every = (): ObjectKey[] => keys(grants());
  return {
    name: accessGrantControllerName,
    for: accessGrantKindRef,
    reconcile: async (key, ctx) => {
      cache ??= ctx.cache;
      return reconcile(key, ctx);
    },
    concurrency: 2,
    watches: [
      { kind: resourceKindRef, map: inNamespace },
      { kind: providerKindRef, map: inNamespace },
      { kind: peerKindRef, map: peerGrantKeys(() => cache, grants) },
      { kind: projectKindRef, map: every },
    ],
  };
}

/**
 * Which grants a Peer event concerns: those whose grantee is that Peer, and only when its
 * approval changed (or it appeared or went). A status heartbeat enqueues nothing. The approval
 * is read from the cache (already updated when handlers run), so a deletion is seen as one.
 */
export function peerGrantKeys(cache: () => ReconcileContext["cache"] | undefined, grants: () => AccessGrant[]): (obj: KubernetesObject) => ObjectKey[] {
  const tracker = new PeerApprovalTracker();
  return (obj) => {
    const name = obj.metadata?.name ?? "";
    const store = cache();
    const current = store ? store<Peer>(peerKindRef).get({ name }) : (obj as Peer);
    if (!tracker.changed(name, current?.spec?.approval)) return [];
    return grants()
      .filter((g) => g.spec.grantee.kind === "Peer" && g.spec.grantee.name === name)
      .map((g) => ({ namespace: g.metadata?.namespace ?? "", name: g.metadata?.name ?? "" }));
  };
}
