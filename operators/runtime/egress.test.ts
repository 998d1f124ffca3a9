// The egress decision for addresses no test may ever connect to: only this pure function sees them.
import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { decideAddress, decideUrl, defaultEgressPolicy, type EgressPolicy, egressPolicyFrom, nextHop, parseCidr, parseCidrList, withinBase } from "./egress.ts";

const policy = (over: Partial<EgressPolicy> = {}): EgressPolicy => ({ ...defaultEgressPolicy, ...over });
const rule = (address: string, p: EgressPolicy = defaultEgressPolicy): string => {
  const d = decideAddress(address, p);
  return d.allowed ? "allowed" : d.rule;
};

describe("egress policy: decideAddress", () => {
  const refused: [string, string][] = [
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:127.0.0.1", "loopback"],
    ["169.254.169.254", "link-local"],
    ["::ffff:169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fd00:ec2::254", "private"],
    ["fd12:3456::1", "private"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.254", "private"],
    ["192.168.1.1", "private"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["100.64.0.1", "shared-address-space"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["64:ff9b::a9fe:a9fe", "reserved"],
  ];
  for (const [address, want] of refused) {
    it(`refuses ${address} by default (${want})`, () => assert.equal(rule(address), want));
  }

  it("allows public addresses, and the ranges next to the private ones", () => {
    for (const a of ["93.184.216.34", "172.15.255.255", "172.32.0.1", "192.169.0.1", "11.0.0.1", "2001:db8::1", "2606:4700::1111", "::ffff:8.8.8.8"]) {
      assert.equal(rule(a), "allowed", a);
    }
  });

  it("refuses what is not an IP address (a name must be resolved first)", () => {
    assert.equal(rule("localhost"), "not-an-address");
    assert.equal(rule("example.com"), "not-an-address");
    assert.equal(rule(""), "not-an-address");
  });

  it("refuses the configured cluster ranges, even where the address would be public", () => {
    const p = policy({ cluster: parseCidrList("11.96.0.0/12, 2001:db8:42::/64") });
    assert.equal(rule("11.96.0.10", p), "cluster");
    assert.equal(rule("11.111.255.1", p), "cluster");
    assert.equal(rule("11.112.0.1", p), "allowed");
    assert.equal(rule("2001:db8:42::7", p), "cluster");
    assert.equal(rule("2001:db8:43::7", p), "allowed");
  });

  it("a cluster range inside a private range is still refused when the private range is allowed", () => {
    const p = policy({ allow: parseCidrList("10.0.0.0/8"), cluster: parseCidrList("10.96.0.0/12") });
    assert.equal(rule("10.1.2.3", p), "allowed");
    assert.equal(rule("10.96.0.1", p), "cluster");
  });

  it("the allow-list opens exactly what it names (loopback for the test suite)", () => {
    const p = policy({ allow: parseCidrList("127.0.0.0/8,::1/128") });
    assert.equal(rule("127.0.0.1", p), "allowed");
    assert.equal(rule("::1", p), "allowed");
    assert.equal(rule("::ffff:127.0.0.1", p), "allowed");
    assert.equal(rule("169.254.169.254", p), "link-local");
    assert.equal(rule("10.0.0.1", p), "private");
    assert.equal(rule("0.0.0.0", p), "unspecified");
  });

  it("an allow of one address opens only that address", () => {
    const p = policy({ allow: [parseCidr("192.168.10.5")] });
    assert.equal(rule("192.168.10.5", p), "allowed");
    assert.equal(rule("192.168.10.6", p), "private");
  });

  it("an allow of a cluster range with the same prefix wins (the administrator said so)", () => {
    const p = policy({ allow: parseCidrList("10.96.0.0/12"), cluster: parseCidrList("10.96.0.0/12") });
    assert.equal(rule("10.96.0.1", p), "allowed");
  });

  it("says which range refused and how to allow it", () => {
    const d = decideAddress("169.254.169.254", defaultEgressPolicy);
    assert.equal(d.allowed, false);
    assert.match(!d.allowed ? d.message : "", /169\.254\.169\.254 is in a link-local range \(169\.254\.0\.0\/16\).*--egress-allow-cidrs/);
  });
});

describe("egress policy: parseCidr", () => {
  it("parses IPv4, IPv6, single addresses and mapped ranges", () => {
    assert.deepEqual({ ...parseCidr("10.1.2.3/8"), text: "" }, { family: 4, network: 10n << 24n, prefix: 8, text: "" });
    assert.equal(parseCidr("fd00::/8").prefix, 8);
    assert.equal(parseCidr("::1").prefix, 128);
    assert.equal(parseCidr("127.0.0.1").prefix, 32);
    const mapped = parseCidr("::ffff:127.0.0.0/104");
    assert.equal(mapped.family, 4);
    assert.equal(mapped.prefix, 8);
  });

  it("refuses what is not a range, naming it", () => {
    assert.throws(() => parseCidr("10.0.0.0/33"), /"10\.0\.0\.0\/33": the prefix length must be 0-32/);
    assert.throws(() => parseCidr("ten/8"), /"ten\/8" is not a CIDR range/);
    assert.throws(() => parseCidr("10.0.0.0/x"), /prefix length/);
    assert.deepEqual(parseCidrList(""), []);
    assert.deepEqual(parseCidrList(undefined), []);
  });
});

describe("egress policy: decideUrl", () => {
  it("decides an IP literal host without DNS, brackets included", () => {
    const d = (u: string, p = defaultEgressPolicy, purpose: "data" | "peer" = "data"): string => {
      const r = decideUrl(new URL(u), purpose, p);
      return r.allowed ? "allowed" : r.rule;
    };
    assert.equal(d("http://127.0.0.1:8080/x"), "loopback");
    assert.equal(d("http://[::1]:8080/x"), "loopback");
    assert.equal(d("http://[::ffff:127.0.0.1]/x"), "loopback");
    assert.equal(d("http://2130706433/x"), "loopback"); // the URL parser makes it 127.0.0.1
    assert.equal(d("http://0x7f.1/x"), "loopback");
    assert.equal(d("http://169.254.169.254/latest/meta-data/"), "link-local");
    assert.equal(d("http://data.example/x"), "allowed"); // a name: the connection's lookup decides
    assert.equal(d("file:///etc/passwd"), "scheme");
    assert.equal(d("https://user:pw@data.example/"), "userinfo");
  });

  it("refuses plain-HTTP peers unless configured for tests", () => {
    assert.equal(decideUrl(new URL("http://b.example:8443"), "peer", defaultEgressPolicy).allowed, false);
    const d = decideUrl(new URL("http://b.example:8443"), "peer", defaultEgressPolicy);
    assert.equal(d.allowed ? "" : d.rule, "plain-http-peer");
    assert.equal(decideUrl(new URL("https://b.example:8443"), "peer", defaultEgressPolicy).allowed, true);
    assert.equal(decideUrl(new URL("http://b.example:8443"), "peer", policy({ allowHttpPeers: true })).allowed, true);
    assert.equal(decideUrl(new URL("http://b.example:8443"), "data", defaultEgressPolicy).allowed, true);
  });
});

describe("egress policy: withinBase (parsed origin and path segments)", () => {
  const base = "https://a.example/data";
  it("admits the base itself and what is under it", () => {
    assert.equal(withinBase(base, "https://a.example/data"), true);
    assert.equal(withinBase(base, "https://a.example/data/"), true);
    assert.equal(withinBase(base, "https://a.example/data/x/y.tif?v=1"), true);
    assert.equal(withinBase("https://a.example/data/", "https://a.example/data/x"), true);
    assert.equal(withinBase("https://A.Example:443/data", "https://a.example/data/x"), true);
    assert.equal(withinBase("https://a.example", "https://a.example/anything"), true);
  });
  it("refuses a sibling path, another host, port or scheme, and escapes by dot segments", () => {
    assert.equal(withinBase(base, "https://a.example/data-private/x"), false);
    assert.equal(withinBase(base, "https://a.example.evil/data/x"), false);
    assert.equal(withinBase(base, "https://a.example:8443/data/x"), false);
    assert.equal(withinBase(base, "http://a.example/data/x"), false);
    assert.equal(withinBase(base, "https://a.example/data/../private"), false);
    assert.equal(withinBase(base, "https://a.example/data/%2e%2e/private"), false);
    assert.equal(withinBase(base, "https://a.example@evil.example/data/x"), false);
    assert.equal(withinBase(base, "https://u:p@a.example/data/x"), false);
    assert.equal(withinBase(base, "not a url"), false);
    assert.equal(withinBase("https://a.example/data/x", "https://a.example/data"), false);
  });
});

describe("egress policy: nextHop", () => {
  const at = new URL("https://a.example/data/x");
  it("resolves relative locations and counts hops", () => {
    assert.equal(String(nextHop(at, "/other", 0, 5)), "https://a.example/other");
    assert.equal(String(nextHop(at, "https://b.example/y", 4, 5)), "https://b.example/y");
    assert.equal(nextHop(at, "https://b.example/y", 5, 5), "more than 5 redirects");
    assert.equal(nextHop(at, null, 0, 5), "a redirect without a Location header");
    assert.equal(nextHop(at, "file:///etc/passwd", 0, 5), "a redirect to a file: URL");
  });
});

describe("egress policy: egressPolicyFrom (flags)", () => {
  it("builds the policy, empty by default", () => {
    assert.deepEqual(egressPolicyFrom({}), defaultEgressPolicy);
    const p = egressPolicyFrom({ allowCidrs: "127.0.0.0/8, ::1/128", clusterCidrs: "10.96.0.0/12", allowHttpPeers: "true" });
    assert.deepEqual(p.allow.map((c) => c.text), ["127.0.0.0/8", "::1/128"]);
    assert.deepEqual(p.cluster.map((c) => c.text), ["10.96.0.0/12"]);
    assert.equal(p.allowHttpPeers, true);
  });
  it("names the flag of a bad value", () => {
    assert.throws(() => egressPolicyFrom({ allowCidrs: "127.0.0.0/99" }), /--egress-allow-cidrs: "127\.0\.0\.0\/99"/);
    assert.throws(() => egressPolicyFrom({ clusterCidrs: "nope" }), /--egress-cluster-cidrs: "nope" is not a CIDR range/);
    assert.throws(() => egressPolicyFrom({ allowHttpPeers: "maybe" }), /--egress-allow-http-peers="maybe"/);
  });
});
