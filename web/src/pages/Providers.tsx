// Providers: list, create and edit (the API's validation messages shown by field), conditions
// and Events. Compute capacity has its own inputs; other types' blocks are edited as JSON.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiFailure, collection, item, type KubeList, type KubeObject, readyOf } from "../api.ts";
import { href, navigate } from "../router.ts";
import { age, Conditions, Empty, ErrorPanel, errorFor, Events, Field, QueryState, ReadyBadge, Section } from "../ui.tsx";

type ProviderSpec = { type: string; displayName?: string; description?: string } & Record<string, unknown>;
interface ComputeStatus {
  capacity?: { cpu: string; memory: string };
  allocatable?: { cpu: string; memory: string };
  reserved?: { cpu: string; memory: string };
  free?: { cpu: string; memory: string };
}
export type Provider = KubeObject<ProviderSpec, { resourceCount?: number; compute?: ComputeStatus }>;

const blockTemplates: Record<string, unknown> = {
  data: { source: "url", url: { baseURL: "https://data.example.org/" } },
  storage: { backend: "s3", s3: { endpoint: "https://s3.example.org", credentialsSecretRef: { name: "s3-credentials" } } },
  service: { defaultImage: "registry.example.org/tools/base:1" },
};

interface Draft {
  name: string;
  type: string;
  displayName: string;
  description: string;
  cpu: string;
  memory: string;
  overcommitCpu: string;
  block: string;
}

type ComputeBlock = { capacity?: { cpu?: string; memory?: string }; overcommit?: { cpu?: string } };

function computeDraft(spec: ProviderSpec): Pick<Draft, "cpu" | "memory" | "overcommitCpu"> {
  const compute: ComputeBlock = (spec.compute as ComputeBlock | undefined) ?? {};
  const capacity = compute.capacity ?? {};
  return { cpu: capacity.cpu ?? "", memory: capacity.memory ?? "", overcommitCpu: compute.overcommit?.cpu ?? "" };
}

function draftOf(p: Provider | undefined): Draft {
  if (!p) return { name: "", type: "compute", displayName: "", description: "", cpu: "", memory: "", overcommitCpu: "", block: "{}" };
  const type = p.spec.type;
  return {
    name: p.metadata.name,
    type,
    displayName: p.spec.displayName ?? "",
    description: p.spec.description ?? "",
    ...computeDraft(p.spec),
    block: JSON.stringify(p.spec[type] ?? blockTemplates[type] ?? {}, null, 2),
  };
}

function computeBlock(d: Draft): Record<string, unknown> {
  const block: Record<string, unknown> = {};
  if (d.cpu || d.memory) block.capacity = { ...(d.cpu ? { cpu: d.cpu } : {}), ...(d.memory ? { memory: d.memory } : {}) };
  if (d.overcommitCpu) block.overcommit = { cpu: d.overcommitCpu };
  return block;
}

/** The spec the form describes; a JSON block that does not parse is an error on its field. */
function specOf(d: Draft): ProviderSpec {
  let block: unknown;
  if (d.type === "compute") block = computeBlock(d);
  else {
    try {
      block = JSON.parse(d.block);
    } catch (err) {
      throw new ApiFailure(400, { error: { code: "BadRequest", status: 400, message: `not JSON: ${(err as Error).message}`, field: `spec.${d.type}` } }, "not JSON");
    }
  }
  return { type: d.type, ...(d.displayName ? { displayName: d.displayName } : {}), ...(d.description ? { description: d.description } : {}), [d.type]: block };
}

