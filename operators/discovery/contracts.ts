// Names and places that several discovery and federation components agree on. Pure constants
// and functions only: the Network reconciler creates what these name, the Peer reconciler, the
// Identity reconciler and the API server find it by the same names.
import { createHash } from "node:crypto";

import { defaultSystemNamespace } from "../schema/common.ts";

export { defaultSystemNamespace };
export { defaultIdentityKeySecret, identityPrivateKeyField } from "../federation/identityKey.ts";

/** The API's ServiceAccount (in the system namespace): the federation front door, which alone reads a Peer grantee's credentials. */
export const defaultApiServiceAccount = "archipel-api";
/** Data key of the swarm key Secret (the kubo `swarm.key` file content). */
export const swarmKeyField = "swarm.key";

/** The kubo RPC port, inside the cluster only (never exposed outside). */
export const kuboRpcPort = 5001;
/** The libp2p swarm port of a managed kubo node. */
export const kuboSwarmPort = 4001;

/** Name of the StatefulSet, Service, ConfigMap and Secret of a managed kubo node. */
export function managedKuboName(networkName: string): string {
  return `kubo-${networkName}`.slice(0, 63).replace(/-+$/, "");
}

/**
 * The swarm key Secret of a managed kubo node, in the system namespace, owned by its Network:
 * the generated key when spec.swarmKeySecretRef is absent, else a copy of the given one.
 */
export function managedKuboSwarmKeySecretName(networkName: string): string {
  return `${managedKuboName(networkName).slice(0, 253 - "-swarm-key".length)}-swarm-key`;
}

/**
 * Label on the identity key Secret. The Secret has no ownerReference on purpose (deleting the
 * Identity must not garbage-collect the key: peers pin it); the label says who made it.
 */
export const identityKeyLabel = "archipel.io/identity-key";

interface NetworkLike {
  metadata?: { name?: string };
  spec?: { ipfs?: { mode?: string; apiURL?: string } };
}

/** The kubo RPC URL of a Network's node: spec.ipfs.apiURL (external) or the managed Service. */
export function kuboRpcUrl(network: NetworkLike, systemNamespace = defaultSystemNamespace): string | undefined {
  const ipfs = network.spec?.ipfs;
  if (ipfs?.mode === "external") return ipfs.apiURL;
  const name = network.metadata?.name;
  if (ipfs?.mode !== "managed" || !name) return undefined;
  return `http://${managedKuboName(name)}.${systemNamespace}.svc:${kuboRpcPort}`;
}

/** Labels a discovered Peer carries (selectors and printer columns). */
export const peerLabels = {
  network: "archipel.io/network",
  clusterName: "archipel.io/cluster-name",
} as const;

/**
 * A discovered Peer's object name: a pure function of (network, peer ID), so a restarted
 * manager finds the object it created before instead of creating a second one. Peer IDs are
 * case-sensitive base58, object names are lower case: hence a digest, not the ID itself.
 */
export function discoveredPeerName(networkName: string, peerId: string): string {
  const digest = createHash("sha256").update(`${networkName}\n${peerId}`).digest("hex").slice(0, 16);
  return `${networkName.slice(0, 40)}-${digest}`;
}

/** The unauthenticated liveness route of every cluster's API; peers time it for the RTT. */
export const federationPingPath = "/federation/v1/ping";
/** Signed federated catalog search. */
export const federationCatalogPath = "/federation/v1/catalog";
/** Signed grant requests from peers. */
export const federationGrantsPath = "/federation/v1/grants";
