// Signed outgoing federation requests: every request to a peer carries this cluster's
// signature (requestSigning) and is abandoned at its deadline (AbortSignal), so a slow or dead
// peer costs at most the deadline. A peer's descriptor names its endpoint, so the connection goes
// through the egress policy (https only unless configured for tests, no loopback or cluster
// addresses, no redirects followed) and its answer is read up to a byte cap. The private key is
// read once from the Identity's key Secret with the caller's (the API's own) kubeconfig, and
// never logged or returned.
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { defaultIdentityKeySecret, identityPrivateKeyField } from "./identityKey.ts";
import type { EgressPolicy } from "../runtime/egress.ts";
import { BodyTooLarge, EgressRefused, egressFetch, readCapped } from "../runtime/egressHttp.ts";
import { kindRefOf } from "../schema/kind.ts";
import { identityKind, type Identity } from "../schema/identity.ts";
import { signRequest } from "./requestSigning.ts";
import { timed } from "../pipeline/timed.ts";
import type { Response } from "undici";

export interface SigningIdentity {
  /** This cluster's name: the key id peers look our key up by. */
  clusterName: string;
  privateKeyPem: string;
}

export interface SignedRequest {
  /** The peer's API endpoint (Peer.status.descriptor.apiEndpoint), e.g. https://b.example:8443. */
  endpoint: string;
  /** The peer's cluster name: the audience of the signature. */
  audience: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path and query, starting with '/'. */
  target: string;
  /** JSON body (sent as application/json). */
  body?: unknown;
  /** The project the request acts for: signed, sent as the project claim header. */
  project?: string;
  /** Extra headers; the signature headers (project claim included) win on a clash. */
  headers?: Record<string, string>;
  deadlineMs: number;
  signal?: AbortSignal;
  /** Where this cluster may connect (the API's --egress-* flags). */
  egress: EgressPolicy;
  /** The largest answer read (default defaultMaxAnswerBytes); a larger one is a TooLarge error. */
  maxAnswerBytes?: number;
}

/** A federation answer is a page of catalog items or one object: 4 MiB is generous. */
export const defaultMaxAnswerBytes = 4 << 20;

export interface SignedResponse {
  status: number;
  body: unknown;
}

export class FederationRequestError extends Error {
  readonly code: "Timeout" | "Unreachable" | "BadResponse" | "Refused" | "EgressRefused" | "TooLarge";
  readonly status: number | undefined;

  constructor(code: FederationRequestError["code"], message: string, status?: number) {
    super(message);
    this.name = "FederationRequestError";
    this.code = code;
    this.status = status;
  }
}

export function newNonce(): string {
  return randomBytes(18).toString("base64url");
}

function joinUrl(endpoint: string, target: string): string {
  return endpoint.replace(/\/+$/, "") + target;
}

async function readJson(response: Response, maxBytes: number): Promise<unknown> {
  const text = (await readCapped(response, maxBytes)).toString("utf8");
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new FederationRequestError("BadResponse", `the peer answered ${response.status} with a body that is not JSON`, response.status);
  }
}

function failureOf(err: unknown, req: SignedRequest): FederationRequestError {
  if (err instanceof FederationRequestError) return err;
  if (err instanceof EgressRefused) return new FederationRequestError("EgressRefused", `${req.audience}: ${err.message}`);
  if (err instanceof BodyTooLarge) return new FederationRequestError("TooLarge", `${req.audience}: ${err.message}`);
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    return new FederationRequestError("Timeout", `${req.audience} did not answer within ${req.deadlineMs} ms`);
  }
  return new FederationRequestError("Unreachable", `${req.audience} at ${req.endpoint} cannot be reached`);
}

/** The request's signature headers and JSON body (the body is part of what is signed). */
function signed(identity: SigningIdentity, req: SignedRequest, now: number): { url: string; init: { method: string; headers: Record<string, string>; body?: string } } {
  const body = req.body === undefined ? undefined : JSON.stringify(req.body);
  const signature = signRequest(
    { method: req.method, target: req.target, ...(body === undefined ? {} : { body }), keyId: identity.clusterName, audience: req.audience, now, nonce: newNonce(), ...(req.project !== undefined ? { project: req.project } : {}) },
    identity.privateKeyPem,
  );
  const headers = { ...req.headers, ...(body === undefined ? {} : { "content-type": "application/json" }), ...signature };
  return { url: joinUrl(req.endpoint, req.target), init: { method: req.method, headers, ...(body === undefined ? {} : { body }) } };
}

/**
 * Sends one signed request and returns the parsed JSON answer (any status: the caller decides
 * what a 4xx means). Throws FederationRequestError on timeout, network failure or a non-JSON body.
 */
