// One AccessGrant: its state, followed until it settles, and its credentials fetched once on
// demand (never cached by the UI, gone when you leave the page).
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, type Condition, type KubeObject, readyOf } from "../api.ts";
import { href } from "../router.ts";
import { Conditions, ErrorPanel, Events, Loading, ReadyBadge, Section } from "../ui.tsx";

interface GrantSpec {
  resourceRef: { name: string };
  grantee: { kind: string; name: string };
  mode: string;
  expiresAt: string;
}

interface Credentials {
  grant: string;
  secret: string;
  data: Record<string, string>;
}

function pollInterval(ready: string | undefined): number | false {
  if (ready === "True") return false;
  return ready === "False" ? 10_000 : 2_000;
}

function NotReadyNote({ ready }: { ready: Condition | undefined }): React.JSX.Element {
  if (ready?.status === "False") return <p className="muted">The grant is not Ready ({ready.reason}): no credentials can be fetched. See its conditions below.</p>;
  return <p className="muted">The credentials can be fetched once the grant is Ready; this page follows it.</p>;
}

export function GrantDetailPage({ namespace, name }: { namespace: string; name: string }): React.JSX.Element {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/grants/${encodeURIComponent(name)}`;
  const grant = useQuery({
    queryKey: ["grant", namespace, name],
    queryFn: () => api<KubeObject<GrantSpec>>(base),
    // Every 2 s until the provider has decided, every 10 s while it refuses (it may retry), then not at all.
    refetchInterval: (q) => pollInterval(readyOf(q.state.data ?? {})?.status),
  });
  const credentials = useMutation({ mutationFn: () => api<Credentials>(`${base}/credentials`) });
  if (grant.isPending) return <Loading what={`grant ${name}`} />;
  if (grant.isError) return <ErrorPanel error={grant.error} title={`Grant ${namespace}/${name} cannot be read`} />;
  const g = grant.data;
  const ready = readyOf(g)?.status === "True";
  return (
    <>
      <h1>
        Grant {name} <ReadyBadge condition={readyOf(g)} />
      </h1>
      <dl className="facts">
        <dt>Resource</dt>
        <dd>
          <a href={href("resources", namespace, g.spec.resourceRef.name)}>{g.spec.resourceRef.name}</a>
        </dd>
        <dt>Grantee</dt>
        <dd>
          {g.spec.grantee.kind} {g.spec.grantee.name}
        </dd>
        <dt>Access</dt>
        <dd>{g.spec.mode}</dd>
        <dt>Expires</dt>
        <dd>{new Date(g.spec.expiresAt).toLocaleString()}</dd>
      </dl>
      <Section title="Credentials">
        {!ready ? <NotReadyNote ready={readyOf(g)} /> : null}
        {credentials.data ? (
          <div className="credentials" data-testid="credentials">
            <p>
              Copy them now: they are not kept by this page. Secret <code>{credentials.data.secret}</code>.
            </p>
            <dl className="facts">
              {Object.entries(credentials.data.data).map(([k, v]) => (
                <div key={k} className="pair">
                  <dt>{k}</dt>
                  <dd>
                    <code data-key={k}>{v}</code>
                  </dd>
                </div>
              ))}
            </dl>
          </div>
        ) : (
          <button type="button" disabled={!ready || credentials.isPending} onClick={() => credentials.mutate()}>
            Fetch credentials
          </button>
        )}
        {credentials.isError ? <ErrorPanel error={credentials.error} title="The credentials cannot be read" /> : null}
      </Section>
      <Section title="Conditions">
        <Conditions conditions={g.status?.conditions} />
      </Section>
      <Section title="Events">
        <Events namespace={namespace} kind="AccessGrant" name={name} />
      </Section>
    </>
  );
}
