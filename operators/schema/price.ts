// Price: rates for a Resource or a Provider in one currency, valid from validFrom (until
// validUntil when given). Rates are decimal strings: money is never a float.
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

export const PriceSpec = strictObject(
  {
    targetRef: strictObject(
      { kind: StringEnum(["Resource", "Provider"] as const), name: ObjectName },
      { description: "what is priced, in this namespace" },
    ),
    currency: Currency,
    rates: PriceRates,
    validFrom: described(Timestamp, "the rates apply from this time (RFC 3339)"),
    validUntil: Type.Optional(described(Timestamp, "and until this time, when given")),
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
    reasonColumn,
    ageColumn,
  ],
  validations: [],
};
