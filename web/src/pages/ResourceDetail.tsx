// One Resource: provider, visibility, readiness, price; and a form to request access (AccessGrant).
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, item, collection, type KubeList, type KubeObject, type WhoAmI, readyOf } from "../api.ts";
import { grantName } from "../logic.ts";
import { href, navigate } from "../router.ts";
import { Conditions, Empty, ErrorPanel, errorFor, Events, Field, QueryState, ReadyBadge, Section } from "../ui.tsx";

interface ResourceSpec {
  providerRef: { name: string };
  type: string;
  title?: string;
  description?: string;
  tags?: string[];
  visibility: string;
  projects?: string[];
}

interface PriceSpec {
  targetRef: { kind: string; name: string };
  currency: string;
  rates: Record<string, string>;
  validFrom: string;
  validUntil?: string;
}

const rateLabels: Record<string, string> = {
  cpuCoreHour: "per CPU core-hour",
  memoryGiBHour: "per GiB-hour of memory",
  storageGiBMonth: "per GiB-month stored",
  egressGiB: "per GiB of egress",
  perRun: "per run",
};

function Prices({ namespace, resource }: { namespace: string; resource: KubeObject<ResourceSpec> }): React.JSX.Element {
  const prices = useQuery({ queryKey: ["prices", namespace], queryFn: () => api<KubeList<KubeObject<PriceSpec>>>(collection("prices", namespace)) });
  if (!prices.data) return <QueryState query={prices} what="Prices" />;
  const applying = prices.data.items.filter(
    (p) => (p.spec.targetRef.kind === "Resource" && p.spec.targetRef.name === resource.metadata.name) || (p.spec.targetRef.kind === "Provider" && p.spec.targetRef.name === resource.spec.providerRef.name),
  );
  if (applying.length === 0) return <Empty>No Price applies to this Resource or its Provider: using it is free here.</Empty>;
  return (
    <ul className="prices">
      {applying.map((p) => (
        <li key={p.metadata.name}>
          <strong>{p.metadata.name}</strong> ({p.spec.targetRef.kind}) <ReadyBadge condition={readyOf(p)} />:{" "}
          {Object.entries(p.spec.rates)
            .map(([k, v]) => `${v} ${p.spec.currency} ${rateLabels[k] ?? k}`)
            .join(", ")}
        </li>
      ))}
    </ul>
  );
}

function defaultExpiry(): string {
  const d = new Date(Date.now() + 7 * 86_400_000);
  return d.toISOString().slice(0, 16);
}

function RequestAccess({ namespace, resource }: { namespace: string; resource: KubeObject<ResourceSpec> }): React.JSX.Element {
  const who = useQuery({ queryKey: ["whoami"], queryFn: () => api<WhoAmI>("/api/v1/whoami") });
  const [name, setName] = useState("");
  const [mode, setMode] = useState(resource.spec.type === "storage" ? "write" : "read");
  const [expires, setExpires] = useState(defaultExpiry());
  const [purpose, setPurpose] = useState("");
  const effectiveName = name || grantName(resource.metadata.name, who.data?.user ?? "me");
  const request = useMutation({
    mutationFn: () =>
      api<KubeObject>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/grants`, {
        method: "POST",
        body: { name: effectiveName, resource: resource.metadata.name, mode, expiresAt: new Date(expires).toISOString(), ...(purpose ? { purpose } : {}) },
      }),
    onSuccess: (grant) => navigate(`/grants/${encodeURIComponent(namespace)}/${encodeURIComponent(grant.metadata.name)}`),
  });
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        request.mutate();
      }}
    >
      <Field id="grant-name" label="Grant name" error={errorFor(request.error, "body.name")}>
        <input id="grant-name" value={effectiveName} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field id="grant-mode" label="Access" error={errorFor(request.error, "body.mode")}>
        <select id="grant-mode" value={mode} onChange={(e) => setMode(e.target.value)}>
          <option value="read">read (data)</option>
          <option value="write">write (storage)</option>
        </select>
      </Field>
      <Field id="grant-expires" label="Expires at (your local time)" error={errorFor(request.error, "body.expiresAt")}>
        <input id="grant-expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} required />
      </Field>
      <Field id="grant-purpose" label="Purpose (optional)" error={errorFor(request.error, "body.purpose")}>
        <input id="grant-purpose" value={purpose} onChange={(e) => setPurpose(e.target.value)} />
      </Field>
      <button type="submit" disabled={request.isPending}>
        {request.isPending ? "Requesting…" : "Request access"}
      </button>
      {request.isError ? <ErrorPanel error={request.error} title="The grant was not created" /> : null}
    </form>
  );
}

const visibilityText = (spec: ResourceSpec): string => (spec.projects?.length ? `${spec.visibility} — projects ${spec.projects.join(", ")}` : spec.visibility);

function Tags({ tags }: { tags: string[] }): React.JSX.Element {
  if (tags.length === 0) return <>none</>;
  return (
    <>
      {tags.map((t) => (
        <span key={t} className="tag">
          {t}
        </span>
      ))}
    </>
  );
}

export function ResourceDetailPage({ namespace, name }: { namespace: string; name: string }): React.JSX.Element {
  const resource = useQuery({
    queryKey: ["resource", namespace, name],
    queryFn: () => api<KubeObject<ResourceSpec>>(item("resources", name, namespace)),
    // Bounded poll while it is not Ready yet.
    refetchInterval: (q) => (q.state.data && readyOf(q.state.data)?.status === "True" ? false : 3_000),
  });
  if (!resource.data) return <QueryState query={resource} what={`Resource ${namespace}/${name}`} />;
  const r = resource.data;
  return (
    <>
      <h1>
        {r.spec.title || name} <ReadyBadge condition={readyOf(r)} />
      </h1>
      {r.spec.description ? <p>{r.spec.description}</p> : null}
      <dl className="facts">
        <dt>Name</dt>
        <dd>
          {namespace}/{name}
        </dd>
        <dt>Type</dt>
        <dd>{r.spec.type}</dd>
        <dt>Provider</dt>
        <dd>
          <a href={href("admin", "providers", namespace, r.spec.providerRef.name)}>{r.spec.providerRef.name}</a>
        </dd>
        <dt>Visibility</dt>
        <dd>{visibilityText(r.spec)}</dd>
        <dt>Tags</dt>
        <dd>
          <Tags tags={r.spec.tags ?? []} />
        </dd>
      </dl>
      <Section title="Price">
        <Prices namespace={namespace} resource={r} />
      </Section>
      <Section title="Request access">
        {r.spec.type === "data" || r.spec.type === "storage" ? <RequestAccess namespace={namespace} resource={r} /> : <Empty>Access grants are for data and storage Resources; a {r.spec.type} Resource is used from a pipeline or a reservation.</Empty>}
      </Section>
      <Section title="Conditions">
        <Conditions conditions={r.status?.conditions} />
      </Section>
      <Section title="Events">
        <Events namespace={namespace} kind="Resource" name={name} />
      </Section>
    </>
  );
}
