// Where an Identity's Ed25519 private key is kept: the discovery controller writes it, the signed
// client reads it, so the names live here, below both (the layering table in ARCHITECTURE.md).
import { defaultSystemNamespace } from "../schema/common.ts";

/** The Identity key Secret when Identity.spec.keySecretRef is absent. */
export const defaultIdentityKeySecret = { namespace: defaultSystemNamespace, name: "archipel-identity" } as const;
/** Data key of the identity Secret holding the Ed25519 private key (PKCS#8 PEM). */
export const identityPrivateKeyField = "private.pem";
