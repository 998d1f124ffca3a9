// The egress policy: may the manager or the API connect to this address on a user's or a peer's
// behalf? Pure (no DNS, no socket): callers resolve a host, then ask here about each address, and
// connect only to an address this module allowed (egressHttp.ts pins it). Shared by catalog,
// discovery, federation and api, so it lives in runtime.
//
// Refused by default: loopback, unspecified, link-local (cloud metadata at 169.254.169.254 and
// fd00:ec2::254), private and unique-local ranges, shared address space, multicast, reserved, NAT64,
// and the cluster's own service and pod ranges (configured). An administrator opens ranges with an
// allow-list; the most specific matching range decides, and an allow of the same length as a
// refusal wins (so `--egress-allow-cidrs=127.0.0.0/8` opens loopback, while allowing 10.0.0.0/8
// does not open a configured cluster range 10.96.0.0/12 inside it).
import { isIP } from "node:net";

export interface Cidr {
  family: 4 | 6;
  /** The network address as a number (IPv4: 32 bits, IPv6: 128 bits). */
  network: bigint;
  prefix: number;
  text: string;
}

export interface EgressPolicy {
  /** Ranges an administrator allows even where a refusal applies (tests: loopback). */
  allow: readonly Cidr[];
  /** This cluster's own service and pod ranges: refused like the built-in ranges. */
  cluster: readonly Cidr[];
  /** Plain-HTTP peer API endpoints (only for tests on loopback); https otherwise. */
  allowHttpPeers: boolean;
}

export type EgressDecision = { allowed: true } | { allowed: false; rule: string; message: string };

export class CidrError extends Error {
  override name = "CidrError";
}

function ipv4ToBigInt(text: string): bigint {
  return text.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function expandIpv6Groups(text: string): string[] {
  let head = text;
  let tail4: string[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    // An embedded IPv4 tail (::ffff:127.0.0.1) is two 16-bit groups.
    const v4 = ipv4ToBigInt(text.slice(lastColon + 1));
    tail4 = [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    head = text.slice(0, lastColon + 1) + "0";
  }
  const [left = "", right] = head.split("::");
  const l = left === "" ? [] : left.split(":");
  const r = right === undefined ? [] : right === "" ? [] : right.split(":");
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length - (tail4.length ? 1 : 0)).fill("0"), ...r];
  return tail4.length ? [...groups.slice(0, -1), ...tail4] : groups;
}

function ipv6ToBigInt(text: string): bigint {
  return expandIpv6Groups(text.split("%")[0] ?? "").reduce((n, g) => (n << 16n) | BigInt(parseInt(g || "0", 16)), 0n);
}

const mappedPrefix = 0xffffn << 32n;

/** An address as family + number, IPv4-mapped IPv6 (::ffff:a.b.c.d) unwrapped to IPv4. */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const family = isIP(bare.split("%")[0] ?? "");
  if (family === 4) return { family: 4, value: ipv4ToBigInt(bare) };
  if (family !== 6) return undefined;
  const value = ipv6ToBigInt(bare);
  if (value >> 32n === mappedPrefix >> 32n) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

const width = (family: 4 | 6): number => (family === 4 ? 32 : 128);

/** "10.0.0.0/8", "fd00::/8", or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const [addr = "", len] = trimmed.split("/");
  const parsed = parseAddress(addr);
  if (!parsed) throw new CidrError(`"${trimmed}" is not a CIDR range (write it like 10.96.0.0/12 or fd00::/8)`);
  // ::ffff:a.b.c.d/104 style prefixes are given on the IPv6 width: shift them onto IPv4's.
  const mapped = parsed.family === 4 && isIP(addr) === 6;
  const max = mapped ? 128 : width(parsed.family);
  const prefix = len === undefined ? max : Number(len);
  if (!/^\d+$/.test(len ?? String(max)) || prefix > max) throw new CidrError(`"${trimmed}": the prefix length must be 0-${max}`);
  const effective = mapped ? Math.max(0, prefix - 96) : prefix;
  const bits = BigInt(width(parsed.family) - effective);
  const network = (parsed.value >> bits) << bits;
  return { family: parsed.family, network, prefix: effective, text: trimmed };
}

/** A comma- or space-separated list of CIDRs; empty text is an empty list. */
export function parseCidrList(text: string | undefined): Cidr[] {
  return (text ?? "")
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(parseCidr);
}

function contains(cidr: Cidr, addr: { family: 4 | 6; value: bigint }): boolean {
  if (cidr.family !== addr.family) return false;
  const bits = BigInt(width(cidr.family) - cidr.prefix);
  return addr.value >> bits === cidr.network >> bits;
}

interface Rule {
  rule: string;
  cidr: Cidr;
}

const builtin: readonly Rule[] = [
  ["loopback", ["127.0.0.0/8", "::1/128"]],
  ["unspecified", ["0.0.0.0/8", "::/128"]],
  ["link-local", ["169.254.0.0/16", "fe80::/10"]],
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]],
  ["shared-address-space", ["100.64.0.0/10"]],
  ["multicast", ["224.0.0.0/4", "ff00::/8"]],
  ["reserved", ["240.0.0.0/4", "::/96", "64:ff9b::/96", "64:ff9b:1::/48"]],
].flatMap(([rule, cidrs]) => (cidrs as string[]).map((c) => ({ rule: rule as string, cidr: parseCidr(c) })));

