// Federated catalog search: text, type, tags, project; each result tagged with its origin
// cluster; peers that failed or timed out listed with the partial results.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type CatalogItem, type FederatedAnswer } from "../api.ts";
import { href } from "../router.ts";
import { Empty, ErrorPanel, Field, Loading, Section } from "../ui.tsx";

interface Search {
  q: string;
  type: string;
  tag: string;
  project: string;
  federated: boolean;
}

function searchUrl(s: Search): string {
  const params = new URLSearchParams();
  if (s.q) params.set("q", s.q);
  if (s.type) params.set("type", s.type);
  if (s.tag) params.set("tag", s.tag.split(",").map((t) => t.trim()).filter(Boolean).join(","));
  if (s.federated && s.project) params.set("project", s.project);
  params.set("limit", "200");
  return `${s.federated ? "/api/v1/catalog/federated" : "/api/v1/catalog"}?${params.toString()}`;
}

function useLocalClusterName(): string | undefined {
  // The unauthenticated federation ping names this cluster: how local results are told apart.
  const ping = useQuery({ queryKey: ["ping"], queryFn: () => api<{ clusterName: string }>("/federation/v1/ping"), staleTime: 300_000, retry: false });
  return ping.data?.clusterName;
}

/** A Resource of another cluster: access is asked of that cluster (data and storage only). */
function RemoteTitle({ item: i, title, project }: { item: CatalogItem; title: string; project: string }): React.JSX.Element {
  const grantable = i.type === "data" || i.type === "storage";
  // A restricted Resource found for a project is asked for that project too.
  const claim = project && i.visibility === "restricted" ? `&project=${encodeURIComponent(project)}` : "";
  return (
    <>
      <span title={`${i.namespace}/${i.name} on ${i.origin ?? ""}`}>{title}</span>
      {grantable ? (
        <>
          {" "}
          <a className="small" href={`${href("peer-grants", "new", i.origin ?? "", i.namespace, i.name)}?type=${i.type}${claim}`} aria-label={`Request access to ${title} on ${i.origin ?? ""}`}>
            request access
          </a>
        </>
      ) : null}
    </>
  );
}

function ResultRow({ item: i, isLocal, project }: { item: CatalogItem; isLocal: boolean; project: string }): React.JSX.Element {
  const title = i.title || i.name;
  return (
    <tr data-origin={i.origin}>
      <td>
        {isLocal ? <a href={href("resources", i.namespace, i.name)}>{title}</a> : <RemoteTitle item={i} title={title} project={project} />}
        {i.description ? <div className="muted small">{i.description}</div> : null}
      </td>
      <td>{i.type}</td>
      <td>
        <span className={`origin${isLocal ? " local" : ""}`}>{i.origin ?? "this cluster"}</span>
      </td>
      <td className="wide-only">{i.namespace}</td>
      <td className="wide-only">
        {i.visibility}
        {i.projects?.length ? <span className="muted"> ({i.projects.join(", ")})</span> : null}
      </td>
      <td className="wide-only">
        {i.tags.map((t) => (
          <span key={t} className="tag">
            {t}
          </span>
        ))}
      </td>
      <td>{i.ready ? "yes" : "no"}</td>
    </tr>
  );
}

function Results({ items, local, project, busy }: { items: CatalogItem[]; local: string | undefined; project: string; busy: boolean }): React.JSX.Element {
  if (items.length === 0) return <Empty>Nothing matches: try fewer words or tags, or another type.</Empty>;
  // Cached results show at once while the search runs again; aria-busy says they may still change.
  return (
    <table className="table" data-testid="catalog-results" aria-busy={busy}>
      <thead>
        <tr>
          <th>Title</th>
          <th>Type</th>
          <th>Cluster</th>
          <th className="wide-only">Namespace</th>
          <th className="wide-only">Visibility</th>
          <th className="wide-only">Tags</th>
          <th>Ready</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <ResultRow key={`${i.origin ?? ""}/${i.namespace}/${i.name}`} item={i} isLocal={i.origin === undefined || i.origin === local} project={project} />
        ))}
      </tbody>
    </table>
  );
}

export function CatalogPage(): React.JSX.Element {
  const [draft, setDraft] = useState<Search>({ q: "", type: "", tag: "", project: "", federated: true });
  const [search, setSearch] = useState<Search>(draft);
  const local = useLocalClusterName();
  const answer = useQuery({
    queryKey: ["catalog", search],
    queryFn: async (): Promise<FederatedAnswer> => {
      const page = await api<{ items: CatalogItem[]; errors?: FederatedAnswer["errors"] }>(searchUrl(search));
      return { items: page.items, errors: page.errors ?? [] };
    },
  });
  const set = (patch: Partial<Search>): void => setDraft({ ...draft, ...patch });
  return (
    <>
      <h1>Catalog</h1>
      <form
        className="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch(draft);
        }}
      >
        <Field id="q" label="Text">
          <input id="q" type="search" value={draft.q} onChange={(e) => set({ q: e.target.value })} placeholder="title, description or tag" />
        </Field>
        <Field id="type" label="Type">
          <select id="type" value={draft.type} onChange={(e) => set({ type: e.target.value })}>
            <option value="">any</option>
            <option value="data">data</option>
            <option value="storage">storage</option>
            <option value="compute">compute</option>
            <option value="service">service</option>
          </select>
        </Field>
        <Field id="tag" label="Tags" hint="comma-separated, all required">
          <input id="tag" value={draft.tag} onChange={(e) => set({ tag: e.target.value })} />
        </Field>
        <Field id="project" label="Project" hint="federated: act for this project">
          <input id="project" value={draft.project} onChange={(e) => set({ project: e.target.value })} disabled={!draft.federated} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={draft.federated} onChange={(e) => set({ federated: e.target.checked })} /> Every accepted peer
        </label>
        <button type="submit">Search</button>
      </form>
      <Section title="Results">
        {answer.isPending ? <Loading what="the catalog" /> : null}
        {answer.isError ? <ErrorPanel error={answer.error} title="The search failed" /> : null}
        {answer.data && answer.data.errors.length > 0 ? (
          <div className="notice partial" role="status" data-testid="peer-errors">
            <strong>Partial results:</strong> {answer.data.errors.length === 1 ? "one peer" : `${answer.data.errors.length} peers`} did not answer.
            <ul>
              {answer.data.errors.map((e) => (
                <li key={e.cluster}>
                  <code>{e.cluster}</code>: {e.code} — {e.message}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        {answer.data ? <Results items={answer.data.items} local={local} project={search.federated ? search.project : ""} busy={answer.isFetching} /> : null}
      </Section>
    </>
  );
}
