// Who may see a catalog Resource: the one decision every read path (local search, federated
// search, grant requests) takes, so that no path can be more generous than another.
//   public     — every local user, and any Accepted peer whose request is signed and fresh;
//   private    — local users whom Kubernetes RBAC lets list Resources in its namespace (the
//                caller's `listableNamespaces`, checked by the API with access reviews), never
//                a peer;
//   restricted — only callers acting for one of the Resource's projects: a local user who is a
//                member of the project (by user name or group), or an Accepted peer's signed
//                request made for a project that lists that peer's cluster.
// Fails closed: anything unknown (visibility value, peer, signature state) hides the Resource.

export type Visibility = "public" | "private" | "restricted";

/** What a Resource declares (spec.visibility, spec.projects). */
export interface ResourceVisibility {
  visibility: Visibility | (string & {});
  projects?: readonly string[];
  /** The Resource's namespace: a private Resource is shown to those who may list Resources there. */
  namespace?: string;
}

/** A Project and who may act for it. */
export interface ProjectMembers {
  users: readonly string[];
  groups: readonly string[];
  /** Peer cluster names whose requests may be made for this project. */
  clusters: readonly string[];
}

/** Projects by name (a missing project has no members). */
export type ProjectMemberships = ReadonlyMap<string, ProjectMembers>;

export type PeerApproval = "Accepted" | "Pending" | "Rejected" | "Unknown";

/** The outcome of checking a federation request's signature and replay window (done elsewhere). */
export type SignatureCheck = "Verified" | "Missing" | "Invalid" | "Replayed";

/**
 * Namespaces in which RBAC lets a local caller list Resources: "all" (a cluster-wide right, or an
 * AccessGrant's grantee, whom a user RBAC allowed to create that grant named), or a set.
 * Absent: unknown, so private Resources stay hidden (fail closed).
 */
export type ListableNamespaces = ReadonlySet<string> | "all";

export type Caller =
  | { kind: "local"; user: string; groups: readonly string[]; listableNamespaces?: ListableNamespaces }
  | {
      kind: "peer";
      /** The peer cluster's name (its Peer object). */
      cluster: string;
      approval: PeerApproval;
      signature: SignatureCheck;
      /** The project the request says it acts for, if any. */
      project?: string;
    };

export const VisibilityReason = {
  Public: "Public",
  PrivateLocalUser: "PrivateLocalUser",
  PrivateNotListable: "PrivateNotListable",
  PrivateNotForPeers: "PrivateNotForPeers",
  ProjectMember: "ProjectMember",
  NotProjectMember: "NotProjectMember",
  PeerProjectAllowed: "PeerProjectAllowed",
  PeerNoProject: "PeerNoProject",
  PeerProjectNotListed: "PeerProjectNotListed",
  PeerNotInProject: "PeerNotInProject",
  UnsignedRequest: "UnsignedRequest",
  InvalidSignature: "InvalidSignature",
  ReplayedRequest: "ReplayedRequest",
  PeerPending: "PeerPending",
  PeerRejected: "PeerRejected",
  PeerUnknown: "PeerUnknown",
  UnknownVisibility: "UnknownVisibility",
} as const;
export type VisibilityReason = (typeof VisibilityReason)[keyof typeof VisibilityReason];

export interface VisibilityDecision {
  visible: boolean;
  reason: VisibilityReason;
  message: string;
}

function allow(reason: VisibilityReason, message: string): VisibilityDecision {
  return { visible: true, reason, message };
}

function deny(reason: VisibilityReason, message: string): VisibilityDecision {
  return { visible: false, reason, message };
}

const signatureRefusals: Record<Exclude<SignatureCheck, "Verified">, VisibilityDecision> = {
  Missing: deny(VisibilityReason.UnsignedRequest, "the federation request is not signed"),
  Invalid: deny(VisibilityReason.InvalidSignature, "the federation request's signature does not verify against the peer's key"),
  Replayed: deny(VisibilityReason.ReplayedRequest, "the federation request was replayed or is outside the replay window"),
};

