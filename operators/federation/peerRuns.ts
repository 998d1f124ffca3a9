// What two clusters say to each other to run a pipeline's steps on the serving one: the bodies of
// /federation/v1/reservations and /federation/v1/runs. The requesting cluster's orchestrator sends
// them signed (client.ts); the serving cluster's API checks them against these schemas, creates
// a Reservation and a PipelineRun of its own, and its own reconcilers decide and run them. One
// definition for both sides, so they cannot drift.
import { described, Duration, Money } from "../schema/common.ts";
import { RetryPolicy } from "../schema/pipelineRun.ts";
import { Type, type Static } from "typebox";

export const federationReservationsPath = "/federation/v1/reservations";
export const federationRunsPath = "/federation/v1/runs";
/** The most files a Directory (an output, or an input sent to a run) may hold to cross. */
export const maxPeerOutputFiles = 10_000;
/** On a PipelineRun made for a peer: the Peer object's name (who may read and cancel it, and whom its usage is metered for). */
export const requesterPeerLabel = "archipel.io/requester-peer";
/** On a served run: the project the requester's signed request claimed (its data is granted for that project). */
export const requesterProjectAnnotation = "archipel.io/requester-project";

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" });
const Namespace = Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" });
/** A pipeline input's name (a CWL identifier: the wiring names it). */
const InputName = Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z_][A-Za-z0-9_]*$" });
const Quantity = Type.String({ minLength: 1, maxLength: 64, pattern: "^[0-9]+(\\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$" });

/** A hold on the serving cluster's compute capacity (Tentative until confirmed: the first phase). */
export const PeerReservationRequest = Type.Object(
  {
    namespace: Namespace,
    name: Name,
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "the compute Provider; default: the namespace's only one" })),
    cpu: Quantity,
    memory: Quantity,
    start: Type.String({ format: "date-time" }),
    end: Type.String({ format: "date-time" }),
    holdSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  },
  { additionalProperties: false },
);
export type PeerReservationRequest = Static<typeof PeerReservationRequest>;

/** What the serving cluster says of a reservation it holds for the requester. */
export const PeerReservationAnswer = Type.Object({
  namespace: Type.String(),
  name: Type.String({ description: "the Reservation's name on the serving cluster" }),
  state: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
export type PeerReservationAnswer = Static<typeof PeerReservationAnswer>;

export const PeerRunStep = Type.Object(
  {
    name: Name,
    service: Type.String({ minLength: 1, maxLength: 253, description: "a service Resource of the namespace, visible to the requester" }),
    in: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.String({ minLength: 1, maxLength: 256 }))),
  },
  { additionalProperties: false },
);

/** Steps to run on the serving cluster's Argo, within a reservation the requester holds there. */
export const PeerRunRequest = Type.Object(
  {
    namespace: Namespace,
    name: Name,
    reservation: Type.String({ minLength: 1, maxLength: 253, description: "the Reservation (its name on the serving cluster) the steps run in" }),
    steps: Type.Array(PeerRunStep, { minItems: 1, maxItems: 64 }),
    outputs: Type.Optional(Type.Array(Type.Object({ name: Type.String({ maxLength: 128 }), source: Type.String({ maxLength: 256 }) }, { additionalProperties: false }), { maxItems: 128 })),
    inputs: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: InputName,
            resource: Type.String({ minLength: 1, maxLength: 253, description: "a data Resource of the namespace, visible to the requester: the serving cluster reads it through its own AccessGrant for the requester" }),
          },
          { additionalProperties: false },
        ),
        { maxItems: 128 },
      ),
    ),
    job: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    awaitedInputs: Type.Optional(
      Type.Array(InputName, {
        maxItems: 128,
        uniqueItems: true,
        description: "pipeline inputs the requester sends later (the outputs of its steps elsewhere, relayed): PUT each file to .../inputs/{input}?path=, then POST .../inputs/{input} to complete it; the run starts once all are complete",
      }),
    ),
    timeout: Type.Optional({ ...Duration, description: "the run's spec.timeout: the serving cluster's run fails when it has not ended within it" }),
    retry: Type.Optional(described(RetryPolicy, "the run's spec.retry: the serving cluster runs a step's pod again as it says")),
    budget: Type.Optional(
      described(Money, "the run's spec.budget: the most these steps may cost (the requester's budgets less what it quoted for its other steps); the serving cluster does not start its run over it and stops it when its cost so far reaches it"),
    ),
  },
  { additionalProperties: false },
);
export type PeerRunRequest = Static<typeof PeerRunRequest>;

