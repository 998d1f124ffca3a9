import assert from "node:assert/strict";
import { planPeering } from "./peering.ts";

const A = "12D3KooWMLqUaEiRrCYG44Kb7eVQq2Ki5ciWQrfdwGCMGc5jp1yM";
const B = "12D3KooWKq4njFBNWgHTi1qskBCoJntWdLqv62mkGPFxahHYME7j";

describe("peering plan", () => {
  it("adds wanted peers with full /p2p/ multiaddrs and removes unwanted ones", () => {
    const plan = planPeering([{ peerId: B, addrs: ["/ip4/10.0.0.2/tcp/4001"] }], [{ peerId: A, addrs: ["/ip4/10.0.0.1/tcp/4001"] }]);
    assert.deepEqual(plan, { add: [[`/ip4/10.0.0.1/tcp/4001/p2p/${A}`]], remove: [B] });
  });

  it("changes nothing when the sets match, with or without the /p2p/ suffix, in any order", () => {
    const current = [{ peerId: A, addrs: ["/ip4/10.0.0.1/tcp/4001", "/ip4/10.0.0.9/tcp/4001"] }];
    const wanted = [{ peerId: A, addrs: [`/ip4/10.0.0.9/tcp/4001/p2p/${A}`, "/ip4/10.0.0.1/tcp/4001"] }];
    assert.deepEqual(planPeering(current, wanted), { add: [], remove: [] });
  });

  it("re-adds a peer whose addresses changed, with all its addresses in one add", () => {
    const plan = planPeering([{ peerId: A, addrs: ["/ip4/10.0.0.1/tcp/4001"] }], [{ peerId: A, addrs: ["/ip4/10.0.0.1/tcp/4002", "/ip4/10.0.0.1/tcp/4001", `/ip4/10.0.0.1/tcp/4001/p2p/${A}`] }]);
    assert.deepEqual(plan, { add: [[`/ip4/10.0.0.1/tcp/4002/p2p/${A}`, `/ip4/10.0.0.1/tcp/4001/p2p/${A}`]], remove: [] });
  });

  it("ignores wanted peers without any address (nothing to dial yet)", () => {
    assert.deepEqual(planPeering([], [{ peerId: A, addrs: [] }]), { add: [], remove: [] });
  });
});
