// The columns and creation templates of the kinds shown through the generic pages.
import type { KubeObject } from "../api.ts";
import { field, type KindPageConfig } from "./Kinds.tsx";

const money = (o: KubeObject, path: "quote" | "cost"): string => {
  const m = (o.status as Record<string, { amount?: string; currency?: string } | undefined> | undefined)?.[path];
  return m?.amount ? `${m.amount} ${m.currency ?? ""}` : "";
};

export const resourcesConfig: KindPageConfig = {
  kind: "Resource",
  plural: "resources",
  title: "Resources",
  columns: [field("Title", "spec.title"), field("Type", "spec.type"), field("Provider", "spec.providerRef.name"), field("Visibility", "spec.visibility")],
  template: { providerRef: { name: "files" }, type: "data", title: "Observations", tags: ["ocean"], visibility: "public", data: { url: { url: "https://data.example.org/observations.csv" } } },
  empty: "No Resource in this namespace: a Provider's administrator publishes them here.",
};

export const pricesConfig: KindPageConfig = {
  kind: "Price",
  plural: "prices",
  title: "Prices",
  columns: [
    { title: "Target", value: (o) => `${String((o.spec.targetRef as { kind?: string })?.kind ?? "")} ${String((o.spec.targetRef as { name?: string })?.name ?? "")}` },
    field("Currency", "spec.currency"),
    { title: "Rates", value: (o) => Object.entries((o.spec.rates as Record<string, string>) ?? {}).map(([k, v]) => `${k}=${v}`).join(", ") },
    field("Valid from", "spec.validFrom"),
  ],
  template: { targetRef: { kind: "Provider", name: "lab-compute" }, currency: "EUR", rates: { cpuCoreHour: "0.04", memoryGiBHour: "0.005" }, validFrom: new Date().toISOString().slice(0, 19) + "Z" },
  empty: "No Price in this namespace: Resources and Providers here are free to use.",
};

export const projectsConfig: KindPageConfig = {
  kind: "Project",
  plural: "projects",
  title: "Projects",
  clusterScoped: true,
  columns: [
    field("Display name", "spec.displayName"),
    { title: "Users", value: (o) => ((o.spec.members as { users?: string[] })?.users ?? []).join(", ") },
    { title: "Groups", value: (o) => ((o.spec.members as { groups?: string[] })?.groups ?? []).join(", ") },
    { title: "Clusters", value: (o) => ((o.spec.members as { clusters?: string[] })?.clusters ?? []).join(", ") },
  ],
  template: { displayName: "Ocean research", members: { users: ["alice"], groups: [], clusters: [] } },
  empty: "No Project yet: a Project is the unit of restricted visibility and of billing.",
};

export const usageConfig: KindPageConfig = {
  kind: "UsageRecord",
  plural: "usagerecords",
  title: "Usage records",
  columns: [
    field("Run", "spec.pipelineRunRef.name"),
    field("Step", "spec.step"),
    field("Peer", "spec.peer"),
    { title: "Cost", value: (o) => `${String((o.spec.cost as { amount?: string })?.amount ?? "")} ${String((o.spec.cost as { currency?: string })?.currency ?? "")}` },
  ],
  template: {},
  empty: "No UsageRecord in this namespace: finished steps are metered into UsageRecords (by the billing controller, where it runs).",
};

export const pipelineRunsConfig: KindPageConfig = {
  kind: "PipelineRun",
  plural: "pipelineruns",
  title: "Pipeline runs",
  columns: [field("Phase", "status.phase"), field("Steps", "status.progress"), { title: "Quote", value: (o) => money(o, "quote") }, { title: "Cost", value: (o) => money(o, "cost") }],
  template: { steps: [{ name: "hello", serviceRef: { name: "hello-service" } }] },
  empty: "No PipelineRun in this namespace yet: compose one from service Resources with “New PipelineRun”.",
};
