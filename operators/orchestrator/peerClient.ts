// The orchestrator's calls to a peer's federation API (operators/api/federationRunsRoutes.ts on the
// peer): signed with this cluster's identity, through the egress policy, each with a deadline, and
// every answer checked against the shared schema before it is believed. No credentials of the
// peer's API server exist here: the signature is the only way in.
import { present } from "../runtime/present.ts";
import { Value } from "typebox/value";
import type { TSchema } from "typebox";
import { FederationRequestError, type SigningIdentity, signedFetch, signedStream, signedUpload } from "../federation/client.ts";
import {
  federationReservationsPath,
  federationRunsPath,
  listingProblem,
  maxPeerOutputBytes,
  outputAnnouncementProblem,
  peerOutputBasenameHeader,
  PeerOutputListing,
  PeerReservationAnswer,
  peerRunOutputPath,
  peerRunInputPath,
  type PeerInputComplete,
  type PeerReservationRequest,
  PeerRunAnswer,
  type PeerRunRequest,
  peerRunReceiptsPath,
  federationQuotesPath,
  PeerQuoteAnswer,
  type PeerQuoteRequest,
  peerRunUsagePath,
  PeerUsageAnswer,
  PeerUsageReceiptsAnswer,
  type PeerUsageReceipt,
} from "../federation/peerRuns.ts";
import type { EgressPolicy } from "../runtime/egress.ts";

export interface PeerEndpoint {
  /** The Peer object's name here. */
  peer: string;
  /** The peer's cluster name: the signature's audience. */
  cluster: string;
  endpoint: string;
}

/** The peer answered, and refused: a verdict the run reports (and does not retry blindly). */
export class PeerRefusal extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "PeerRefusal";
    this.status = status;
    this.code = code;
  }
}

/** A File output of the peer's run as it arrives: its name, its size as announced, its bytes. */
export interface PeerOutputStream {
  basename: string;
  size: number;
  stream: ReadableStream<Uint8Array>;
}

/** An output of the peer's run, by the run's namespace and name there. */
export interface PeerOutputAt {
  namespace: string;
  name: string;
  output: string;
}

/** An input the peer's run awaits, by the run's namespace and name there. */
export interface PeerInputAt {
  namespace: string;
  name: string;
  input: string;
}

/** An output of the peer's run: a File as it arrives, or a Directory's listing (its files asked for one by one). */
export type PeerOutput = ({ kind: "File" } & PeerOutputStream) | { kind: "Directory"; listing: PeerOutputListing };

