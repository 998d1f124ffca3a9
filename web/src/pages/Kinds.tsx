// Pages for the kinds without a form of their own (Resources, Prices, Projects, UsageRecords):
// a table with the columns that matter, create and edit of the spec as JSON (the API's field
// errors shown), and a detail view with conditions and Events.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { api, collection, item, type KubeList, type KubeObject, readyOf } from "../api.ts";
import { href } from "../router.ts";
import { age, Conditions, Empty, ErrorPanel, errorFor, Events, Field, QueryState, ReadyBadge, Section } from "../ui.tsx";

export interface Column {
  title: string;
  value: (o: KubeObject) => ReactNode;
}

export interface KindPageConfig {
  kind: string;
  plural: string;
  title: string;
  clusterScoped?: boolean;
  columns: Column[];
  template: unknown;
  /** What an empty list should tell the reader. */
  empty: string;
}

const at = (o: unknown, path: string): unknown => path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), o);
export const field = (title: string, path: string): Column => ({ title, value: (o) => String(at(o, path) ?? "") });

function detailHref(config: KindPageConfig, namespace: string, name: string): string {
  return config.clusterScoped ? href("admin", config.plural, name) : href("admin", config.plural, namespace, name);
}

function SpecEditor(props: { config: KindPageConfig; namespace: string; existing?: KubeObject; onSaved?: () => void }): React.JSX.Element {
  const { config, namespace, existing } = props;
  const ns = config.clusterScoped ? undefined : namespace;
  const [name, setName] = useState(existing?.metadata.name ?? "");
  const [spec, setSpec] = useState(JSON.stringify(existing?.spec ?? config.template, null, 2));
  const [parseError, setParseError] = useState<string>();
  const queries = useQueryClient();
  const save = useMutation({
    mutationFn: (parsed: unknown) =>
      existing
        ? api<KubeObject>(item(config.plural, existing.metadata.name, ns), { method: "PUT", body: { metadata: { resourceVersion: existing.metadata.resourceVersion }, spec: parsed } })
        : api<KubeObject>(collection(config.plural, ns), { method: "POST", body: { metadata: { name }, spec: parsed } }),
    onSuccess: async (o) => {
      await queries.invalidateQueries({ queryKey: [config.plural] });
      props.onSaved?.();
      window.location.hash = detailHref(config, namespace, o.metadata.name);
    },
  });
  const specError = errorFor(save.error, "spec") ?? parseError;
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        try {
          const parsed: unknown = JSON.parse(spec);
          setParseError(undefined);
          save.mutate(parsed);
        } catch (err) {
          setParseError(`spec is not JSON: ${(err as Error).message}`);
        }
      }}
    >
      <Field id={`${config.plural}-name`} label="Name" error={errorFor(save.error, "metadata.name")}>
        <input id={`${config.plural}-name`} value={name} onChange={(e) => setName(e.target.value)} disabled={!!existing} required />
      </Field>
      <Field id={`${config.plural}-spec`} label="spec (JSON)" error={specError} hint="the same fields kubectl takes; /openapi.json describes them">
        <textarea id={`${config.plural}-spec`} className="code" rows={12} value={spec} onChange={(e) => setSpec(e.target.value)} spellCheck={false} />
      </Field>
      <button type="submit" disabled={save.isPending}>
        {existing ? "Save" : `Create ${config.kind}`}
      </button>
      {save.isError ? <ErrorPanel error={save.error} title={`The ${config.kind} was not saved`} /> : null}
    </form>
  );
}

function KindTable({ config, namespace, items }: { config: KindPageConfig; namespace: string; items: KubeObject[] }): React.JSX.Element {
  if (items.length === 0) return <Empty>{config.empty}</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Name</th>
          {config.columns.map((c) => (
            <th key={c.title}>{c.title}</th>
          ))}
          <th>Ready</th>
          <th>Age</th>
        </tr>
      </thead>
      <tbody>
        {items.map((o) => (
          <tr key={o.metadata.name}>
            <td>
              <a href={detailHref(config, namespace, o.metadata.name)}>{o.metadata.name}</a>
            </td>
            {config.columns.map((c) => (
              <td key={c.title}>{c.value(o)}</td>
            ))}
            <td>
              <ReadyBadge condition={readyOf(o)} />
            </td>
            <td>{age(o.metadata.creationTimestamp)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function KindListPage({ config, namespace, children }: { config: KindPageConfig; namespace: string; children?: ReactNode }): React.JSX.Element {
  const ns = config.clusterScoped ? undefined : namespace;
  const [creating, setCreating] = useState(false);
  const list = useQuery({ queryKey: [config.plural, ns], queryFn: () => api<KubeList<KubeObject>>(collection(config.plural, ns)), refetchInterval: 10_000 });
  return (
    <>
      <h1>{ns ? `${config.title} in ${ns}` : config.title}</h1>
      {children}
      <Section
        title={config.title}
        actions={
          <button type="button" onClick={() => setCreating(!creating)} aria-expanded={creating}>
            {creating ? "Cancel" : `New ${config.kind}`}
          </button>
        }
      >
        {creating ? <SpecEditor config={config} namespace={namespace} /> : null}
        <QueryState query={list} what={config.title} />
        {list.data ? <KindTable config={config} namespace={namespace} items={list.data.items} /> : null}
      </Section>
    </>
  );
}

function StatusSections({ kind, status, events }: { kind: string; status: KubeObject["status"]; events: { namespace: string; name: string } }): React.JSX.Element {
  // What the controller reports beyond conditions and observedGeneration.
  const { conditions: _c, observedGeneration: _g, ...rest } = status ?? {};
  return (
    <>
      {Object.keys(rest).length > 0 ? (
        <Section title="Status">
          <pre className="json">{JSON.stringify(rest, null, 2)}</pre>
        </Section>
      ) : null}
      <Section title="Conditions">
        <Conditions conditions={status?.conditions} />
      </Section>
      <Section title="Events">
        <Events namespace={events.namespace} kind={kind} name={events.name} />
      </Section>
    </>
  );
}

export function KindDetailPage({ config, namespace, name }: { config: KindPageConfig; namespace: string; name: string }): React.JSX.Element {
  const ns = config.clusterScoped ? undefined : namespace;
  const [editing, setEditing] = useState(false);
  const obj = useQuery({
    queryKey: [config.plural, ns, name],
    queryFn: () => api<KubeObject>(item(config.plural, name, ns)),
    refetchInterval: (q) => (q.state.data && readyOf(q.state.data)?.status === "True" ? 15_000 : 3_000),
  });
  if (!obj.data) return <QueryState query={obj} what={`${config.kind} ${name}`} />;
  const o = obj.data;
  return (
    <>
      <h1>
        {config.kind} {name} <ReadyBadge condition={readyOf(o)} />
      </h1>
      <dl className="facts">
        {config.columns.map((c) => (
          <div className="pair" key={c.title}>
            <dt>{c.title}</dt>
            <dd>{c.value(o)}</dd>
          </div>
        ))}
      </dl>
      <Section
        title="Spec"
        actions={
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            {editing ? "Cancel" : "Edit"}
          </button>
        }
      >
        {editing ? <SpecEditor config={config} namespace={namespace} existing={o} onSaved={() => setEditing(false)} /> : <pre className="json">{JSON.stringify(o.spec, null, 2)}</pre>}
      </Section>
      <StatusSections kind={config.kind} status={o.status} events={{ namespace: ns ?? "default", name }} />
    </>
  );
}