const StepAnswer = Type.Object({
  name: Type.String(),
  phase: Type.String(),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

/** The serving cluster's PipelineRun as the requester sees it: state, steps, outputs; nothing else. */
export const PeerRunAnswer = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  phase: Type.Optional(Type.String()),
  ready: Type.Optional(Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()), message: Type.Optional(Type.String()) })),
  succeeded: Type.Optional(Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()), message: Type.Optional(Type.String()) })),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  steps: Type.Array(StepAnswer),
  outputs: Type.Array(Type.Object({ name: Type.String(), location: Type.Optional(Type.String()), value: Type.Optional(Type.String()), class: Type.Optional(Type.Union([Type.Literal("File"), Type.Literal("Directory")])) })),
  awaiting: Type.Optional(Type.Array(Type.String(), { description: "the awaitedInputs not complete yet: the run starts once none is left" })),
});
export type PeerRunAnswer = Static<typeof PeerRunAnswer>;

/** On a served run: the pipeline inputs its requester sends (comma-separated names), set from awaitedInputs. */
export const awaitedInputsAnnotation = "archipel.io/awaited-inputs";
/**
 * On a served run: the inputs its requester has sent and completed, as JSON (`{"<input>":
 * {"class":"File","name":"<name>"}}`), set by the federation API once every file was checked
 * (spec.job is immutable; the orchestrator turns these into the job's values).
 */
export const sentInputsAnnotation = "archipel.io/sent-inputs";

/**
 * An input the requester sends to its run, before the run starts. Each file is a PUT of its bytes
 * (`application/octet-stream`, `path`: the File's name, or `<Directory>/<path below it>`, and
 * `size`); the body's digest is not in the signature (the sender relays a stream it cannot hash
 * before it sends), the POST that completes the input is: it names every file's size and SHA-256,
 * and the serving cluster checks what it stored against them before the input counts.
 */
export function peerRunInputPath(namespace: string, name: string, input: string, file?: { path: string; size: number }): string {
  const base = `${federationRunsPath}/${namespace}/${name}/inputs/${encodeURIComponent(input)}`;
  return file === undefined ? base : `${base}?path=${encodeURIComponent(file.path)}&size=${file.size}`;
}

const Sha256Hex = Type.String({ pattern: "^[0-9a-f]{64}$" });

/** Completes an input: a File (its name) or a Directory (its name), with every file sent. */
export const PeerInputComplete = Type.Object(
  {
    class: Type.Union([Type.Literal("File"), Type.Literal("Directory")]),
    name: Type.String({ minLength: 1, maxLength: 255, description: "the File's or the Directory's name" }),
    files: Type.Array(
      Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024, description: "below the Directory; a File's own name" }), size: Type.Integer({ minimum: 0 }), sha256: Sha256Hex }, { additionalProperties: false }),
      { minItems: 1, maxItems: maxPeerOutputFiles },
    ),
  },
  { additionalProperties: false },
);
export type PeerInputComplete = Static<typeof PeerInputComplete>;

