// The namespace the caller works in (header field), kept for the tab's session.
import { createContext, useContext, useState } from "react";

const key = "archipel.namespace";

export interface NamespaceState {
  namespace: string;
  setNamespace: (ns: string) => void;
}

export function useNamespaceState(): NamespaceState {
  const [namespace, set] = useState(sessionStorage.getItem(key) ?? "default");
  return {
    namespace,
    setNamespace: (ns) => {
      sessionStorage.setItem(key, ns);
      set(ns);
    },
  };
}

export const NamespaceContext = createContext<NamespaceState>({ namespace: "default", setNamespace: () => undefined });

export function useNamespace(): string {
  return useContext(NamespaceContext).namespace;
}

export function useNamespaceControl(): NamespaceState {
  return useContext(NamespaceContext);
}
