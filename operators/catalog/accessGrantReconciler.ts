// The AccessGrant controller: issues the credentials a grant stands for in its Resource's backend
// (PostgreSQL view + read role, PostgreSQL schema + write role, S3 prefix/object + key), keeps them
// in the Secret `<grant>-credentials` (owned by the grant, readable by the grantee only), and
// revokes them at spec.expiresAt or on deletion (finalizer). The password or key is generated once
// and kept in the Secret; backend names derive from the grant's UID, so a restart converges.
import { CoreV1Api, type KubeConfig, type KubernetesObject, RbacAuthorizationV1Api, type V1Secret } from "@kubernetes/client-node";
import type winston from "winston";
import type { ControllerOptions, ObjectKey, ReconcileContext, ReconcileResult, Reconciler } from "../runtime/index.ts";
import { conditionMatches, setCondition } from "../runtime/conditions.ts";
import { isAlreadyExists, isNotFound } from "../runtime/errors.ts";
import { EventRecorder } from "../runtime/events.ts";
import { ensureFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from "../runtime/finalizers.ts";
import { controllerRef } from "../runtime/ownerReferences.ts";
import { StatusWriter } from "../runtime/status.ts";
import { type AccessGrant, accessGrantKind } from "../schema/accessGrant.ts";
import { kindRefOf } from "../schema/kind.ts";
import { peerKind } from "../schema/peer.ts";
import { type Project, projectKind } from "../schema/project.ts";
import type { Provider } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import {
  AccessGrantReason,
  credentialsSecretName,
  decideGrantAction,
  type GrantAction,
  granteeCaller,
  granteeSubject,
  type ServiceAccountRef,
  grantKey,
  grantPhase,
} from "./accessGrantPlan.ts";
import { adminSecretName, type GrantAccess, issueGrant, revokeGrant } from "./accessGrantBackend.ts";
import { providerKindRef, reportingInstance, resourceKindRef } from "./providerReconciler.ts";
import { decideVisibility, type PeerApproval, type ProjectMemberships } from "./visibility.ts";

export const accessGrantControllerName = "access-grant";
export const accessGrantFinalizer = "archipel.io/access-grant-revoke";
export const accessGrantFieldManager = "archipel-access-grant-controller";
const reportingController = "archipel.io/access-grant-controller";
export const accessGrantKindRef = kindRefOf(accessGrantKind);
const peerKindRef = kindRefOf(peerKind);
const projectKindRef = kindRefOf(projectKind);
const readyType = "Ready";
/** Re-check a live grant at least this often (backend drift, e.g. a role dropped by hand). */
const resyncMs = 10 * 60 * 1000;

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
  return { secretRef: s.secretRef, access: s.access, issuedAt: s.issuedAt };
}

