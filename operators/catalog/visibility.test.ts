import assert from "node:assert/strict";
import {
  type Caller,
  type PeerApproval,
  type ProjectMemberships,
  type ResourceVisibility,
  type SignatureCheck,
  decideVisibility,
} from "./visibility.ts";

const memberships: ProjectMemberships = new Map([
  ["ocean", { users: ["alice"], groups: ["oceanographers"], clusters: ["cluster-b"] }],
  ["forest", { users: ["bob"], groups: [], clusters: ["cluster-c"] }],
]);

const publicRes: ResourceVisibility = { visibility: "public" };
const privateRes: ResourceVisibility = { visibility: "private", namespace: "data" };
const oceanRes: ResourceVisibility = { visibility: "restricted", projects: ["ocean"] };
const bothRes: ResourceVisibility = { visibility: "restricted", projects: ["forest", "ocean"] };

const alice: Caller = { kind: "local", user: "alice", groups: ["system:authenticated"] };
const carol: Caller = { kind: "local", user: "carol", groups: ["system:authenticated"], listableNamespaces: new Set(["data"]) };
const carolInGroup: Caller = { kind: "local", user: "carol", groups: ["system:authenticated", "oceanographers"] };

function peer(cluster: string, approval: PeerApproval, signature: SignatureCheck, project?: string): Caller {
  return { kind: "peer", cluster, approval, signature, project };
}

function check(resource: ResourceVisibility, caller: Caller, visible: boolean, reason: string): void {
  const d = decideVisibility(resource, caller, memberships);
  assert.deepEqual({ visible: d.visible, reason: d.reason }, { visible, reason }, d.message);
  assert.ok(d.message.length > 0);
}

describe("decideVisibility", () => {
  describe("local users", () => {
    it("see public resources, and private ones in namespaces where RBAC lets them list Resources", () => {
      check(publicRes, carol, true, "Public");
      check(privateRes, carol, true, "PrivateLocalUser");
      check(privateRes, { ...carol, listableNamespaces: "all" }, true, "PrivateLocalUser");
      check(privateRes, { ...carol, listableNamespaces: new Set(["other"]) }, false, "PrivateNotListable");
      check(privateRes, alice, false, "PrivateNotListable");
      check({ visibility: "private" }, carol, false, "PrivateNotListable");
    });

    it("see a restricted resource only as a member of one of its projects, by user name or by group", () => {
      check(oceanRes, alice, true, "ProjectMember");
      check(oceanRes, carolInGroup, true, "ProjectMember");
      check(oceanRes, carol, false, "NotProjectMember");
      check(bothRes, { kind: "local", user: "bob", groups: [] }, true, "ProjectMember");
      check({ visibility: "restricted", projects: ["forest"] }, alice, false, "NotProjectMember");
    });

    it("do not see a restricted resource that lists no project, or a project that does not exist", () => {
      check({ visibility: "restricted" }, alice, false, "NotProjectMember");
      check({ visibility: "restricted", projects: ["nonexistent"] }, alice, false, "NotProjectMember");
    });
  });

  describe("peers", () => {
    it("an Accepted peer's verified request sees public resources, never private ones", () => {
      check(publicRes, peer("cluster-b", "Accepted", "Verified"), true, "Public");
      check(privateRes, peer("cluster-b", "Accepted", "Verified"), false, "PrivateNotForPeers");
      check(privateRes, peer("cluster-b", "Accepted", "Verified", "ocean"), false, "PrivateNotForPeers");
    });

    it("Pending, Rejected and unknown peers see nothing, public included", () => {
      check(publicRes, peer("cluster-b", "Pending", "Verified"), false, "PeerPending");
      check(publicRes, peer("cluster-b", "Rejected", "Verified"), false, "PeerRejected");
      check(publicRes, peer("cluster-x", "Unknown", "Verified"), false, "PeerUnknown");
      check(oceanRes, peer("cluster-b", "Pending", "Verified", "ocean"), false, "PeerPending");
    });

    it("an unsigned, badly signed or replayed request sees nothing, even from an Accepted peer", () => {
      check(publicRes, peer("cluster-b", "Accepted", "Missing"), false, "UnsignedRequest");
      check(publicRes, peer("cluster-b", "Accepted", "Invalid"), false, "InvalidSignature");
      check(publicRes, peer("cluster-b", "Accepted", "Replayed"), false, "ReplayedRequest");
      check(oceanRes, peer("cluster-b", "Accepted", "Replayed", "ocean"), false, "ReplayedRequest");
    });

    it("a restricted resource is seen only by a request for one of its projects from a peer allowed in that project", () => {
      check(oceanRes, peer("cluster-b", "Accepted", "Verified", "ocean"), true, "PeerProjectAllowed");
      check(bothRes, peer("cluster-c", "Accepted", "Verified", "forest"), true, "PeerProjectAllowed");
      check(oceanRes, peer("cluster-b", "Accepted", "Verified"), false, "PeerNoProject");
      check(oceanRes, peer("cluster-c", "Accepted", "Verified", "forest"), false, "PeerProjectNotListed");
      check(oceanRes, peer("cluster-c", "Accepted", "Verified", "ocean"), false, "PeerNotInProject");
      check({ visibility: "restricted", projects: ["ghost"] }, peer("cluster-b", "Accepted", "Verified", "ghost"), false, "PeerNotInProject");
    });

    it("a peer cannot borrow a local user's membership by naming it", () => {
      check(oceanRes, peer("alice", "Accepted", "Verified", "ocean"), false, "PeerNotInProject");
    });
  });

  it("hides a resource whose visibility it does not know, from everyone", () => {
    check({ visibility: "Public" }, alice, false, "UnknownVisibility");
    check({ visibility: "" }, peer("cluster-b", "Accepted", "Verified"), false, "UnknownVisibility");
  });

  it("over the whole matrix, nothing private and nothing foreign-restricted ever reaches a peer", () => {
    const approvals: PeerApproval[] = ["Accepted", "Pending", "Rejected", "Unknown"];
    const signatures: SignatureCheck[] = ["Verified", "Missing", "Invalid", "Replayed"];
    const projects = [undefined, "ocean", "forest", "ghost"];
    const clusters = ["cluster-b", "cluster-c", "cluster-x"];
    let seen = 0;
    let cases = 0;
    for (const approval of approvals)
      for (const signature of signatures)
        for (const project of projects)
          for (const cluster of clusters) {
            const caller = peer(cluster, approval, signature, project);
            cases++;
            assert.equal(decideVisibility(privateRes, caller, memberships).visible, false, JSON.stringify(caller));
            const restricted = decideVisibility(oceanRes, caller, memberships).visible;
            const expected = approval === "Accepted" && signature === "Verified" && project === "ocean" && cluster === "cluster-b";
            assert.equal(restricted, expected, JSON.stringify(caller));
            const pub = decideVisibility(publicRes, caller, memberships).visible;
            assert.equal(pub, approval === "Accepted" && signature === "Verified", JSON.stringify(caller));
            if (restricted) seen++;
          }
    assert.equal(cases, 4 * 4 * 4 * 3);
    assert.equal(seen, 1);
  });
});
