// Pubsub announcements: an optional, faster path for learning peers (kubo's pubsub is
// experimental and may be off; docs/decisions/kubo-rpc-client.md). A message only says
// "peer <from> has descriptor <cid>": the receiver fetches that CID and verifies it like any
// descriptor (expecting `from` among its networks), so a forged message costs one fetch and
// changes nothing. Pure.
import { canonicalJson } from "../federation/canonicalJson.ts";

export const ANNOUNCEMENT_TYPE = "archipel.io/announcement/v1";
export const MAX_ANNOUNCEMENT_BYTES = 1024;

export interface Announcement {
  type: typeof ANNOUNCEMENT_TYPE;
  /** The announcing node's IPFS peer ID; must equal the pubsub sender. */
  peerId: string;
  /** CID of the announcer's current signed descriptor. */
  descriptorCid: string;
}

/** One topic per network, named by the swarm key's fingerprint (never the key). */
export function announcementTopic(networkFingerprint: string): string {
  if (!/^[0-9a-f]{16}$/.test(networkFingerprint)) throw new Error("network fingerprint must be 16 hex digits (swarmKeyFingerprint)");
  return `archipel/discovery/v1/${networkFingerprint}`;
}

export function encodeAnnouncement(peerId: string, descriptorCid: string): string {
  const a: Announcement = { type: ANNOUNCEMENT_TYPE, peerId, descriptorCid };
  return canonicalJson(a);
}

export type AnnouncementParse = { ok: true; announcement: Announcement } | { ok: false; message: string };

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,128}$/;
const CID = /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,200})$/;

function decode(data: Uint8Array): { ok: true; value: Partial<Announcement> | null } | { ok: false; message: string } {
  if (data.length > MAX_ANNOUNCEMENT_BYTES) return { ok: false, message: `larger than ${MAX_ANNOUNCEMENT_BYTES} bytes` };
  try {
    return { ok: true, value: JSON.parse(Buffer.from(data).toString("utf8")) as Partial<Announcement> | null };
  } catch {
    return { ok: false, message: "not JSON" };
  }
}

function shapeProblem(a: Partial<Announcement> | null): string | undefined {
  if (!a || typeof a !== "object" || a.type !== ANNOUNCEMENT_TYPE) return `type must be ${ANNOUNCEMENT_TYPE}`;
  if (typeof a.peerId !== "string" || !PEER_ID.test(a.peerId)) return "peerId is not a peer ID";
  if (typeof a.descriptorCid !== "string" || !CID.test(a.descriptorCid)) return "descriptorCid is not a CID";
  return undefined;
}

/** `from` is the sender kubo reports (pubsub messages are signed by the sending node). */
export function parseAnnouncement(data: Uint8Array, from: string | undefined): AnnouncementParse {
  const decoded = decode(data);
  if (!decoded.ok) return decoded;
  const problem = shapeProblem(decoded.value);
  if (problem) return { ok: false, message: problem };
  const a = decoded.value as Announcement;
  if (!from || from !== a.peerId) return { ok: false, message: `announces ${a.peerId} but was sent by ${from ?? "an unsigned sender"}` };
  return { ok: true, announcement: { type: ANNOUNCEMENT_TYPE, peerId: a.peerId, descriptorCid: a.descriptorCid } };
}