const approvalRefusals: Record<Exclude<PeerApproval, "Accepted">, VisibilityDecision> = {
  Pending: deny(VisibilityReason.PeerPending, "the peer is not approved yet (Pending)"),
  Rejected: deny(VisibilityReason.PeerRejected, "the peer was rejected"),
  Unknown: deny(VisibilityReason.PeerUnknown, "the caller is not a known peer"),
};

function isMember(user: string, groups: readonly string[], members: ProjectMembers | undefined): boolean {
  if (!members) return false;
  return members.users.includes(user) || groups.some((g) => members.groups.includes(g));
}

function mayList(listable: ListableNamespaces | undefined, namespace: string | undefined): boolean {
  if (listable === "all") return true;
  return namespace !== undefined && listable !== undefined && listable.has(namespace);
}

function decidePrivate(resource: ResourceVisibility, caller: Extract<Caller, { kind: "local" }>): VisibilityDecision {
  if (mayList(caller.listableNamespaces, resource.namespace)) return allow(VisibilityReason.PrivateLocalUser, "private resource; the caller may list Resources in its namespace");
  return deny(VisibilityReason.PrivateNotListable, `private resource; RBAC does not let ${caller.user || "the caller"} list Resources in namespace ${resource.namespace ?? "(unknown)"}`);
}

function decideForLocalUser(
  resource: ResourceVisibility,
  caller: Extract<Caller, { kind: "local" }>,
  memberships: ProjectMemberships,
): VisibilityDecision {
  if (resource.visibility === "public") return allow(VisibilityReason.Public, "public resource");
  if (resource.visibility === "private") return decidePrivate(resource, caller);
  const project = (resource.projects ?? []).find((p) => isMember(caller.user, caller.groups, memberships.get(p)));
  return project
    ? allow(VisibilityReason.ProjectMember, `user ${caller.user} is a member of project ${project}`)
    : deny(VisibilityReason.NotProjectMember, `user ${caller.user} is a member of none of the resource's projects`);
}

function decideForPeerProject(
  resource: ResourceVisibility,
  caller: Extract<Caller, { kind: "peer" }>,
  memberships: ProjectMemberships,
): VisibilityDecision {
  const project = caller.project;
  if (!project) return deny(VisibilityReason.PeerNoProject, "a restricted resource needs a request made for one of its projects");
  if (!(resource.projects ?? []).includes(project)) {
    return deny(VisibilityReason.PeerProjectNotListed, `project ${project} is not one of the resource's projects`);
  }
  if (!memberships.get(project)?.clusters.includes(caller.cluster)) {
    return deny(VisibilityReason.PeerNotInProject, `peer ${caller.cluster} may not act for project ${project}`);
  }
  return allow(VisibilityReason.PeerProjectAllowed, `peer ${caller.cluster} acts for project ${project}`);
}

function decideForPeer(
  resource: ResourceVisibility,
  caller: Extract<Caller, { kind: "peer" }>,
  memberships: ProjectMemberships,
): VisibilityDecision {
  if (caller.signature !== "Verified") return signatureRefusals[caller.signature] ?? signatureRefusals.Invalid;
  if (caller.approval !== "Accepted") return approvalRefusals[caller.approval] ?? approvalRefusals.Unknown;
  if (resource.visibility === "public") return allow(VisibilityReason.Public, "public resource");
  if (resource.visibility === "private") return deny(VisibilityReason.PrivateNotForPeers, "private resources are never served to peers");
  return decideForPeerProject(resource, caller, memberships);
}

const knownVisibilities: readonly string[] = ["public", "private", "restricted"];

/** Whether `caller` may see a Resource declaring `resource`, and why. */
export function decideVisibility(
  resource: ResourceVisibility,
  caller: Caller,
  memberships: ProjectMemberships,
): VisibilityDecision {
  if (!knownVisibilities.includes(resource.visibility)) {
    return deny(VisibilityReason.UnknownVisibility, `unknown visibility ${JSON.stringify(resource.visibility)}: hidden from everyone`);
  }
  return caller.kind === "local" ? decideForLocalUser(resource, caller, memberships) : decideForPeer(resource, caller, memberships);
}
