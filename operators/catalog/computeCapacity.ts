// Compute capacity of a compute Provider and admission of the Resources that offer it. Pure.
//
// Where the figures live: the Provider's status.compute (written by the Provider controller,
// which already owns that status and watches the Resources) shows capacity, allocatable
// (capacity × overcommit), offered (what its admitted Resources offer) and free. The Resource
// controller does not read those figures back (they may lag): it runs the same functions on
// the same cache, so both controllers always agree, and writes only Ready (InsufficientCapacity
// names the figures). Active Reservations (operators/compute) take from `free` as `reserved`:
// the Reservation controller admits them against allocatable over time windows, and the
// Provider controller only reads their status.state (reservedNow below), so each controller
// writes what it owns and both read the same objects.
//
// Admission is first come, first served: the provider's compute Resources in creation order
// (then name), each admitted when it fits in what the earlier admitted ones left. A Resource
// that does not fit counts for nothing, so a later smaller one may still fit, and deleting an
// admitted Resource lets the next waiting one in on the following pass.
import type { KindRef } from "../runtime/cache.ts";
import type { ComputeProvider, ComputeStatus } from "../schema/provider.ts";
import type { Resource } from "../schema/resource.ts";
import { formatCpu, formatMemory, parseQuantity, QuantityError, scaleByRatio } from "./quantity.ts";

/** Nodes, as both catalog controllers watch them (cluster-scoped, core group). */
export const nodeKindRef: KindRef = { group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false };

export interface CpuMemoryNano {
  cpu: bigint;
  memory: bigint;
}

/** The parts of a Node capacity depends on. */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { allocatable?: Record<string, string> };
}

/** Admiralty's virtual nodes stand for other clusters: their capacity is not ours to offer. */
export function isVirtualNode(node: NodeLike): boolean {
  const labels = node.metadata?.labels ?? {};
  return labels.type === "virtual-kubelet" || labels["virtual-kubelet.io/provider"] !== undefined;
}

