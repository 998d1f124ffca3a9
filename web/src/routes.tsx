// Which page a hash path shows.
import { useNamespace } from "./namespace.ts";
import { match } from "./router.ts";
import { CatalogPage } from "./pages/Catalog.tsx";
import { ComposePage } from "./pages/Compose.tsx";
import { GrantDetailPage } from "./pages/GrantDetail.tsx";
import { KindDetailPage, KindListPage } from "./pages/Kinds.tsx";
import { pipelineRunsConfig, pricesConfig, projectsConfig, resourcesConfig, usageConfig } from "./pages/kindConfigs.ts";
import { PeerGrantPage, PeerGrantRequestPage } from "./pages/PeerGrant.tsx";
import { PeersPage } from "./pages/Peers.tsx";
import { PipelineRunDetailPage } from "./pages/PipelineRuns.tsx";
import { ProviderDetailPage, ProvidersPage } from "./pages/Providers.tsx";
import { ReservationsPage } from "./pages/Reservations.tsx";
import { ResourceDetailPage } from "./pages/ResourceDetail.tsx";
import { Empty } from "./ui.tsx";

type Params = Record<string, string>;
type Render = (p: Params, namespace: string) => React.JSX.Element;

const p = (params: Params, key: string): string => params[key] ?? "";

const reservationsDetail = { kind: "Reservation", plural: "reservations", title: "Reservations", columns: [], template: {}, empty: "" };

const table: [string, Render][] = [
  ["/catalog", () => <CatalogPage />],
  ["/resources/:namespace/:name", (x) => <ResourceDetailPage namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/peer-grants/new/:cluster/:namespace/:resource", (x) => <PeerGrantRequestPage cluster={p(x, "cluster")} namespace={p(x, "namespace")} resource={p(x, "resource")} />],
  ["/peer-grants/:cluster/:namespace/:name", (x) => <PeerGrantPage cluster={p(x, "cluster")} namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/grants/:namespace/:name", (x) => <GrantDetailPage namespace={p(x, "namespace")} name={p(x, "name")} />],
  [
    "/pipelineruns",
    (_x, ns) => (
      <KindListPage config={pipelineRunsConfig} namespace={ns}>
        <p>
          <a href="#/pipelineruns/new">Compose a pipeline from service Resources</a> — or write its spec as JSON with “New PipelineRun”.
        </p>
      </KindListPage>
    ),
  ],
  ["/pipelineruns/new", (_x, ns) => <ComposePage namespace={ns} />],
  ["/admin/pipelineruns/:namespace/:name", (x) => <PipelineRunDetailPage namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/usage", (_x, ns) => <KindListPage config={usageConfig} namespace={ns} />],
  ["/admin/usagerecords/:namespace/:name", (x) => <KindDetailPage config={usageConfig} namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/admin/providers", (_x, ns) => <ProvidersPage namespace={ns} />],
  ["/admin/providers/:namespace/:name", (x) => <ProviderDetailPage namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/admin/resources", (_x, ns) => <KindListPage config={resourcesConfig} namespace={ns} />],
  ["/admin/resources/:namespace/:name", (x) => <KindDetailPage config={resourcesConfig} namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/admin/prices", (_x, ns) => <KindListPage config={pricesConfig} namespace={ns} />],
  ["/admin/prices/:namespace/:name", (x) => <KindDetailPage config={pricesConfig} namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/admin/reservations", (_x, ns) => <ReservationsPage namespace={ns} />],
  ["/admin/reservations/:namespace/:name", (x) => <KindDetailPage config={reservationsDetail} namespace={p(x, "namespace")} name={p(x, "name")} />],
  ["/admin/projects", (_x, ns) => <KindListPage config={projectsConfig} namespace={ns} />],
  ["/admin/projects/:name", (x, ns) => <KindDetailPage config={projectsConfig} namespace={ns} name={p(x, "name")} />],
  ["/admin/peers", () => <PeersPage />],
];


function Routed({ path }: { path: string }): React.JSX.Element {
  const namespace = useNamespace();
  for (const [pattern, render] of table) {
    const params = match(pattern, path);
    if (params) return render(params, namespace);
  }
  if (path === "/") return <CatalogPage />;
  return (
    <Empty>
      No page at <code>#{path}</code>. <a href="#/catalog">Go to the catalog</a>.
    </Empty>
  );
}

export function routeElement(path: string): React.JSX.Element {
  return <Routed key={path} path={path} />;
}