/** A listing answer, read within 4 MiB (10,000 paths) and checked before any of its files is asked for. */
async function directoryListing(peer: PeerEndpoint, target: string, stream: ReadableStream<Uint8Array>): Promise<PeerOutputListing> {
  const maxBytes = 4 << 20;
  const chunks: Uint8Array[] = [];
  let read = 0;
  for await (const chunk of stream) {
    read += chunk.length;
    if (read > maxBytes) {
      await stream.cancel().catch(() => undefined);
      throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered ${target} with a listing over ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  let listing: unknown;
  try {
    listing = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    listing = undefined;
  }
  if (!Value.Check(PeerOutputListing, listing)) throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered ${target} with a body that is not a Directory listing`);
  const problem = listingProblem(listing, maxPeerOutputBytes);
  if (problem) throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered ${target}, but ${problem}`);
  return listing;
}

export interface PeerRunsClientOptions {
  identity: () => Promise<SigningIdentity>;
  egress: EgressPolicy;
  deadlineMs: number;
}

type Method = "GET" | "POST" | "DELETE";
/** One signed call; `deadlineMs` overrides the client's. */
type CallRequest = { method: Method; target: string; body?: unknown; maxAnswerBytes?: number; project?: string; deadlineMs?: number };

/** A peer's non-2xx answer as the refusal it is, with the peer's own code and message. */
function refusal(peer: PeerEndpoint, res: { status: number; body: unknown }): PeerRefusal {
  const error = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new PeerRefusal(res.status, error?.code ?? `HTTP${res.status}`, `peer ${peer.cluster}: ${error?.message ?? `answered ${res.status}`}`);
}

/** The header's value decoded, or as it is when it is not valid URI encoding (then checked as a name like any other). */
function decodeURIComponentOr(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export class PeerRunsClient {
  private readonly opts: PeerRunsClientOptions;

  constructor(opts: PeerRunsClientOptions) {
    this.opts = opts;
  }

  private async call(peer: PeerEndpoint, req: CallRequest): Promise<{ status: number; body: unknown }> {
    const identity = await this.opts.identity();
    const { method, target, body, maxAnswerBytes, project } = req;
    const res = await signedFetch(identity, { endpoint: peer.endpoint, audience: peer.cluster, method, target, ...present({ body, maxAnswerBytes, project }), deadlineMs: req.deadlineMs ?? this.opts.deadlineMs, egress: this.opts.egress });
    if (res.status >= 200 && res.status < 300) return res;
    throw refusal(peer, res);
  }

  private async checked<T>(peer: PeerEndpoint, schema: TSchema, req: CallRequest): Promise<T> {
    const res = await this.call(peer, req);
    if (!Value.Check(schema, res.body)) throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered ${req.target} with a body that is not the documented object`);
    return res.body as T;
  }

  /** Undefined when the peer has no such object for us (404). */
  private async optional<T>(peer: PeerEndpoint, schema: TSchema, target: string): Promise<T | undefined> {
    try {
      return await this.checked<T>(peer, schema, { method: "GET", target });
    } catch (err) {
      if (err instanceof PeerRefusal && err.status === 404) return undefined;
      throw err;
    }
  }

  /** What the steps would cost on the peer, at its rates for us (nothing is held). */
  quote(peer: PeerEndpoint, request: PeerQuoteRequest): Promise<PeerQuoteAnswer> {
    return this.checked(peer, PeerQuoteAnswer, { method: "POST", target: federationQuotesPath, body: request });
  }

  reserve(peer: PeerEndpoint, request: PeerReservationRequest): Promise<PeerReservationAnswer> {
    return this.checked(peer, PeerReservationAnswer, { method: "POST", target: federationReservationsPath, body: request });
  }

  reservation(peer: PeerEndpoint, namespace: string, name: string): Promise<PeerReservationAnswer | undefined> {
    return this.optional(peer, PeerReservationAnswer, `${federationReservationsPath}/${namespace}/${name}`);
  }

  decide(peer: PeerEndpoint, namespace: string, name: string, action: "confirm" | "release"): Promise<PeerReservationAnswer> {
    return this.checked(peer, PeerReservationAnswer, { method: "POST", target: `${federationReservationsPath}/${namespace}/${name}/${action}` });
  }

  /** `project`: the project the run acts for (signed claim): the peer shows it its restricted Resources, and grants its data for it. */
  submit(peer: PeerEndpoint, request: PeerRunRequest, project?: string): Promise<PeerRunAnswer> {
    return this.checked(peer, PeerRunAnswer, { method: "POST", target: federationRunsPath, body: request, ...(project ? { project } : {}) });
  }

  run(peer: PeerEndpoint, namespace: string, name: string): Promise<PeerRunAnswer | undefined> {
    return this.optional(peer, PeerRunAnswer, `${federationRunsPath}/${namespace}/${name}`);
  }

  /**
   * One File output of the peer's succeeded run, as it arrives (the caller reads or cancels the
   * stream). Refused before any byte is read when the peer announces no size, more than
   * maxPeerOutputBytes, or a name that is not a plain file name.
   */
  async output(peer: PeerEndpoint, at: PeerOutputAt, path?: string): Promise<PeerOutput> {
    const target = peerRunOutputPath(at.namespace, at.name, at.output, path);
    const res = await signedStream(await this.opts.identity(), { endpoint: peer.endpoint, audience: peer.cluster, method: "GET", target, deadlineMs: this.opts.deadlineMs, egress: this.opts.egress });
    if (!("stream" in res)) throw refusal(peer, res);
    if (path === undefined && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
      return { kind: "Directory", listing: await directoryListing(peer, target, res.stream) };
    }
    const size = Number(res.headers.get("content-length") ?? Number.NaN);
    const basename = decodeURIComponentOr(res.headers.get(peerOutputBasenameHeader) ?? "");
    const problem = outputAnnouncementProblem(size, basename);
    if (problem) {
      await res.stream.cancel().catch(() => undefined);
      throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered ${target}, but ${problem}`);
    }
    return { kind: "File", basename, size, stream: res.stream };
  }

  /** One file of a Directory output, by its path below the Directory (checked in its listing). */
  async outputFile(peer: PeerEndpoint, at: PeerOutputAt, path: string): Promise<PeerOutputStream> {
    const answer = await this.output(peer, at, path);
    if (answer.kind !== "File") throw new FederationRequestError("BadResponse", `peer ${peer.cluster} answered a file of ${at.output} with a listing`);
    return answer;
  }

  /** The peer's signed UsageRecords of its run of our steps (none yet: an empty list). */
  usage(peer: PeerEndpoint, namespace: string, name: string): Promise<PeerUsageAnswer> {
    return this.checked(peer, PeerUsageAnswer, { method: "GET", target: peerRunUsagePath(namespace, name), maxAnswerBytes: 4 << 20 });
  }

  /** Our verdict on those records; the peer says, per record, whether it holds the same. */
  receipts(peer: PeerEndpoint, namespace: string, name: string, receipts: PeerUsageReceipt[]): Promise<PeerUsageReceiptsAnswer> {
    return this.checked(peer, PeerUsageReceiptsAnswer, { method: "POST", target: peerRunReceiptsPath(namespace, name), body: { receipts } });
  }

  /** Sends one file of an input the peer's run awaits (`path`: the File's name, or `<Directory>/<path>`); the peer stores it as it arrives. */
  async sendInputFile(peer: PeerEndpoint, at: PeerInputAt, file: { path: string; size: number }, stream: ReadableStream<Uint8Array>): Promise<void> {
    const target = peerRunInputPath(at.namespace, at.name, at.input, file);
    const res = await signedUpload(await this.opts.identity(), { endpoint: peer.endpoint, audience: peer.cluster, method: "PUT", target, deadlineMs: this.opts.deadlineMs, egress: this.opts.egress }, stream);
    if (res.status < 200 || res.status >= 300) throw refusal(peer, res);
  }

  /**
   * Completes an input: the peer checks every file sent against its size and SHA-256 (reading
   * back what it stored, hence a deadline that grows by a second per 64 MiB), then its run may start.
   */
  async completeInput(peer: PeerEndpoint, at: PeerInputAt, body: PeerInputComplete): Promise<PeerRunAnswer> {
    const bytes = body.files.reduce((sum, f) => sum + f.size, 0);
    const deadlineMs = this.opts.deadlineMs + Math.ceil(bytes / (64 << 20)) * 1000;
    return this.checked(peer, PeerRunAnswer, { method: "POST", target: peerRunInputPath(at.namespace, at.name, at.input), body, deadlineMs });
  }

  async cancel(peer: PeerEndpoint, namespace: string, name: string): Promise<void> {
    try {
      await this.call(peer, { method: "DELETE", target: `${federationRunsPath}/${namespace}/${name}` });
    } catch (err) {
      if (!(err instanceof PeerRefusal && err.status === 404)) throw err;
    }
  }
}
