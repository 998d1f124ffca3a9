// Small shared pieces: loading, empty and error states, conditions, events, form fields.
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { age as ageText } from "./logic.ts";
import { adviceFor, api, ApiFailure, type Condition, type ObjectEvent } from "./api.ts";

export function Loading({ what }: { what: string }): React.JSX.Element {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }): React.JSX.Element {
  return <p className="empty">{children}</p>;
}

/**
 * A 404 that means the kind is not served here: its CRD is not installed (the API says so, or
 * Kubernetes' "could not find the requested resource"), or no such route in this API server. A
 * 404 about one missing object is not that.
 */
export function isNotAvailable(error: unknown): boolean {
  if (!(error instanceof ApiFailure) || error.status !== 404) return false;
  return ["could not find the requested resource", "CustomResourceDefinition is not installed"].some((m) => error.message.includes(m)) || error.message.startsWith("no route");
}

export function NotAvailable({ what }: { what: string }): React.JSX.Element {
  return (
    <div className="notice" role="note">
      <strong>{what}: not available on this cluster.</strong> The API answered 404 for this kind: its CustomResourceDefinition is not installed (run <code>make install</code>) or this API version does not serve it.
    </div>
  );
}

function FieldList({ failure }: { failure: ApiFailure }): React.JSX.Element | null {
  const fields = failure.fields();
  if (fields.length === 0) return null;
  const items = failure.causes.length > 0 ? failure.causes : fields.map((f) => ({ field: f, message: "" }));
  return (
    <ul className="fields">
      {items.map((c, i) => (
        <li key={i}>
          {c.field ? <code>{c.field}</code> : null} {c.message}
        </li>
      ))}
    </ul>
  );
}

function FailureText({ failure }: { failure: ApiFailure }): React.JSX.Element {
  return (
    <>
      {failure.status > 0 ? <span className="code"> ({failure.status} {failure.code})</span> : null}
      {failure.status === 403 ? <p className="missing">Missing permission: {failure.message}</p> : <p>{failure.message}</p>}
      <FieldList failure={failure} />
    </>
  );
}

export function ErrorPanel({ error, title }: { error: unknown; title?: string }): React.JSX.Element {
  return (
    <div className="error" role="alert">
      <strong>{title ?? "Something went wrong"}</strong>
      {error instanceof ApiFailure ? <FailureText failure={error} /> : <p>{error instanceof Error ? error.message : String(error)}</p>}
      <p className="advice">{adviceFor(error)}</p>
    </div>
  );
}

/** A query's loading, not-available and error states; null once it has data. */
export function QueryState({ query, what }: { query: { isPending: boolean; error: unknown }; what: string }): React.JSX.Element | null {
  if (query.isPending) return <Loading what={what} />;
  if (isNotAvailable(query.error)) return <NotAvailable what={what} />;
  if (query.error) return <ErrorPanel error={query.error} title={`${what}: cannot be read`} />;
  return null;
}

/** Ready=True → green, False → red, otherwise grey; the reason as text so it is not colour alone. */
export function ReadyBadge({ condition }: { condition: Condition | undefined }): React.JSX.Element {
  if (!condition) return <span className="badge unknown">Unknown</span>;
  const cls = condition.status === "True" ? "ok" : condition.status === "False" ? "bad" : "unknown";
  const label = condition.status === "True" ? "Ready" : condition.reason || (condition.status === "False" ? "Not ready" : "Unknown");
  return (
    <span className={`badge ${cls}`} title={condition.message}>
      {label}
    </span>
  );
}

export function Conditions({ conditions }: { conditions: Condition[] | undefined }): React.JSX.Element {
  if (!conditions || conditions.length === 0) return <Empty>No conditions yet: no controller has reported on this object (is the controller of this kind running on this cluster?).</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Type</th>
          <th>Status</th>
          <th>Reason</th>
          <th>Message</th>
          <th>Since</th>
        </tr>
      </thead>
      <tbody>
        {conditions.map((c) => (
          <tr key={c.type}>
            <td>{c.type}</td>
            <td>{c.status}</td>
            <td>{c.reason}</td>
            <td className="wrap">{c.message}</td>
            <td>{age(c.lastTransitionTime)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Events about one object; cluster-scoped objects' Events are in namespace default. */
export function Events({ namespace, kind, name }: { namespace: string; kind: string; name: string }): React.JSX.Element {
  const events = useQuery({
    queryKey: ["events", namespace, kind, name],
    queryFn: () => api<{ items: ObjectEvent[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events?kind=${encodeURIComponent(kind)}&name=${encodeURIComponent(name)}`),
    refetchInterval: 10_000,
  });
  if (events.isPending) return <Loading what="events" />;
  if (events.error instanceof ApiFailure && events.error.status === 403) {
    return <p className="muted">Events are hidden from you here. {events.error.message}</p>;
  }
  if (events.isError) return <ErrorPanel error={events.error} title="Events cannot be listed" />;
  if (events.data.items.length === 0) return <Empty>No events about this {kind}.</Empty>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Type</th>
          <th>Reason</th>
          <th>Message</th>
          <th>Count</th>
          <th>Last seen</th>
          <th>From</th>
        </tr>
      </thead>
      <tbody>
        {events.data.items.map((e, i) => (
          <tr key={i} className={e.type === "Warning" ? "warning" : undefined}>
            <td>{e.type}</td>
            <td>{e.reason}</td>
            <td className="wrap">{e.message}</td>
            <td>{e.count}</td>
            <td>{age(e.lastSeen)}</td>
            <td>{e.source}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function age(time: string | undefined): string {
  return ageText(time, Date.now());
}

/** A labelled input with the API's error for its field, if any. */
export function Field(props: { id: string; label: string; error?: string | undefined; hint?: string; children: ReactNode }): React.JSX.Element {
  return (
    <div className={`field${props.error ? " invalid" : ""}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? <small className="hint">{props.hint}</small> : null}
      {props.error ? (
        <small className="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}

/** The API's message for `field` or any field under it (spec.compute → spec.compute.capacity.cpu). */
export function errorFor(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiFailure)) return undefined;
  const named = [{ field: error.field, message: error.message }, ...error.causes].filter((c) => c.field !== undefined && (c.field === field || c.field.startsWith(`${field}.`)));
  // The API's messages usually start with the field already.
  return named.length > 0 ? named.map((c) => (c.message.startsWith(c.field ?? "") ? c.message : `${c.field}: ${c.message}`)).join("; ") : undefined;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }): React.JSX.Element {
  return (
    <section className="section">
      <div className="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