function matchesSelector(node: NodeLike, selector: Record<string, string> | undefined): boolean {
  const labels = node.metadata?.labels ?? {};
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** A node's allocatable; a malformed figure counts as 0 rather than failing the whole provider. */
function allocatableOf(node: NodeLike): CpuMemoryNano {
  const read = (key: string): bigint => {
    const value = node.status?.allocatable?.[key];
    if (value === undefined) return 0n;
    try {
      return parseQuantity(value);
    } catch {
      return 0n;
    }
  };
  return { cpu: read("cpu"), memory: read("memory") };
}

export interface Capacity {
  source: "Nodes" | "Declared";
  /** What the nodes have (or what is declared). */
  capacity: CpuMemoryNano;
  /** capacity × overcommit: what Resources may offer in total. */
  allocatable: CpuMemoryNano;
  /** Nodes that counted (0 when declared). */
  nodeCount: number;
}

/**
 * The declared capacity when the spec gives one (the nodes are then not this provider's to
 * count, e.g. not visible), else the sum of the allocatable of the schedulable, non-virtual
 * nodes matching spec.nodeSelector. Throws QuantityError naming the spec field.
 */
function nodesCapacity(spec: ComputeProvider, nodes: readonly NodeLike[]): { capacity: CpuMemoryNano; nodeCount: number } {
  const counted = nodes.filter((n) => !n.spec?.unschedulable && !isVirtualNode(n) && matchesSelector(n, spec.nodeSelector));
  const capacity = counted.map(allocatableOf).reduce((sum, a) => ({ cpu: sum.cpu + a.cpu, memory: sum.memory + a.memory }), { cpu: 0n, memory: 0n });
  return { capacity, nodeCount: counted.length };
}

export function providerCapacity(spec: ComputeProvider, nodes: readonly NodeLike[]): Capacity {
  const source: Capacity["source"] = spec.capacity ? "Declared" : "Nodes";
  const { capacity, nodeCount } = spec.capacity
    ? { capacity: { cpu: parseQuantity(spec.capacity.cpu, "spec.compute.capacity.cpu"), memory: parseQuantity(spec.capacity.memory, "spec.compute.capacity.memory") }, nodeCount: 0 }
    : nodesCapacity(spec, nodes);
  const allocatable = {
    cpu: scaleByRatio(capacity.cpu, spec.overcommit?.cpu ?? "1", "spec.compute.overcommit.cpu"),
    memory: scaleByRatio(capacity.memory, spec.overcommit?.memory ?? "1", "spec.compute.overcommit.memory"),
  };
  return { source, capacity, allocatable, nodeCount };
}

export type AdmissionVerdict =
  | { admitted: true; request: CpuMemoryNano }
  | { admitted: false; reason: "InvalidSpec" | "InsufficientCapacity"; message: string };

export interface Admission {
  verdicts: Map<string, AdmissionVerdict>;
  /** Sum of the admitted Resources' offers. */
  offered: CpuMemoryNano;
  /** allocatable − offered (never negative). */
  free: CpuMemoryNano;
}

/** RFC 3339 creation time then name: a total order every reconcile agrees on (a Resource's admission depends only on those before it). */
export function admissionOrderKey(r: Resource): string {
  return `${String(r.metadata?.creationTimestamp ?? "")}\u0000${r.metadata?.name ?? ""}`;
}

/**
 * What admission reads of a Resource, computed once per object. Cached objects are replaced,
 * never changed, on update, and every reconcile of a compute Resource admits all its siblings:
 * re-parsing their quantities and rebuilding their order keys for every comparison cost N² log N
 * allocations while a catalog filled up (bench/reconcile-floor.ts).
 */
interface AdmissionFacts {
  order: string;
  request: CpuMemoryNano | QuantityError;
}

const admissionFacts = new WeakMap<Resource, AdmissionFacts>();

function factsOf(resource: Resource): AdmissionFacts {
  let facts = admissionFacts.get(resource);
  if (!facts) {
    let request: CpuMemoryNano | QuantityError;
    try {
      request = requestOf(resource);
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      request = err;
    }
    facts = { order: admissionOrderKey(resource), request };
    admissionFacts.set(resource, facts);
  }
  return facts;
}

function creationOrder(a: Resource, b: Resource): number {
  const ka = factsOf(a).order;
  const kb = factsOf(b).order;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function requestOf(resource: Resource): CpuMemoryNano {
  const compute = resource.spec.compute;
  if (!compute) throw new QuantityError("spec.compute is required when spec.type is \"compute\"");
  return { cpu: parseQuantity(compute.cpu, "spec.compute.cpu"), memory: parseQuantity(compute.memory, "spec.compute.memory") };
}

function shortfallMessage(request: CpuMemoryNano, left: CpuMemoryNano, capacity: Capacity): string {
  const parts: string[] = [];
  if (request.cpu > left.cpu) parts.push(`spec.compute.cpu ${formatCpu(request.cpu)} exceeds the provider's free CPU ${formatCpu(left.cpu)}`);
  if (request.memory > left.memory) parts.push(`spec.compute.memory ${formatMemory(request.memory)} exceeds the provider's free memory ${formatMemory(left.memory)}`);
  const whence = capacity.source === "Declared" ? "declared capacity" : `${capacity.nodeCount} node(s)`;
  return `${parts.join("; ")} (allocatable ${formatCpu(capacity.allocatable.cpu)} CPU, ${formatMemory(capacity.allocatable.memory)} memory from ${whence}, overcommit included); ask for less or free capacity`;
}

/** Admits `resources` (the provider's compute Resources, any order) against `capacity`. */
export function admitComputeResources(capacity: Capacity, resources: readonly Resource[]): Admission {
  const verdicts = new Map<string, AdmissionVerdict>();
  let left = { ...capacity.allocatable };
  for (const resource of [...resources].sort(creationOrder)) {
    const name = resource.metadata?.name ?? "";
    const request = factsOf(resource).request;
    if (request instanceof QuantityError) {
      verdicts.set(name, { admitted: false, reason: "InvalidSpec", message: request.message });
      continue;
    }
    if (request.cpu > left.cpu || request.memory > left.memory) {
      verdicts.set(name, { admitted: false, reason: "InsufficientCapacity", message: shortfallMessage(request, left, capacity) });
      continue;
    }
    left = { cpu: left.cpu - request.cpu, memory: left.memory - request.memory };
    verdicts.set(name, { admitted: true, request });
  }
  const offered = { cpu: capacity.allocatable.cpu - left.cpu, memory: capacity.allocatable.memory - left.memory };
  return { verdicts, offered, free: left };
}

const cpuMemory = (v: CpuMemoryNano): { cpu: string; memory: string } => ({ cpu: formatCpu(v.cpu), memory: formatMemory(v.memory) });

/** The parts of a Reservation `reserved` depends on. */
export interface ReservationLike {
  spec?: { cpu?: string; memory?: string };
  status?: { state?: string };
}

/**
 * What the provider's Active Reservations hold (state as their controller last wrote it). A
 * malformed quantity counts as 0: the API server's CEL rules refuse one on create.
 */
export function reservedNow(reservations: readonly ReservationLike[]): CpuMemoryNano {
  const read = (q: string | undefined): bigint => {
    try {
      return q === undefined ? 0n : parseQuantity(q);
    } catch {
      return 0n;
    }
  };
  return reservations
    .filter((r) => r.status?.state === "Active")
    .reduce((sum, r) => ({ cpu: sum.cpu + read(r.spec?.cpu), memory: sum.memory + read(r.spec?.memory) }), { cpu: 0n, memory: 0n });
}

const atLeastZero = (v: bigint): bigint => (v < 0n ? 0n : v);

/** The Provider's status.compute: free is allocatable − offered − reserved (never negative). */
export function computeStatusOf(capacity: Capacity, admission: Admission, reserved: CpuMemoryNano = { cpu: 0n, memory: 0n }): ComputeStatus {
  return {
    source: capacity.source,
    capacity: cpuMemory(capacity.capacity),
    allocatable: cpuMemory(capacity.allocatable),
    offered: cpuMemory(admission.offered),
    reserved: cpuMemory(reserved),
    free: cpuMemory({ cpu: atLeastZero(admission.free.cpu - reserved.cpu), memory: atLeastZero(admission.free.memory - reserved.memory) }),
  };
}

/**
 * The most free capacity among compute Providers (by CPU, then memory), as their status says;
 * undefined when none says. What a cluster offers another's Auto placement: one Reservation takes
 * from one Provider, so the largest is what one run can get. Never below zero.
 */
export function largestFree(providers: readonly { spec: { type: string }; status?: { compute?: ComputeStatus } }[]): { cpu: string; memory: string } | undefined {
  const free = providers.flatMap((p) => (p.spec.type === "compute" && p.status?.compute?.free ? [p.status.compute.free] : []));
  const nano = free.map((f) => ({ cpu: parseQuantity(f.cpu), memory: parseQuantity(f.memory) }));
  const best = nano.reduce<CpuMemoryNano | undefined>((top, f) => (!top || f.cpu > top.cpu || (f.cpu === top.cpu && f.memory > top.memory) ? f : top), undefined);
  const atLeastZero = (n: bigint): bigint => (n < 0n ? 0n : n);
  return best && { cpu: formatCpu(atLeastZero(best.cpu)), memory: formatMemory(atLeastZero(best.memory)) };
}
