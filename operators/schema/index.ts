// Every kind of archipel.io/v1alpha1, in one list; the modules hold the schemas.
import type { KindDefinition } from "./kind.ts";
import { accessGrantKind } from "./accessGrant.ts";
import { identityKind } from "./identity.ts";
import { networkKind } from "./network.ts";
import { peerKind } from "./peer.ts";
import { pipelineRunKind } from "./pipelineRun.ts";
import { priceKind } from "./price.ts";
import { projectKind } from "./project.ts";
import { providerKind } from "./provider.ts";
import { reservationKind } from "./reservation.ts";
import { resourceKind } from "./resource.ts";
import { usageRecordKind } from "./usageRecord.ts";

export * from "./common.ts";
export type * from "./kind.ts";
export * from "./identity.ts";
export * from "./network.ts";
export * from "./peer.ts";
export * from "./provider.ts";
export * from "./resource.ts";
export * from "./accessGrant.ts";
export * from "./price.ts";
export * from "./reservation.ts";
export * from "./pipelineRun.ts";
export * from "./usageRecord.ts";
export * from "./project.ts";

export const kinds: readonly KindDefinition[] = [
  identityKind,
  networkKind,
  peerKind,
  providerKind,
  resourceKind,
  accessGrantKind,
  priceKind,
  reservationKind,
  pipelineRunKind,
  usageRecordKind,
  projectKind,
];
