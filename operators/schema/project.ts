// Project: a federation-wide project (cluster-scoped) with members; the unit of restricted
// visibility and of billing.
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import { ageColumn, category, column, group, kindObject, Money, readyColumn, statusBase, strictObject, version } from "./common.ts";

const Subject = Type.String({ minLength: 1, maxLength: 253 });

export const ProjectSpec = strictObject({
  displayName: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.Optional(Type.String({ maxLength: 4096 })),
  members: strictObject(
    {
      users: Type.Optional(Type.Array(Subject, { maxItems: 1024, "x-kubernetes-list-type": "set" })),
      groups: Type.Optional(Type.Array(Subject, { maxItems: 256, "x-kubernetes-list-type": "set" })),
      clusters: Type.Optional(
        Type.Array(Subject, {
          maxItems: 256,
          "x-kubernetes-list-type": "set",
          description: "member clusters (Peer cluster names) whose users may act for this project in federated requests",
        }),
      ),
    },
    { description: "Kubernetes user and group names (as the API server authenticates them) and member clusters acting for this project" },
  ),
  budget: Type.Optional(Money),
});
export type ProjectSpec = Static<typeof ProjectSpec>;

export const ProjectStatus = strictObject({
  ...statusBase,
  spent: Type.Optional(
    Type.Array(Money, {
      maxItems: 32,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["currency"],
      description: "the cost of the project's UsageRecords, one amount per currency sorted by code (never converted nor added across currencies)",
    }),
  ),
  spentSummary: Type.Optional(Type.String({ maxLength: 1024, description: "status.spent for reading, e.g. \"12.30 EUR, 4 JPY\"" })),
});
export type ProjectStatus = Static<typeof ProjectStatus>;

export const Project = kindObject("Project", ProjectSpec, ProjectStatus);
export type Project = Static<typeof Project>;

export const projectKind: KindDefinition = {
  group,
  version,
  kind: "Project",
  plural: "projects",
  singular: "project",
  listKind: "ProjectList",
  scope: "Cluster",
  shortNames: ["aproj"],
  categories: [category],
  description: "A federation-wide project with members (users, groups): the unit of restricted visibility and of billing.",
  spec: ProjectSpec,
  status: ProjectStatus,
  printerColumns: [
    column("Display Name", ".spec.displayName"),
    column("Budget", ".spec.budget.amount", { priority: 1 }),
    column("Currency", ".spec.budget.currency", { priority: 1 }),
    column("Spent", ".status.spentSummary", { description: "status.spent: one amount per currency" }),
    readyColumn,
    ageColumn,
  ],
  validations: [],
};
