// Descriptors discovery has just verified, handed to the Peer controller of the same process.
// Discovery creates a Peer only after fetching and verifying its descriptor; the Peer controller's
// first pass would fetch and verify the same descriptor again (an IPNS resolve and a cat through
// kubo) before it may ping the peer's API, which waits for the descriptor's endpoint. Measured at
// N=10 (bench/discovery.ts, LOG_LEVEL=debug): first passes of 0.6–4.3 s, the descriptor 0.5–1.4 s
// and the API ping after it 0.4–1.1 s, while 90 such passes share ten loaded kubo nodes. A
// hand-off taken within HANDOFF_TTL_MS is what a lookup would have answered; after that, or in
// another process, the Peer controller looks it up itself. Pure apart from its own memory.
import type { DescriptorCheck } from "./peerStatus.ts";

export const HANDOFF_TTL_MS = 30_000;
/** Entries kept at most: a flood of discoveries costs bounded memory (the oldest go first). */
const MAX_ENTRIES = 1024;

type Verified = Extract<DescriptorCheck, { kind: "verified" }>;

export class VerifiedHandoff {
  private readonly entries = new Map<string, { check: Verified; at: number }>();

  private static key(network: string, peerId: string): string {
    return `${network}/${peerId}`;
  }

  put(network: string, peerId: string, check: Verified, at: number): void {
    const key = VerifiedHandoff.key(network, peerId);
    this.entries.delete(key);
    this.entries.set(key, { check, at });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= MAX_ENTRIES) break;
      this.entries.delete(oldest);
    }
  }

  /** The check handed over for this peer, once, if it is recent enough. */
  take(network: string, peerId: string, now: number): Verified | undefined {
    const key = VerifiedHandoff.key(network, peerId);
    const entry = this.entries.get(key);
    this.entries.delete(key);
    return entry && now - entry.at <= HANDOFF_TTL_MS && now >= entry.at ? entry.check : undefined;
  }
}

/** The one hand-off of a manager process: both controllers are registered in it. */
export const processHandoff = new VerifiedHandoff();