export function createAccessGrantReconciler(deps: AccessGrantDeps): Reconciler {
  const now = deps.now ?? ((): Date => new Date());

  async function readSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      return decode((await deps.core.readNamespacedSecret({ namespace, name })).data);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function deleteIgnoringMissing(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
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
    const approval = (peer: string): PeerApproval => {
      const p = ctx.cache<KubernetesObject & { spec?: { approval?: PeerApproval } }>(peerKindRef).get({ name: peer });
      return p?.spec?.approval ?? "Unknown";
    };
    const caller = granteeCaller(grant.spec.grantee, approval);
    const decision = decideVisibility({ visibility: resource.spec.visibility, projects: resource.spec.projects ?? [] }, caller, memberships(ctx));
    return decision.visible ? undefined : { reason: AccessGrantReason.NotVisible, message: `the grantee may not see Resource "${resource.metadata?.name}": ${decision.message}` };
  }

  async function writeCredentials(grant: AccessGrant, data: Record<string, string>, existing: boolean): Promise<void> {
    const namespace = grant.metadata?.namespace ?? "";
    const name = credentialsSecretName(grant.metadata?.name ?? "");
    const body: V1Secret = { metadata: { name, namespace, ownerReferences: [controllerRef(grant as KubernetesObject)], labels: { "archipel.io/access-grant": grant.metadata?.name ?? "" } }, type: "Opaque", stringData: data };
    if (existing) await deps.core.replaceNamespacedSecret({ namespace, name, body });
    else await deps.core.createNamespacedSecret({ namespace, body });
  }

  async function ensureReader(grant: AccessGrant): Promise<void> {
    const subject = granteeSubject(grant.spec.grantee, deps.peerReader);
    if (!subject) return;
    const namespace = grant.metadata?.namespace ?? "";
    const secret = credentialsSecretName(grant.metadata?.name ?? "");
    const metadata = { name: `${secret}-reader`, namespace, ownerReferences: [controllerRef(grant as KubernetesObject)] };
    const role = { metadata, rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [secret], verbs: ["get"] }] };
    const binding = { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: metadata.name }, subjects: [subject] };
    await createOrKeep(() => deps.rbac.createNamespacedRole({ namespace, body: role }));
    await createOrKeep(() => deps.rbac.createNamespacedRoleBinding({ namespace, body: binding }));
  }

  async function issue(ctx: ReconcileContext, grant: AccessGrant, resolved: Resolved, remainingMs: number): Promise<ReconcileResult> {
    const namespace = grant.metadata?.namespace ?? "";
    const secretName = credentialsSecretName(grant.metadata?.name ?? "");
    const existing = await readSecret(namespace, secretName);
    const result = await issueGrant({ action: resolved.action, key: grantKey(grant), adminCreds: resolved.adminCreds, existing, expiresAt: new Date(grant.spec.expiresAt) });
    if (!existing || !sameData(existing, result.secret)) await writeCredentials(grant, result.secret, existing !== undefined);
    await ensureReader(grant);
    const access: GrantAccess = result.access;
    const issuedAt = grant.status?.issuedAt ?? now().toISOString();
    await writeStatus(ctx, grant, { status: "True", reason: AccessGrantReason.Issued, message: `credentials in Secret ${secretName} until ${grant.spec.expiresAt}` }, { secretRef: { name: secretName }, access, issuedAt });
    return { requeueAfter: Math.min(remainingMs, resyncMs) };
  }

  /** Backend first, then the Secret: a failed revocation keeps the finalizer and is retried. */
  async function revoke(ctx: ReconcileContext, grant: AccessGrant): Promise<void> {
    const resolved = await resolveForRevoke(ctx, grant);
    if (resolved) await revokeGrant(resolved.action, grantKey(grant), resolved.adminCreds);
    else ctx.logger.warn("access grant revoked without its backend (Resource, Provider or its credentials gone)", { namespace: grant.metadata?.namespace, name: grant.metadata?.name });
    const namespace = grant.metadata?.namespace ?? "";
    await deleteIgnoringMissing(() => deps.core.deleteNamespacedSecret({ namespace, name: credentialsSecretName(grant.metadata?.name ?? "") }));
  }

  async function resolveForRevoke(ctx: ReconcileContext, grant: AccessGrant): Promise<Resolved | undefined> {
    const namespace = grant.metadata?.namespace ?? "";
    const resource = ctx.cache<Resource>(resourceKindRef).get({ namespace, name: grant.spec.resourceRef.name });
    const provider = resource && ctx.cache<Provider>(providerKindRef).get({ namespace, name: resource.spec.providerRef.name });
    if (!resource || !provider) return undefined;
    const decision = decideGrantAction(grant.spec.mode, resource, provider);
    if (!decision.ok) return undefined;
    const adminCreds = await readSecret(namespace, adminSecretName(decision.action));
    return adminCreds ? { action: decision.action, adminCreds } : undefined;
  }

  async function expire(ctx: ReconcileContext, grant: AccessGrant): Promise<void> {
    if (!grant.status?.revokedAt) await revoke(ctx, grant);
    const revokedAt = grant.status?.revokedAt ?? now().toISOString();
    await writeStatus(ctx, grant, { status: "False", reason: AccessGrantReason.Expired, message: `expired at ${grant.spec.expiresAt}; credentials revoked` }, { secretRef: undefined, access: grant.status?.access, issuedAt: grant.status?.issuedAt, revokedAt });
  }

  async function finalize(ctx: ReconcileContext, grant: AccessGrant): Promise<void> {
    if (!hasFinalizer(grant as KubernetesObject, accessGrantFinalizer)) return;
    await revoke(ctx, grant);
    await removeFinalizer(ctx.client, grant as KubernetesObject, accessGrantFinalizer);
  }

  async function converge(ctx: ReconcileContext, grant: AccessGrant, remainingMs: number): Promise<ReconcileResult> {
    const resolved = await resolve(ctx, grant);
    if ("reason" in resolved) {
      await writeStatus(ctx, grant, { status: "False", ...resolved }, keptFields(grant));
      return { requeueAfter: Math.min(remainingMs, 30_000) };
    }
    try {
      return await issue(ctx, grant, resolved, remainingMs);
    } catch (err) {
      // A BackendError (postgresErrors.ts) or SqlSpecError carries its reason and a message of ours; the server's text only reaches a debug log.
      const failure = err as { reason?: string; detail?: string };
      if (failure.detail) ctx.logger.debug("access grant backend failure", { namespace: grant.metadata?.namespace, name: grant.metadata?.name, detail: failure.detail });
      await writeStatus(ctx, grant, { status: "False", reason: failure.reason ?? AccessGrantReason.BackendError, message: (err as Error).message }, keptFields(grant));
      throw err;
    }
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

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

async function createOrKeep(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** The controller as the manager registers it. */
export function accessGrantController(kubeConfig: KubeConfig, opts: { logger?: winston.Logger; peerReader?: ServiceAccountRef } = {}): ControllerOptions {
  const reconcile = createAccessGrantReconciler({
    status: new StatusWriter(kubeConfig, accessGrantFieldManager),
    events: new EventRecorder(kubeConfig, { reportingController, reportingInstance: reportingInstance(), ...(opts.logger ? { logger: opts.logger } : {}) }),
    core: kubeConfig.makeApiClient(CoreV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
    ...(opts.peerReader ? { peerReader: opts.peerReader } : {}),
  });
  let grants: (() => AccessGrant[]) | undefined;
  const keys = (list: AccessGrant[]): ObjectKey[] => list.map((g) => ({ namespace: g.metadata?.namespace ?? "", name: g.metadata?.name ?? "" }));
  const inNamespace = (obj: KubernetesObject): ObjectKey[] => keys((grants?.() ?? []).filter((g) => g.metadata?.namespace === obj.metadata?.namespace));
  // Peers and Projects change rarely and decide visibility: every grant is re-checked.
  const every = (): ObjectKey[] => keys(grants?.() ?? []);
  return {
    name: accessGrantControllerName,
    for: accessGrantKindRef,
    reconcile: async (key, ctx) => {
      grants ??= (): AccessGrant[] => ctx.cache<AccessGrant>(accessGrantKindRef).list();
      return reconcile(key, ctx);
    },
    concurrency: 2,
    watches: [
      { kind: resourceKindRef, map: inNamespace },
      { kind: providerKindRef, map: inNamespace },
      { kind: peerKindRef, map: every },
      { kind: projectKindRef, map: every },
    ],
  };
}
