import assert from "node:assert/strict";
import { ipFilterFor, multiaddrIp, planRefusal } from "./refusal.ts";

const P = "/p2p/12D3KooWMLqUaEiRrCYG44Kb7eVQq2Ki5ciWQrfdwGCMGc5jp1yM";

describe("refusal", () => {
  it("reads the IP of ip4/ip6 multiaddrs and none of DNS ones", () => {
    assert.deepEqual(multiaddrIp(`/ip4/10.1.2.3/tcp/4001${P}`), { family: "ip4", ip: "10.1.2.3" });
    assert.deepEqual(multiaddrIp("/ip6/fd00::1/tcp/4001"), { family: "ip6", ip: "fd00::1" });
    assert.equal(multiaddrIp("/dns4/kubo.example/tcp/4001"), undefined);
    assert.equal(ipFilterFor("ip6", "fd00::1"), "/ip6/fd00::1/ipcidr/128");
  });

  it("filters the refused peer's own IPs, once each", () => {
    const plan = planRefusal(["/ip4/10.0.0.9/tcp/4001", `/ip4/10.0.0.9/tcp/4002${P}`, "/ip6/fd00::9/tcp/4001"], ["/ip4/10.0.0.2/tcp/4001"], ["/ip4/10.0.0.1/tcp/4001"]);
    assert.deepEqual(plan.filters, ["/ip4/10.0.0.9/ipcidr/32", "/ip6/fd00::9/ipcidr/128"]);
    assert.deepEqual(plan.unfiltered, []);
  });

  it("never filters an IP shared with a kept peer, this node, or an unspecified address", () => {
    const plan = planRefusal(
      ["/ip4/127.0.0.1/tcp/4001", "/ip4/10.0.0.2/tcp/4009", "/ip4/0.0.0.0/tcp/4001", "/dns4/x/tcp/1"],
      ["/ip4/10.0.0.2/tcp/4001"],
      ["/ip4/127.0.0.1/tcp/5000"],
    );
    assert.deepEqual(plan.filters, []);
    assert.deepEqual(plan.unfiltered, [
      { ip: "127.0.0.1", why: "this node listens on it" },
      { ip: "10.0.0.2", why: "shared with a peer that is not refused" },
      { ip: "0.0.0.0", why: "unspecified address" },
    ]);
  });
});
