// Reservations: capacity against what is reserved, per compute Provider, and the Reservations.
import { useQuery } from "@tanstack/react-query";
import { api, collection, type KubeList, type KubeObject } from "../api.ts";
import { quantity } from "../logic.ts";
import { Empty, QueryState, Section } from "../ui.tsx";
import { KindListPage } from "./Kinds.tsx";
import { field } from "./Kinds.tsx";
import type { Provider } from "./Providers.tsx";

function Bar({ label, used, total, text }: { label: string; used: number; total: number; text: string }): React.JSX.Element {
  const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
  return (
    <div className="bar-row">
      <span className="bar-label">{label}</span>
      <div className="bar" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={`${label} reserved`}>
        <div className="bar-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="bar-text">{text}</span>
    </div>
  );
}

function ProviderCapacity({ provider: p }: { provider: Provider }): React.JSX.Element {
  const c = p.status?.compute ?? {};
  const total = c.allocatable ?? c.capacity;
  const reserved = c.reserved ?? { cpu: "0", memory: "0" };
  return (
    <div className="card">
      <h3>{p.spec.displayName || p.metadata.name}</h3>
      {total ? (
        <>
          <Bar label="CPU" used={quantity(reserved.cpu)} total={quantity(total.cpu)} text={`${reserved.cpu} of ${total.cpu} reserved`} />
          <Bar label="Memory" used={quantity(reserved.memory)} total={quantity(total.memory)} text={`${reserved.memory} of ${total.memory} reserved`} />
        </>
      ) : (
        <p className="muted">Capacity not observed yet (is the Provider Ready?).</p>
      )}
    </div>
  );
}

function Capacity({ namespace }: { namespace: string }): React.JSX.Element {
  const providers = useQuery({ queryKey: ["providers", namespace], queryFn: () => api<KubeList<Provider>>(collection("providers", namespace)), refetchInterval: 10_000 });
  if (!providers.data) return <QueryState query={providers} what="Providers" />;
  const compute = providers.data.items.filter((p) => p.spec.type === "compute");
  if (compute.length === 0) return <Empty>No compute Provider in {namespace}: Reservations claim a compute Provider's capacity.</Empty>;
  return (
    <div className="capacity">
      {compute.map((p) => (
        <ProviderCapacity key={p.metadata.name} provider={p} />
      ))}
    </div>
  );
}

export function ReservationsPage({ namespace }: { namespace: string }): React.JSX.Element {
  return (
    <KindListPage
        namespace={namespace}
        config={{
          kind: "Reservation",
          plural: "reservations",
          title: "Reservations",
          columns: [
            field("Provider", "spec.providerRef.name"),
            field("CPU", "spec.cpu"),
            field("Memory", "spec.memory"),
            field("State", "status.state"),
            // A peer's hold: which peer, and the namespace its pods run in here.
            field("For peer", "spec.requester.peer"),
            field("Workspace", "status.workspace"),
            { title: "Window", value: (o: KubeObject) => `${String((o.spec as { start?: string }).start ?? "")} → ${String((o.spec as { end?: string }).end ?? "")}` },
          ],
          template: { providerRef: { name: "lab-compute" }, cpu: "2", memory: "4Gi", start: new Date().toISOString().slice(0, 19) + "Z", end: new Date(Date.now() + 3_600_000).toISOString().slice(0, 19) + "Z" },
        empty: "No Reservation in this namespace.",
      }}
    >
      <Section title="Capacity against reservations, per compute Provider">
        <Capacity namespace={namespace} />
      </Section>
    </KindListPage>
  );
}

