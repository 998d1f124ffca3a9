// Networks and Peers: accept or reject a peer; reachability, last seen, RTT.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type KubeList, type KubeObject, readyOf } from "../api.ts";
import { age, Empty, ErrorPanel, QueryState, ReadyBadge, Section } from "../ui.tsx";

type Peer = KubeObject<
  { peerId: string; networkRef: { name: string }; approval: string; origin?: string },
  { reachability?: string; lastSeen?: string; rttMilliseconds?: number; missedIntervals?: number; descriptor?: { clusterName?: string; apiEndpoint?: string } }
>;
type Network = KubeObject<{ approvalPolicy?: string; kubo?: Record<string, unknown> }, { peerCount?: number }>;

function Decide({ peer }: { peer: Peer }): React.JSX.Element {
  const queries = useQueryClient();
  const decide = useMutation({
    mutationFn: (verb: "accept" | "reject") => api<Peer>(`/api/v1/discovery/peers/${encodeURIComponent(peer.metadata.name)}/${verb}`, { method: "POST" }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["peers"] }),
  });
  const label = peer.status?.descriptor?.clusterName ?? peer.metadata.name;
  return (
    <div className="actions">
      {peer.spec.approval !== "Accepted" ? (
        <button type="button" onClick={() => decide.mutate("accept")} disabled={decide.isPending} aria-label={`Accept ${label}`}>
          Accept
        </button>
      ) : null}
      {peer.spec.approval !== "Rejected" ? (
        <button type="button" className="danger" onClick={() => decide.mutate("reject")} disabled={decide.isPending} aria-label={`Reject ${label}`}>
          Reject
        </button>
      ) : null}
      {decide.isError ? <ErrorPanel error={decide.error} title="The decision was not recorded" /> : null}
    </div>
  );
}

function PeerRow({ peer: p }: { peer: Peer }): React.JSX.Element {
  const status = p.status ?? {};
  const cluster = status.descriptor?.clusterName ?? p.metadata.name;
  return (
    <tr data-peer={cluster}>
      <td title={p.spec.peerId}>{cluster}</td>
      <td>{p.spec.networkRef.name}</td>
      <td className={`approval ${p.spec.approval.toLowerCase()}`}>{p.spec.approval}</td>
      <td>{status.reachability ?? "unknown"}</td>
      <td>{age(status.lastSeen)}</td>
      <td>{status.rttMilliseconds !== undefined ? `${status.rttMilliseconds} ms` : ""}</td>
      <td className="muted" title="No trust score is recorded by this version">
        —
      </td>
      <td>
        <ReadyBadge condition={readyOf(p)} />
      </td>
      <td>
        <Decide peer={p} />
      </td>
    </tr>
  );
}

function PeerTable({ peers }: { peers: Peer[] }): React.JSX.Element {
  if (peers.length === 0) return <Empty>No peer found yet: peers appear when another member of a network is discovered.</Empty>;
  return (
    <table className="table" data-testid="peers">
      <thead>
        <tr>
          <th>Cluster</th>
          <th>Network</th>
          <th>Approval</th>
          <th>Reachability</th>
          <th>Last seen</th>
          <th>RTT</th>
          <th>Trust</th>
          <th>Ready</th>
          <th>Decide</th>
        </tr>
      </thead>
      <tbody>
        {peers.map((p) => (
          <PeerRow key={p.metadata.name} peer={p} />
        ))}
      </tbody>
    </table>
  );
}

function NetworkTable({ networks }: { networks: Network[] }): React.JSX.Element {
  if (networks.length === 0) return <Empty>This cluster is in no private network: create or join one (Discovery API).</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Network</th>
          <th>Approval policy</th>
          <th>Ready</th>
        </tr>
      </thead>
      <tbody>
        {networks.map((n) => (
          <tr key={n.metadata.name}>
            <td>{n.metadata.name}</td>
            <td>{n.spec.approvalPolicy ?? ""}</td>
            <td>
              <ReadyBadge condition={readyOf(n)} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PeersPage(): React.JSX.Element {
  const peers = useQuery({ queryKey: ["peers"], queryFn: () => api<KubeList<Peer>>("/api/v1/discovery/peers"), refetchInterval: 5_000 });
  const networks = useQuery({ queryKey: ["networks"], queryFn: () => api<KubeList<Network>>("/api/v1/discovery/networks"), refetchInterval: 30_000 });
  return (
    <>
      <h1>Networks & peers</h1>
      <Section title="Networks">
        <QueryState query={networks} what="Networks" />
        {networks.data ? <NetworkTable networks={networks.data.items} /> : null}
      </Section>
      <Section title="Peers">
        <QueryState query={peers} what="Peers" />
        {peers.data ? <PeerTable peers={peers.data.items} /> : null}
      </Section>
    </>
  );
}
