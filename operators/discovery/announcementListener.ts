// Pubsub announcements as hints for discovery: one subscription per Network whose
// spec.ipfs.pubsub is on, on the topic named by its swarm key's fingerprint. A message only
// says "peer X has descriptor CID Y"; discovery still verifies X's descriptor like any other.
// When kubo restarts the subscription ends and the next pass subscribes again.
import { announcementTopic, parseAnnouncement } from "./announcement.ts";
import type { IpfsClient } from "./ipfsClient.ts";

interface Subscription {
  apiURL: string;
  topic: string;
  abort: AbortController;
  alive: boolean;
  /** peer ID → announced descriptor CID, drained by each discovery pass. */
  heard: Map<string, string>;
}

/** Most hints kept between two passes (a flood of forged announcements costs no memory). */
const MAX_HINTS = 256;

export class AnnouncementListener {
  private readonly subs = new Map<string, Subscription>();
  private readonly onError: (network: string, err: Error) => void;

  constructor(onError: (network: string, err: Error) => void) {
    this.onError = onError;
  }

  /** Subscribes `network` (again if its node, topic or subscription changed); idempotent. */
  async ensure(network: string, ipfs: IpfsClient, fingerprint: string): Promise<void> {
    const topic = announcementTopic(fingerprint);
    const current = this.subs.get(network);
    if (current?.alive && current.apiURL === ipfs.apiURL && current.topic === topic) return;
    this.stop(network);
    const sub: Subscription = { apiURL: ipfs.apiURL, topic, abort: new AbortController(), alive: true, heard: new Map() };
    this.subs.set(network, sub);
    const onMessage = (m: { from?: string; data: Uint8Array }): void => {
      const parsed = parseAnnouncement(m.data, m.from);
      if (parsed.ok && sub.heard.size < MAX_HINTS) sub.heard.set(parsed.announcement.peerId, parsed.announcement.descriptorCid);
    };
    const onError = (err: Error): void => {
      sub.alive = false;
      if (!sub.abort.signal.aborted) this.onError(network, err);
    };
    try {
      await ipfs.pubsubSubscribe(topic, onMessage, { signal: sub.abort.signal, onError, timeoutMs: 5_000 });
    } catch (err) {
      sub.alive = false;
      throw err;
    }
  }

  /** The topic `network` is subscribed to, while the subscription lives. */
  topicOf(network: string): string | undefined {
    const sub = this.subs.get(network);
    return sub?.alive ? sub.topic : undefined;
  }

  /** The announcements heard since the last call. */
  drain(network: string): Map<string, string> {
    const sub = this.subs.get(network);
    if (!sub) return new Map();
    const heard = sub.heard;
    sub.heard = new Map();
    return heard;
  }

  stop(network: string): void {
    const sub = this.subs.get(network);
    if (!sub) return;
    sub.abort.abort();
    this.subs.delete(network);
  }

  stopAll(): void {
    for (const network of [...this.subs.keys()]) this.stop(network);
  }
}