/**
 * An output of a succeeded run. A File: its bytes, streamed (`application/octet-stream`,
 * Content-Length set), so outputs of any size up to maxPeerOutputBytes cross without either side
 * holding them whole; the file's name is in the `peerOutputBasenameHeader` header, URI-encoded. A
 * Directory: its listing (`application/json`, PeerOutputListing); each of its files is then asked
 * for with `path` (its path below the Directory) and answered as a File.
 */
export function peerRunOutputPath(namespace: string, name: string, output: string, path?: string): string {
  const base = `${federationRunsPath}/${namespace}/${name}/outputs/${encodeURIComponent(output)}`;
  return path === undefined ? base : `${base}?path=${encodeURIComponent(path)}`;
}


/** A Directory output's files: its name and each file's path below it and size. */
export const PeerOutputListing = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  files: Type.Array(Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }), size: Type.Integer({ minimum: 0 }) }), { maxItems: maxPeerOutputFiles }),
});
export type PeerOutputListing = Static<typeof PeerOutputListing>;

/**
 * Why a path below a Directory cannot name one of its files, or undefined when it can: it becomes a
 * key under the receiver's run and a path under its pods' inputs, so each segment is a plain name.
 */
export function outputPathProblem(path: string): string | undefined {
  if (path.length === 0 || path.length > 1024) return "must be 1 to 1024 characters";
  if (/[\\\0]/.test(path)) return "must not contain a backslash or NUL";
  if (path.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) return 'must not have an empty, "." or ".." segment';
  return undefined;
}

/** What is wrong with a Directory's listing as a peer gave it, if anything (checked before any file is asked for). */
export function listingProblem(listing: PeerOutputListing, maxBytes: number): string | undefined {
  const name = basenameProblem(listing.name);
  if (name) return `named the Directory ${JSON.stringify(listing.name)}, which ${name}`;
  if (listing.files.length === 0) return "listed no file (an empty Directory does not cross)";
  const bad = listing.files.find((f) => outputPathProblem(f.path) !== undefined);
  if (bad) return `listed the path ${JSON.stringify(bad.path)}, which ${outputPathProblem(bad.path) ?? ""}`;
  const total = listing.files.reduce((sum, f) => sum + f.size, 0);
  if (total > maxBytes) return `listed ${total} bytes, more than the ${maxBytes} that cross`;
  return undefined;
}

export const peerOutputBasenameHeader = "x-archipel-basename";

/** The largest output that crosses: one S3 PutObject on the receiving side (5 GiB). */
export const maxPeerOutputBytes = 5 * 1024 ** 3;

/**
 * Why a basename a peer gave cannot name a file here, or undefined when it can: it becomes a key
 * under the run's inputs and a path under the pods' inputs directory, so no separator, no `.`/`..`.
 */
export function basenameProblem(basename: string): string | undefined {
  if (basename.length === 0 || basename.length > 255) return "must be 1 to 255 characters";
  if (/[/\\\0]/.test(basename)) return "must not contain a path separator or NUL";
  if (basename === "." || basename === "..") return "must not be . or ..";
  return undefined;
}

/** What is wrong with an output's announced size and name (the answer's headers), if anything. */
export function outputAnnouncementProblem(size: number, basename: string): string | undefined {
  if (!Number.isSafeInteger(size) || size < 0) return "announced no size (Content-Length)";
  if (size > maxPeerOutputBytes) return `announced ${size} bytes, more than the ${maxPeerOutputBytes} that cross`;
  const name = basenameProblem(basename);
  return name ? `named the file ${JSON.stringify(basename)}, which ${name}` : undefined;
}

/**
 * A requester's object is named after its Peer object on the serving cluster, so two peers never
 * collide; names longer than a label get a hash suffix (stable: the same request, the same name).
 */
export function servedName(peerName: string, name: string, hash: (s: string) => string): string {
  const full = `${peerName}-${name}`;
  if (full.length <= 63) return full;
  return `${full.slice(0, 52).replace(/-+$/, "")}-${hash(full).slice(0, 10)}`;
}