function mostSpecific(rules: readonly Rule[], addr: { family: 4 | 6; value: bigint }): Rule | undefined {
  let best: Rule | undefined;
  for (const r of rules) if (contains(r.cidr, addr) && (!best || r.cidr.prefix > best.cidr.prefix)) best = r;
  return best;
}

/** The decision for one resolved address (an IP literal; anything else is refused). */
export function decideAddress(address: string, policy: EgressPolicy): EgressDecision {
  const addr = parseAddress(address);
  if (!addr) return { allowed: false, rule: "not-an-address", message: `"${address}" is not an IP address` };
  const refusal = mostSpecific([...builtin, ...policy.cluster.map((cidr) => ({ rule: "cluster", cidr }))], addr);
  if (!refusal) return { allowed: true };
  const allow = mostSpecific(policy.allow.map((cidr) => ({ rule: "allow", cidr })), addr);
  if (allow && allow.cidr.prefix >= refusal.cidr.prefix) return { allowed: true };
  return {
    allowed: false,
    rule: refusal.rule,
    message: `${address} is in a ${refusal.rule} range (${refusal.cidr.text}); an administrator may allow it with --egress-allow-cidrs`,
  };
}

/** The default policy: nothing allowed beyond public addresses, https peers only. */
export const defaultEgressPolicy: EgressPolicy = { allow: [], cluster: [], allowHttpPeers: false };

export type EgressPurpose = "data" | "peer";

/**
 * Checks a URL before any DNS: scheme (http/https; peers https unless allowed), no credentials in
 * it, and, when the host is an IP literal, the address itself (a literal is never looked up).
 */
export function decideUrl(url: URL, purpose: EgressPurpose, policy: EgressPolicy): EgressDecision {
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { allowed: false, rule: "scheme", message: `${url.protocol} URLs are not fetched; use https (or http)` };
  }
  if (purpose === "peer" && url.protocol === "http:" && !policy.allowHttpPeers) {
    return { allowed: false, rule: "plain-http-peer", message: `peer endpoint ${url.origin} is plain HTTP; peers must use https (--egress-allow-http-peers is for tests)` };
  }
  if (url.username || url.password) return { allowed: false, rule: "userinfo", message: "URLs with a user name or password in them are not fetched" };
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) ? decideAddress(host, policy) : { allowed: true };
}

const defaultPorts: Record<string, string> = { "http:": "80", "https:": "443" };

function segments(pathname: string): string[] {
  return pathname.split("/").filter((s, i, all) => s !== "" || (i > 0 && i < all.length - 1));
}

/**
 * Whether `candidate` is under `base`: the same scheme, host and port, and the base's path segments
 * are the candidate's first segments (https://a.example/data admits /data and /data/x, never
 * /data-private nor https://a.example.evil/data). Both are parsed; the parser normalises dot segments.
 */
export function withinBase(base: string, candidate: string): boolean {
  let b: URL;
  let c: URL;
  try {
    b = new URL(base);
    c = new URL(candidate);
  } catch {
    return false;
  }
  const port = (u: URL): string => u.port || defaultPorts[u.protocol] || "";
  if (b.protocol !== c.protocol || b.hostname !== c.hostname || port(b) !== port(c) || c.username || c.password) return false;
  const want = segments(b.pathname);
  const have = segments(c.pathname);
  return want.every((s, i) => have[i] === s);
}

export const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** The next hop of a redirect, or an error message; `hop` counts redirects followed so far. */
export function nextHop(current: URL, location: string | null, hop: number, maxHops: number): URL | string {
  if (hop >= maxHops) return `more than ${maxHops} redirects`;
  if (!location) return "a redirect without a Location header";
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return `a redirect to an invalid URL`;
  }
  return next.protocol === "https:" || next.protocol === "http:" ? next : `a redirect to a ${next.protocol} URL`;
}

/** The flags (or their environment variables) as text; each component's config reads them. */
export interface EgressFlags {
  allowCidrs?: string | undefined;
  clusterCidrs?: string | undefined;
  allowHttpPeers?: string | undefined;
}

export const egressFlagsUsage = `  --egress-allow-cidrs=LIST     ranges outbound calls on a user's or peer's behalf may reach although refused by default
                                (loopback, link-local, private, cluster ranges), e.g. 127.0.0.0/8,::1/128 for local tests
                                (env ARCHIPEL_EGRESS_ALLOW_CIDRS; default none)
  --egress-cluster-cidrs=LIST   this cluster's service and pod ranges, always refused unless allowed above
                                (env ARCHIPEL_EGRESS_CLUSTER_CIDRS; private ranges are refused anyway)
  --egress-allow-http-peers=bool  accept plain-HTTP peer API endpoints (tests on loopback only;
                                env ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS; default false)`;

/** Builds the policy from flag text; a bad value throws naming the flag. */
export function egressPolicyFrom(flags: EgressFlags): EgressPolicy {
  const list = (flag: string, text: string | undefined): Cidr[] => {
    try {
      return parseCidrList(text);
    } catch (err) {
      throw new CidrError(`--${flag}: ${(err as Error).message}`);
    }
  };
  const http = (flags.allowHttpPeers ?? "false").trim();
  if (!/^(true|false|1|0|yes|no|)$/i.test(http)) throw new CidrError(`--egress-allow-http-peers="${http}" is not true or false`);
  return {
    allow: list("egress-allow-cidrs", flags.allowCidrs),
    cluster: list("egress-cluster-cidrs", flags.clusterCidrs),
    allowHttpPeers: /^(true|1|yes)$/i.test(http),
  };
}
