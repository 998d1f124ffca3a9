// The I/O half of the egress policy (egress.ts): every outbound call made on a user's or a peer's
// behalf connects through here. A host name is resolved by our own lookup, each address is checked,
// and the socket connects to a checked address — the same lookup result, so DNS cannot answer
// differently between the check and the connect (rebinding). An IP literal is never looked up by
// Node, so it is decided before connecting. Redirects are never followed blindly: each hop is
// re-checked, bounded, and a hop to another origin does not carry the caller's credentials.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { Agent, fetch, type RequestInit, type Response } from "undici";
import { decideAddress, decideUrl, type EgressPolicy, type EgressPurpose, nextHop, redirectStatuses } from "./egress.ts";

/** A connection the policy refused; `rule` names the range or check (see egress.ts). */
export class EgressRefused extends Error {
  override name = "EgressRefused";
  readonly host: string;
  readonly rule: string;

  constructor(host: string, rule: string, message: string) {
    super(`egress to ${host} refused: ${message}`);
    this.host = host;
    this.rule = rule;
  }
}

type LookupAddress = { address: string; family: number };

/** dns.lookup that hands the socket only addresses the policy allows (all refused: EgressRefused). */
export function checkedLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, "", 0);
        return;
      }
      const allowed = addresses.filter((a) => decideAddress(a.address, policy).allowed);
      if (allowed.length === 0) {
        const first = decideAddress(addresses[0]?.address ?? "", policy);
        const refusal = first.allowed ? { rule: "no-address", message: "no address" } : first;
        callback(Object.assign(new EgressRefused(hostname, refusal.rule, refusal.message), { code: "EEGRESSREFUSED" }), "", 0);
        return;
      }
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

/** Throws EgressRefused unless the URL may be fetched (scheme, peer https, IP literal). */
export function checkUrl(url: URL, purpose: EgressPurpose, policy: EgressPolicy): void {
  const d = decideUrl(url, purpose, policy);
  if (!d.allowed) throw new EgressRefused(url.host, d.rule, d.message);
}

/** Resolves `host` and returns one allowed address (for clients that take an address, e.g. pg). */
export async function resolveChecked(host: string, policy: EgressPolicy): Promise<string> {
  if (isIP(host)) {
    const d = decideAddress(host, policy);
    if (!d.allowed) throw new EgressRefused(host, d.rule, d.message);
    return host;
  }
  const lookup = checkedLookup(policy);
  return new Promise((resolve, reject) => {
    lookup(host, { all: false }, (err, address) => (err ? reject(unwrap(err)) : resolve(address as string)));
  });
}

const dispatchers = new WeakMap<EgressPolicy, Agent>();

function dispatcherFor(policy: EgressPolicy): Agent {
  let agent = dispatchers.get(policy);
  if (!agent) {
    agent = new Agent({ connect: { lookup: checkedLookup(policy) } });
    dispatchers.set(policy, agent);
  }
  return agent;
}

/** Node http(s) Agents that connect only to checked addresses (the AWS SDK's request handler). */
export function egressAgents(policy: EgressPolicy): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const lookup = checkedLookup(policy);
  return { httpAgent: new http.Agent({ lookup, keepAlive: true }), httpsAgent: new https.Agent({ lookup, keepAlive: true }) };
}

/** The EgressRefused inside a failed fetch or connect, else the error itself. */
export function unwrap(err: unknown): unknown {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof EgressRefused) return e;
    if (e instanceof AggregateError) {
      const inner = e.errors.find((x) => x instanceof EgressRefused);
      if (inner) return inner;
    }
  }
  return err;
}

export interface EgressOptions {
  policy: EgressPolicy;
  purpose: EgressPurpose;
  /** Redirects followed (each hop re-checked); 0 returns the 3xx answer as it is. Default 5. */
  maxRedirects?: number;
}

// Headers that carry no credential: kept on a hop to another origin, everything else is dropped.
const portableHeaders = new Set(["range", "accept", "content-type", "user-agent"]);

function headersForHop(init: RequestInit, sameOrigin: boolean): RequestInit["headers"] {
  if (sameOrigin || !init.headers) return init.headers;
  const entries = Object.entries(init.headers as Record<string, string>).filter(([k]) => portableHeaders.has(k.toLowerCase()));
  return Object.fromEntries(entries);
}

function requestForHop(init: RequestInit, status: number, sameOrigin: boolean): RequestInit {
  const method = (init.method ?? "GET").toUpperCase();
  const toGet = status === 303 ? method !== "HEAD" : (status === 301 || status === 302) && method === "POST";
  const { body: _body, ...rest } = init;
  const next: RequestInit = toGet ? { ...rest, method: "GET" } : init;
  return { ...next, headers: headersForHop(next, sameOrigin) };
}

/**
 * fetch() through the egress policy: checks the URL, connects only to checked addresses, and
 * follows at most `maxRedirects` redirects by hand, checking each hop. Throws EgressRefused.
 */
export async function egressFetch(url: string | URL, init: RequestInit, egress: EgressOptions): Promise<Response> {
  const maxRedirects = egress.maxRedirects ?? 5;
  let current = new URL(url);
  let request = init;
  for (let hop = 0; ; hop++) {
    checkUrl(current, egress.purpose, egress.policy);
    let res: Response;
    try {
      res = await fetch(current, { ...request, redirect: "manual", dispatcher: dispatcherFor(egress.policy) });
    } catch (err) {
      throw unwrap(err);
    }
    if (!redirectStatuses.has(res.status) || maxRedirects === 0) return res;
    await res.body?.cancel().catch(() => undefined);
    const next = nextHop(current, res.headers.get("location"), hop, maxRedirects);
    if (typeof next === "string") throw new EgressRefused(current.host, "redirect", `${current.origin} answered with ${next}`);
    request = requestForHop(request, res.status, next.origin === current.origin);
    current = next;
  }
}

/** A body over `maxBytes` (declared or streamed). */
export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
}

/** Reads the whole body, refusing (and cancelling) past `maxBytes`. */
export async function readCapped(res: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge(`the answer is ${declared} bytes, more than the ${maxBytes} accepted`);
  }
  const chunks: Buffer[] = [];
  let read = 0;
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    read += value.byteLength;
    if (read > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(`the answer is more than the ${maxBytes} bytes accepted`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}