/** The usage records of a run made for the requester: metered and signed by the serving cluster. */
export function peerRunUsagePath(namespace: string, name: string): string {
  return `${federationRunsPath}/${namespace}/${name}/usage`;
}

/** The requester's verdict on those records: the serving cluster shows it on its own records. */
export function peerRunReceiptsPath(namespace: string, name: string): string {
  return `${federationRunsPath}/${namespace}/${name}/usage/receipts`;
}

/** The records as the serving cluster signed them (each spec is checked against the UsageRecord schema by the receiver). */
export const PeerUsageAnswer = Type.Object({
  records: Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 253 }), spec: Type.Record(Type.String(), Type.Unknown()) }), { maxItems: 256 }),
});
export type PeerUsageAnswer = Static<typeof PeerUsageAnswer>;

const Digest = Type.String({ pattern: "^[0-9a-f]{64}$", description: "sha256 (hex) of the bytes the record's signature covers" });

export const PeerUsageReceipt = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, description: "the record's name on the serving cluster" }),
    digest: Digest,
    agreed: Type.Boolean(),
    reason: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z][A-Za-z0-9]*$" }),
    message: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type PeerUsageReceipt = Static<typeof PeerUsageReceipt>;

export const PeerUsageReceiptsRequest = Type.Object({ receipts: Type.Array(PeerUsageReceipt, { minItems: 1, maxItems: 256 }) }, { additionalProperties: false });
export type PeerUsageReceiptsRequest = Static<typeof PeerUsageReceiptsRequest>;

/** Per receipt: whether the serving cluster's own record has the digest the requester holds. */
export const PeerUsageReceiptsAnswer = Type.Object({
  records: Type.Array(Type.Object({ name: Type.String(), found: Type.Boolean(), matches: Type.Boolean() }), { maxItems: 256 }),
});
export type PeerUsageReceiptsAnswer = Static<typeof PeerUsageReceiptsAnswer>;

export const federationQuotesPath = "/federation/v1/quotes";

/** What steps would cost on the serving cluster, at its rates for the requester, before anything is held. */
export const PeerQuoteRequest = Type.Object(
  {
    namespace: Namespace,
    steps: Type.Array(
      Type.Object(
        {
          name: Name,
          service: Type.String({ minLength: 1, maxLength: 253 }),
          after: Type.Optional(Type.Array(Name, { maxItems: 64, description: "the steps of this request whose outputs it reads: it never runs at the same time as them (requests sizes the widest moment, not the sum)" })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 64 },
    ),
    expectedDuration: Type.Optional({ ...Duration, description: "how long each step is quoted for (the run's spec.expectedDuration)" }),
  },
  { additionalProperties: false },
);
export type PeerQuoteRequest = Static<typeof PeerQuoteRequest>;

const Amount = Type.Object({ amount: Type.String({ pattern: "^[0-9]+(\\.[0-9]+)?$", maxLength: 32 }), currency: Type.String({ pattern: "^[A-Z]{3}$" }) });

/** priced: every step has a Price there (totals, one per currency); else message says why not. */
export const PeerQuoteAnswer = Type.Object({
  priced: Type.Boolean(),
  totals: Type.Array(Amount, { maxItems: 16 }),
  message: Type.String({ maxLength: 4096 }),
  requests: Type.Optional(
    Type.Object(
      { cpu: Quantity, memory: Quantity },
      { description: "what the steps' containers request at the widest moment (their CWL ResourceRequirement, else Argo's defaults; steps that wait for others, per `after`, are not counted together): the requester sizes its hold with it" },
    ),
  ),
  free: Type.Optional(
    Type.Object(
      { cpu: Quantity, memory: Quantity },
      { description: "the namespace's compute Provider's free capacity (status.compute.free; the largest when it has several): the requester's Auto placement ranks clusters by it" },
    ),
  ),
});
export type PeerQuoteAnswer = Static<typeof PeerQuoteAnswer>;
