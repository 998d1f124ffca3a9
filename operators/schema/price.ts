// Price: rates for a Resource or a Provider in one currency, valid from validFrom (until
// validUntil when given), for everyone or only for an audience (named peers and/or projects:
// custom rates). Rates are decimal strings: money is never a float. Which Price applies when
// several could is decided in operators/billing/priceResolution.ts (docs/billing.md).
import { Type, type Static } from "typebox";
import type { KindDefinition } from "./kind.ts";
import {
  ageColumn,
  category,
  cel,
  column,
  Currency,
  Decimal,
  described,
  DnsLabel,
  group,
  kindObject,
  ObjectName,
  readyColumn,
  reasonColumn,
  statusBase,
  StringEnum,
  strictObject,
  Timestamp,
  version,
} from "./common.ts";

export const PriceRates = strictObject(
  {
    cpuCoreHour: Type.Optional(described(Decimal, "per cpu core and hour")),
    memoryGiBHour: Type.Optional(described(Decimal, "per GiB of memory and hour")),
    storageGiBMonth: Type.Optional(described(Decimal, "per GiB stored and month (30 days)")),
    egressGiB: Type.Optional(described(Decimal, "per GiB leaving the cluster")),
    perRun: Type.Optional(described(Decimal, "per PipelineRun step using the target")),
  },
  { minProperties: 1, description: "at least one rate, each a decimal string in spec.currency" },
);
export type PriceRates = Static<typeof PriceRates>;

export const PriceAudience = strictObject(
  {
    peers: Type.Optional(
      Type.Array(ObjectName, { minItems: 1, maxItems: 256, "x-kubernetes-list-type": "set", description: "Peer cluster names these rates are for" }),
    ),
    projects: Type.Optional(
      Type.Array(DnsLabel, { minItems: 1, maxItems: 256, "x-kubernetes-list-type": "set", description: "Project names these rates are for" }),
    ),
  },
  {
    minProperties: 1,
    description: "custom rates: only for requests from one of these peers or billed to one of these projects (absent: the default rates, for everyone)",
  },
);
export type PriceAudience = Static<typeof PriceAudience>;

export const PriceSpec = strictObject(
  {
    targetRef: strictObject(
      { kind: StringEnum(["Resource", "Provider"] as const), name: ObjectName },
      { description: "what is priced, in this namespace" },
    ),
    currency: Currency,
    rates: PriceRates,
    audience: Type.Optional(PriceAudience),
    validFrom: described(Timestamp, "the rates apply from this time (RFC 3339)"),
    validUntil: Type.Optional(described(Timestamp, "and until this time, excluded, when given")),
  },
  {
    "x-kubernetes-validations": [
      cel("!has(self.validUntil) || self.validUntil > self.validFrom", "spec.validUntil must be after spec.validFrom", ".validUntil"),
    ],
  },
);
export type PriceSpec = Static<typeof PriceSpec>;

export const PriceStatus = strictObject({ ...statusBase });
export type PriceStatus = Static<typeof PriceStatus>;

export const Price = kindObject("Price", PriceSpec, PriceStatus);
export type Price = Static<typeof Price>;

export const priceKind: KindDefinition = {
  group,
  version,
  kind: "Price",
  plural: "prices",
  singular: "price",
  listKind: "PriceList",
  scope: "Namespaced",
  shortNames: ["aprice"],
  categories: [category],
  description: "Rates for a Resource or a Provider (per cpu-core-hour, memory-GiB-hour, storage-GiB-month, egress-GiB, run), currency, validity.",
  spec: PriceSpec,
  status: PriceStatus,
  printerColumns: [
    column("Target Kind", ".spec.targetRef.kind"),
    column("Target", ".spec.targetRef.name"),
    column("Currency", ".spec.currency"),
    column("CPU/h", ".spec.rates.cpuCoreHour", { priority: 1 }),
    column("Valid From", ".spec.validFrom"),
    column("Valid Until", ".spec.validUntil", { priority: 1 }),
    readyColumn,
    // Shown by default: Conflict, Expired and NotYetValid are what an operator looks for here.
    { ...reasonColumn, priority: 0 },
    ageColumn,
  ],
  validations: [],
};
