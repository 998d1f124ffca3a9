// Access to a Resource of another cluster: this cluster asks the peer, signed, for an AccessGrant
// whose grantee there is this cluster (RBAC here: peers/grants). The grant's state is followed
// without its credentials; they are fetched once, on demand, and not kept.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Condition, type KubeObject, readyOf, type WhoAmI } from "../api.ts";
import { grantName } from "../logic.ts";
import { currentQuery, navigate } from "../router.ts";
import { Conditions, ErrorPanel, errorFor, Field, QueryState, ReadyBadge, Section } from "../ui.tsx";

interface PeerGrantAnswer {
  grant: KubeObject<{ resourceRef: { name: string }; mode: string; expiresAt: string; grantee: { kind: string; name: string } }>;
  credentials?: Record<string, string>;
}

const peerGrants = (cluster: string): string => `/api/v1/peers/${encodeURIComponent(cluster)}/grants`;

function defaultExpiry(): string {
  return new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 16);
}

export function PeerGrantRequestPage({ cluster, namespace, resource }: { cluster: string; namespace: string; resource: string }): React.JSX.Element {
  const type = currentQuery().get("type") ?? "data";
  const who = useQueryClient().getQueryData<WhoAmI>(["whoami"]);
  const [name, setName] = useState(grantName(resource, who?.user ?? "me"));
  const [mode, setMode] = useState(type === "storage" ? "write" : "read");
  const [expires, setExpires] = useState(defaultExpiry());
  const [project, setProject] = useState(currentQuery().get("project") ?? "");
  const claim = project ? `?project=${encodeURIComponent(project)}` : "";
  const request = useMutation({
    mutationFn: () => api<KubeObject>(`${peerGrants(cluster)}${claim}`, { method: "POST", body: { namespace, name, resource, mode, expiresAt: new Date(expires).toISOString() } }),
    onSuccess: (grant) => navigate(`/peer-grants/${encodeURIComponent(cluster)}/${encodeURIComponent(namespace)}/${encodeURIComponent(grant.metadata.name)}`),
  });
  return (
    <>
      <h1>Request access on {cluster}</h1>
      <p>
        Resource <code>{namespace}/{resource}</code> lives on cluster <strong>{cluster}</strong>. This cluster asks it, signed, for a grant whose grantee there is this cluster; your permission here is RBAC on <code>peers/grants</code>.
      </p>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          request.mutate();
        }}
      >
        <Field id="pg-name" label="Grant name" error={errorFor(request.error, "body.name")}>
          <input id="pg-name" value={name} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <Field id="pg-mode" label="Access" error={errorFor(request.error, "body.mode")}>
          <select id="pg-mode" value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="read">read (data)</option>
            <option value="write">write (storage)</option>
          </select>
        </Field>
        <Field id="pg-expires" label="Expires at (your local time)" error={errorFor(request.error, "body.expiresAt")}>
          <input id="pg-expires" type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} required />
        </Field>
        <Field id="pg-project" label="Project (optional)" hint="a restricted Resource is granted for one of its projects; you must be a member here" error={errorFor(request.error, "project")}>
          <input id="pg-project" value={project} onChange={(e) => setProject(e.target.value)} />
        </Field>
        <button type="submit" disabled={request.isPending}>
          {request.isPending ? "Asking the peer…" : `Request access on ${cluster}`}
        </button>
        {request.isError ? <ErrorPanel error={request.error} title="The peer did not create the grant" /> : null}
      </form>
    </>
  );
}

function Credentials({ data }: { data: Record<string, string> }): React.JSX.Element {
  return (
    <div className="credentials" data-testid="credentials">
      <p>Copy them now: they are not kept by this page.</p>
      <dl className="facts">
        {Object.entries(data).map(([k, v]) => (
          <div key={k} className="pair">
            <dt>{k}</dt>
            <dd>
              <code data-key={k}>{v}</code>
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function pollInterval(ready: Condition | undefined): number | false {
  if (ready?.status === "True") return false;
  return ready?.status === "False" ? 10_000 : 2_000;
}

export function PeerGrantPage({ cluster, namespace, name }: { cluster: string; namespace: string; name: string }): React.JSX.Element {
  const url = `${peerGrants(cluster)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  const grant = useQuery({
    queryKey: ["peer-grant", cluster, namespace, name],
    // The state only: credentials are never kept in the query cache.
    queryFn: async () => (await api<PeerGrantAnswer>(url)).grant,
    refetchInterval: (q) => pollInterval(readyOf(q.state.data ?? {})),
  });
  const credentials = useMutation({ mutationFn: async () => (await api<PeerGrantAnswer>(url)).credentials ?? {} });
  if (!grant.data) return <QueryState query={grant} what={`grant ${name} on ${cluster}`} />;
  const g = grant.data;
  const ready = readyOf(g)?.status === "True";
  return (
    <>
      <h1>
        Grant {name} on {cluster} <ReadyBadge condition={readyOf(g)} />
      </h1>
      <dl className="facts">
        <dt>Resource</dt>
        <dd>
          {namespace}/{g.spec.resourceRef.name} on {cluster}
        </dd>
        <dt>Grantee there</dt>
        <dd>
          {g.spec.grantee.kind} {g.spec.grantee.name} (this cluster)
        </dd>
        <dt>Access</dt>
        <dd>{g.spec.mode}</dd>
        <dt>Expires</dt>
        <dd>{new Date(g.spec.expiresAt).toLocaleString()}</dd>
      </dl>
      <Section title="Credentials">
        {credentials.data ? (
          <Credentials data={credentials.data} />
        ) : (
          <button type="button" disabled={!ready || credentials.isPending} onClick={() => credentials.mutate()}>
            Fetch credentials
          </button>
        )}
        {credentials.isError ? <ErrorPanel error={credentials.error} title="The credentials cannot be read" /> : null}
      </Section>
      <Section title="Conditions (on the peer)">
        <Conditions conditions={g.status?.conditions} />
      </Section>
    </>
  );
}