export function ProviderForm({ namespace, existing, onSaved }: { namespace: string; existing?: Provider; onSaved?: () => void }): React.JSX.Element {
  const [d, setDraft] = useState<Draft>(draftOf(existing));
  const queries = useQueryClient();
  const set = (patch: Partial<Draft>): void => setDraft({ ...d, ...patch });
  const save = useMutation({
    mutationFn: async () => {
      const spec = specOf(d);
      if (existing) return api<Provider>(item("providers", existing.metadata.name, namespace), { method: "PUT", body: { metadata: { resourceVersion: existing.metadata.resourceVersion }, spec } });
      return api<Provider>(collection("providers", namespace), { method: "POST", body: { metadata: { name: d.name }, spec } });
    },
    onSuccess: async (p) => {
      await queries.invalidateQueries({ queryKey: ["providers"] });
      onSaved?.();
      navigate(`/admin/providers/${encodeURIComponent(namespace)}/${encodeURIComponent(p.metadata.name)}`);
    },
  });
  const err = (field: string): string | undefined => errorFor(save.error, field);
  return (
    <form
      className="form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <Field id="p-name" label="Name" error={err("metadata.name")} hint="lower-case letters, digits and '-'">
        <input id="p-name" value={d.name} onChange={(e) => set({ name: e.target.value })} disabled={!!existing} aria-invalid={!!err("metadata.name")} />
      </Field>
      <Field id="p-type" label="Type" error={err("spec.type")}>
        <select id="p-type" value={d.type} onChange={(e) => set({ type: e.target.value, block: JSON.stringify(blockTemplates[e.target.value] ?? {}, null, 2) })} disabled={!!existing}>
          <option value="compute">compute</option>
          <option value="data">data</option>
          <option value="storage">storage</option>
          <option value="service">service</option>
        </select>
      </Field>
      <Field id="p-display" label="Display name" error={err("spec.displayName")}>
        <input id="p-display" value={d.displayName} onChange={(e) => set({ displayName: e.target.value })} />
      </Field>
      <Field id="p-description" label="Description" error={err("spec.description")}>
        <textarea id="p-description" rows={2} value={d.description} onChange={(e) => set({ description: e.target.value })} />
      </Field>
      {d.type === "compute" ? (
        <fieldset>
          <legend>Capacity (leave both empty to use the nodes' allocatable)</legend>
          <Field id="p-cpu" label="CPU" error={err("spec.compute.capacity.cpu")} hint="a quantity: 4, 500m">
            <input id="p-cpu" value={d.cpu} onChange={(e) => set({ cpu: e.target.value })} aria-invalid={!!err("spec.compute.capacity.cpu")} />
          </Field>
          <Field id="p-memory" label="Memory" error={err("spec.compute.capacity.memory")} hint="a quantity: 8Gi">
            <input id="p-memory" value={d.memory} onChange={(e) => set({ memory: e.target.value })} aria-invalid={!!err("spec.compute.capacity.memory")} />
          </Field>
          <Field id="p-overcommit" label="CPU overcommit ratio" error={err("spec.compute.overcommit")} hint="a decimal ≥ 1, default 1">
            <input id="p-overcommit" value={d.overcommitCpu} onChange={(e) => set({ overcommitCpu: e.target.value })} />
          </Field>
        </fieldset>
      ) : (
        <Field id="p-block" label={`spec.${d.type} (JSON)`} error={err(`spec.${d.type}`)}>
          <textarea id="p-block" className="code" rows={8} value={d.block} onChange={(e) => set({ block: e.target.value })} spellCheck={false} />
        </Field>
      )}
      <button type="submit" disabled={save.isPending}>
        {existing ? "Save" : "Create provider"}
      </button>
      {save.isError ? <ErrorPanel error={save.error} title={existing ? "The Provider was not saved" : "The Provider was not created"} /> : null}
    </form>
  );
}

export function ProvidersPage({ namespace }: { namespace: string }): React.JSX.Element {
  const [creating, setCreating] = useState(false);
  const list = useQuery({ queryKey: ["providers", namespace], queryFn: () => api<KubeList<Provider>>(collection("providers", namespace)), refetchInterval: 10_000 });
  return (
    <>
      <h1>Providers in {namespace}</h1>
      <Section
        title="Providers"
        actions={
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {creating ? "Cancel" : "New provider"}
          </button>
        }
      >
        {creating ? <ProviderForm namespace={namespace} /> : null}
        <QueryState query={list} what="Providers" />
        {list.data && list.data.items.length === 0 ? <Empty>No Provider in {namespace} yet: create one with “New provider”.</Empty> : null}
        {list.data && list.data.items.length > 0 ? (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Resources</th>
                <th>Ready</th>
                <th>Age</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.metadata.name}>
                  <td>
                    <a href={href("admin", "providers", namespace, p.metadata.name)}>{p.spec.displayName || p.metadata.name}</a>
                  </td>
                  <td>{p.spec.type}</td>
                  <td>{p.status?.resourceCount ?? 0}</td>
                  <td>
                    <ReadyBadge condition={readyOf(p)} />
                  </td>
                  <td>{age(p.metadata.creationTimestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </>
  );
}

function ComputeFacts({ compute }: { compute: ComputeStatus | undefined }): React.JSX.Element | null {
  if (!compute) return null;
  const capacity = compute.capacity ?? { cpu: "?", memory: "?" };
  const free = compute.free ?? { cpu: "?", memory: "?" };
  return (
    <div className="pair">
      <dt>Capacity</dt>
      <dd>
        {capacity.cpu} CPU, {capacity.memory} memory; free {free.cpu} CPU, {free.memory}
      </dd>
    </div>
  );
}

export function ProviderDetailPage({ namespace, name }: { namespace: string; name: string }): React.JSX.Element {
  const [editing, setEditing] = useState(false);
  const provider = useQuery({
    queryKey: ["providers", namespace, name],
    queryFn: () => api<Provider>(item("providers", name, namespace)),
    // Followed every 2 s until Ready, then every 15 s.
    refetchInterval: (q) => (readyOf(q.state.data ?? {})?.status === "True" ? 15_000 : 2_000),
  });
  if (!provider.data) return <QueryState query={provider} what={`Provider ${name}`} />;
  const p = provider.data;
  return (
    <>
      <h1>
        Provider {p.spec.displayName || name} <ReadyBadge condition={readyOf(p)} />
      </h1>
      <dl className="facts">
        <dt>Name</dt>
        <dd>
          {namespace}/{name}
        </dd>
        <dt>Type</dt>
        <dd>{p.spec.type}</dd>
        <dt>Resources</dt>
        <dd>{p.status?.resourceCount ?? 0}</dd>
        <ComputeFacts compute={p.status?.compute} />
      </dl>
      <Section
        title="Spec"
        actions={
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            {editing ? "Cancel" : "Edit"}
          </button>
        }
      >
        {editing ? <ProviderForm namespace={namespace} existing={p} onSaved={() => setEditing(false)} /> : <pre className="json">{JSON.stringify(p.spec, null, 2)}</pre>}
      </Section>
      <Section title="Conditions">
        <Conditions conditions={p.status?.conditions} />
      </Section>
      <Section title="Events">
        <Events namespace={namespace} kind="Provider" name={name} />
      </Section>
    </>
  );
}