export async function signedFetch(identity: SigningIdentity, req: SignedRequest, now: number = Date.now()): Promise<SignedResponse> {
  const { url, init } = signed(identity, req, now);
  const timeout = AbortSignal.timeout(req.deadlineMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  try {
    const response = await egressFetch(url, { ...init, signal }, { policy: req.egress, purpose: "peer", maxRedirects: 0 });
    return { status: response.status, body: await readJson(response, req.maxAnswerBytes ?? defaultMaxAnswerBytes) };
  } catch (err) {
    throw failureOf(err, req);
  }
}

/** A 2xx answer whose body is read as it arrives (a non-2xx one is read as JSON, like signedFetch's). */
export type SignedStreamResponse = { status: number; headers: Headers; stream: ReadableStream<Uint8Array> } | { status: number; body: unknown };

/**
 * Sends one signed request whose answer may be large: the deadline bounds the wait for the
 * answer's headers and then each silence between two chunks (a transfer that keeps moving is not
 * cut at a fixed time; one that stalls is). Throws FederationRequestError as signedFetch does; a
 * stall mid-body errors the stream with a Timeout.
 */
export async function signedStream(identity: SigningIdentity, req: SignedRequest, now: number = Date.now()): Promise<SignedStreamResponse> {
  const { url, init } = signed(identity, req, now);
  const controller = new AbortController();
  const stall = (): void => controller.abort(new FederationRequestError("Timeout", `${req.audience} sent nothing for ${req.deadlineMs} ms`));
  let timer = setTimeout(stall, req.deadlineMs);
  const signal = req.signal ? AbortSignal.any([controller.signal, req.signal]) : controller.signal;
  try {
    const response = await egressFetch(url, { ...init, signal }, { policy: req.egress, purpose: "peer", maxRedirects: 0 });
    if (response.status < 200 || response.status >= 300 || !response.body) {
      const body = await readJson(response, req.maxAnswerBytes ?? defaultMaxAnswerBytes);
      clearTimeout(timer);
      return { status: response.status, body };
    }
    const rearmed = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        clearTimeout(timer);
        timer = setTimeout(stall, req.deadlineMs);
        out.enqueue(chunk);
      },
      flush: () => clearTimeout(timer),
    });
    return { status: response.status, headers: response.headers as unknown as Headers, stream: (response.body as ReadableStream<Uint8Array>).pipeThrough(rearmed) };
  } catch (err) {
    clearTimeout(timer);
    throw failureOf(err, req);
  }
}

/**
 * Sends one signed request whose body is a stream the signature does not cover (UNSIGNED_PAYLOAD:
 * the receiver checks the bytes against a digest sent signed afterwards). The deadline bounds each
 * silence while the body is sent, then the wait for the answer; the answer is read as JSON.
 */
export async function signedUpload(identity: SigningIdentity, req: Omit<SignedRequest, "body">, body: ReadableStream<Uint8Array>, now: number = Date.now()): Promise<SignedResponse> {
  const signature = signRequest(
    { method: req.method, target: req.target, keyId: identity.clusterName, audience: req.audience, now, nonce: newNonce(), unsignedPayload: true, ...(req.project !== undefined ? { project: req.project } : {}) },
    identity.privateKeyPem,
  );
  const controller = new AbortController();
  const stall = (): void => controller.abort(new FederationRequestError("Timeout", `${req.audience} took nothing for ${req.deadlineMs} ms`));
  let timer = setTimeout(stall, req.deadlineMs);
  const rearm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(stall, req.deadlineMs);
  };
  const sent = body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, out) => (rearm(), out.enqueue(chunk)), flush: rearm }));
  const signal = req.signal ? AbortSignal.any([controller.signal, req.signal]) : controller.signal;
  const headers = { ...req.headers, "content-type": "application/octet-stream", ...signature };
  try {
    const init = { method: req.method, headers, body: sent, duplex: "half", signal } as Parameters<typeof egressFetch>[1];
    const response = await egressFetch(joinUrl(req.endpoint, req.target), init, { policy: req.egress, purpose: "peer", maxRedirects: 0 });
    return { status: response.status, body: await readJson(response, req.maxAnswerBytes ?? defaultMaxAnswerBytes) };
  } catch (err) {
    throw failureOf(controller.signal.aborted && controller.signal.reason instanceof FederationRequestError ? controller.signal.reason : err, req);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * This cluster's signing identity: the (single) Identity's clusterName and the private key from
 * its key Secret (status.keySecretRef, else spec.keySecretRef, else identityKey.ts defaultIdentityKeySecret). Read with
 * `kubeConfig` — the API's own credentials, which RBAC lets read that one Secret.
 */
export async function loadSigningIdentity(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<SigningIdentity> {
  const ref = kindRefOf(identityKind);
  const objects = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (await timed("listing Identities", objects.listClusterCustomObject({ group: ref.group, version: ref.version, plural: ref.plural }), timeoutMs)) as { items?: Identity[] };
  const identity = list.items?.[0];
  if (!identity) throw new Error("no Identity object exists; create one (kind Identity) before sending federation requests");
  // status says where the Identity controller actually keeps the key (its system namespace).
  const secretRef = identity.status?.keySecretRef ?? identity.spec.keySecretRef ?? defaultIdentityKeySecret;
  const secret = await timed(`reading Secret ${secretRef.namespace}/${secretRef.name}`, kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: secretRef.namespace, name: secretRef.name }), timeoutMs);
  const encoded = secret.data?.[identityPrivateKeyField];
  if (!encoded) {
    throw new Error(`Secret ${secretRef.namespace}/${secretRef.name} has no data.${identityPrivateKeyField}; the discovery controller generates it`);
  }
  return { clusterName: identity.spec.clusterName, privateKeyPem: Buffer.from(encoded, "base64").toString("utf8") };
}

/** Loads the identity on first use and keeps it; a failed load is retried on the next call. */
export function cachedSigningIdentity(load: () => Promise<SigningIdentity>): () => Promise<SigningIdentity> {
  let pending: Promise<SigningIdentity> | undefined;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}
