// The kubo settings that make a node a member of one PRIVATE network and nothing else — one
// list, applied two ways: `hack/kubo` writes them into a local repo's config file
// (applySettings), and a managed Network's StatefulSet runs them as an init script of
// `ipfs config --json` lines (containerInitScript). Pure.
//
// Besides these settings a private node needs the swarm key file ($IPFS_PATH/swarm.key) and
// LIBP2P_FORCE_PNET=1 in its environment (it then refuses to start without the key), plus
// IPFS_TELEMETRY=off.

export interface KuboNodeSettings {
  /** RPC API multiaddr: 127.0.0.1 locally; in a pod 0.0.0.0 behind a ClusterIP Service only. */
  apiAddr: string;
  /** Swarm listen multiaddrs — TCP only: libp2p private networks do not cover QUIC/WebTransport/WebRTC. */
  swarmAddrs: string[];
  /** Pubsub on (optional discovery path) or off. */
  pubsub: boolean;
  /** Let the LAN DHT hold loopback addresses — only when every node lives on 127.0.0.0/8 (tests). */
  loopbackDht?: boolean;
  /** Connection manager watermarks (default 32/96): a federation has tens of peers, not thousands. */
  connections?: { low: number; high: number };
  /** libp2p resource manager memory cap (default 256MB) and datastore size cap (default 2GB). */
  maxMemory?: string;
  storageMax?: string;
}

export interface KuboSetting {
  /** Dotted config path, e.g. `Swarm.Transports.Network.QUIC`. */
  key: string;
  value: unknown;
}

const SWARM_TCP = /^\/(ip4|ip6)\/[^/]+\/tcp\/\d+$/;

function addressSettings(o: KuboNodeSettings): KuboSetting[] {
  for (const a of o.swarmAddrs) {
    if (!SWARM_TCP.test(a)) throw new Error(`swarm address ${a} must be /ip4|ip6/<ip>/tcp/<port> (a private network is TCP only)`);
  }
  return [
    { key: "Addresses.API", value: o.apiAddr },
    { key: "Addresses.Gateway", value: [] }, // no gateway: it would serve the network's data over HTTP
    { key: "Addresses.Swarm", value: o.swarmAddrs },
    { key: "Addresses.Announce", value: [] },
    { key: "Addresses.AppendAnnounce", value: [] },
    { key: "Addresses.NoAnnounce", value: [] },
  ];
}

function isolationSettings(): KuboSetting[] {
  return [
    { key: "Bootstrap", value: [] }, // never the public bootstrap peers
    { key: "AutoConf.Enabled", value: false }, // its default URL hands out public bootstrap peers and routers
    { key: "AutoTLS.Enabled", value: false }, // incompatible with private networks
    { key: "AutoNAT.ServiceMode", value: "disabled" },
    { key: "Discovery.MDNS.Enabled", value: false },
    { key: "HTTPRetrieval.Enabled", value: false }, // no blocks from public HTTP providers
    { key: "Routing.DelegatedRouters", value: [] },
    { key: "Swarm.DisableNatPortMap", value: true },
    { key: "Swarm.EnableHolePunching", value: false },
    { key: "Swarm.RelayClient.Enabled", value: false },
    { key: "Swarm.RelayService.Enabled", value: false },
    { key: "Swarm.Transports.Network.TCP", value: true },
    { key: "Swarm.Transports.Network.QUIC", value: false },
    { key: "Swarm.Transports.Network.WebTransport", value: false },
    { key: "Swarm.Transports.Network.WebRTCDirect", value: false },
    { key: "Swarm.Transports.Network.Websocket", value: false },
    { key: "Plugins.Plugins.telemetry.Disabled", value: true },
  ];
}

export function privateNetworkSettings(o: KuboNodeSettings): KuboSetting[] {
  const connections = o.connections ?? { low: 32, high: 96 };
  return [
    ...addressSettings(o),
    ...isolationSettings(),
    // A small private swarm: its own DHT carries IPNS and provider records.
    { key: "Routing.Type", value: "dht" },
    { key: "Routing.LoopbackAddressesOnLanDHT", value: o.loopbackDht ?? false },
    { key: "Pubsub.Enabled", value: o.pubsub },
    { key: "Pubsub.Router", value: "gossipsub" },
    { key: "Ipns.UsePubsub", value: false }, // IPNS must not depend on pubsub
    { key: "Swarm.ConnMgr.Type", value: "basic" },
    { key: "Swarm.ConnMgr.LowWater", value: connections.low },
    { key: "Swarm.ConnMgr.HighWater", value: connections.high },
    { key: "Swarm.ConnMgr.GracePeriod", value: "30s" },
    { key: "Swarm.ResourceMgr.Enabled", value: true },
    { key: "Swarm.ResourceMgr.MaxMemory", value: o.maxMemory ?? "256MB" },
    { key: "Swarm.ResourceMgr.MaxFileDescriptors", value: 1024 },
    { key: "Datastore.StorageMax", value: o.storageMax ?? "2GB" },
  ];
}

/** A copy of a kubo config (as `ipfs init` wrote it) with the settings applied. */
export function applySettings(config: Record<string, unknown>, settings: readonly KuboSetting[]): Record<string, unknown> {
  const out = structuredClone(config);
  for (const { key, value } of settings) {
    const path = key.split(".");
    const last = path.pop();
    if (!last) throw new Error("empty config key");
    let node: Record<string, unknown> = out;
    for (const part of path) {
      const next = node[part];
      if (next === null || typeof next !== "object" || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[last] = structuredClone(value);
  }
  return out;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A POSIX sh script for kubo's /container-init.d/ (runs after `ipfs init`, before the daemon). */
export function containerInitScript(settings: readonly KuboSetting[]): string {
  const lines = settings.map(({ key, value }) => `ipfs config --json ${shellQuote(key)} ${shellQuote(JSON.stringify(value))}`);
  return ["#!/bin/sh", "# Generated by Archipel discovery (operators/discovery/kuboConfig.ts): private network only.", "set -eu", ...lines, ""].join("\n");
}
