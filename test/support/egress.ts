// The test suite's egress configuration: every server a test starts listens on loopback, which
// the default policy refuses, so tests allow loopback (and plain-HTTP peers) explicitly — as an
// administrator would with --egress-allow-cidrs. Never anything but loopback.
import { egressPolicyFrom, type EgressPolicy } from "../../operators/runtime/egress.ts";

export const loopbackCidrs = "127.0.0.0/8,::1/128";

/** For in-process components (catalog routes, signed requests, probes). */
export const loopbackEgress: EgressPolicy = egressPolicyFrom({ allowCidrs: loopbackCidrs, allowHttpPeers: "true" });

/** For components started as processes (manager, API): what their flags read from the environment. */
export const loopbackEgressEnv: Record<string, string> = {
  ARCHIPEL_EGRESS_ALLOW_CIDRS: loopbackCidrs,
  ARCHIPEL_EGRESS_ALLOW_HTTP_PEERS: "true",
};
