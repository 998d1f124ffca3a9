// Signed UsageRecords: a peer that runs a step for this cluster meters it and signs the record, so
// the requesting cluster can keep the peer's own account of what ran and what it cost. Pure.
//
// The signature covers the canonical JSON (federation/canonicalJson.ts) of the record's spec
// without `signature` (it cannot cover itself) and without `peer` (the receiver's local name for
// the signer: the signer's clusterName is in `cluster`, inside the signature). The receiver
// checks spec.cluster and spec.signature.cluster against the Peer named by spec.peer and verifies
// with that Peer's published key (keys.ts verifyBytes). Sending records between clusters is not
// built yet (docs/billing.md).
import { canonicalJson } from "../federation/canonicalJson.ts";
import { signBytes, verifyBytes } from "../federation/keys.ts";
import type { UsageRecordSpec } from "../schema/usageRecord.ts";

/** The bytes a record's signature covers. */
export function usageSigningPayload(spec: UsageRecordSpec): Uint8Array {
  const { signature: _signature, peer: _peer, ...signed } = spec;
  return new TextEncoder().encode(canonicalJson(signed));
}

/** The spec with the metering cluster's signature (its Identity key, PKCS#8 PEM). */
export function signUsageRecord(spec: UsageRecordSpec, privateKeyPem: string): UsageRecordSpec {
  return { ...spec, signature: { cluster: spec.cluster, algorithm: "Ed25519", value: signBytes(privateKeyPem, usageSigningPayload(spec)) } };
}

export type SignatureCheck = { ok: true } | { ok: false; message: string };

/** Whether `spec` carries a valid signature by `cluster` (the Peer's clusterName) under `publicKey`. */
export function verifyUsageRecord(spec: UsageRecordSpec, cluster: string, publicKey: string): SignatureCheck {
  if (!spec.signature) return { ok: false, message: "spec.signature is missing: a record from a peer must be signed by it" };
  if (spec.cluster !== cluster || spec.signature.cluster !== cluster) {
    return { ok: false, message: `spec.cluster ${spec.cluster} and spec.signature.cluster ${spec.signature.cluster} must both be the Peer's cluster ${cluster}` };
  }
  if (!verifyBytes(publicKey, usageSigningPayload(spec), spec.signature.value)) return { ok: false, message: `spec.signature does not verify under the key of cluster ${cluster}: the record was changed or not signed by it` };
  return { ok: true };
}
