// The shell: sign-in gate, header (who am I, namespace), navigation, and the page of the route.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiFailure, type WhoAmI } from "./api.ts";
import { currentPath, useHashPath } from "./router.ts";
import { routeElement } from "./routes.tsx";
import { NamespaceContext, useNamespaceControl, useNamespaceState } from "./namespace.ts";
import { SignIn } from "./pages/SignIn.tsx";
import { currentToken, setToken } from "./token.ts";
import { ErrorPanel, Loading } from "./ui.tsx";

const userLinks = [
  ["#/catalog", "Catalog"],
  ["#/pipelineruns", "Pipeline runs"],
  ["#/usage", "Usage & cost"],
] as const;

const adminLinks = [
  ["#/admin/providers", "Providers"],
  ["#/admin/resources", "Resources"],
  ["#/admin/prices", "Prices"],
  ["#/admin/reservations", "Reservations"],
  ["#/admin/projects", "Projects"],
  ["#/admin/peers", "Networks & peers"],
] as const;

function Nav({ path }: { path: string }): React.JSX.Element {
  const link = ([to, label]: readonly [string, string]): React.JSX.Element => (
    <a key={to} href={to} aria-current={`#${path}`.startsWith(to) ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <nav aria-label="Main">
      <span className="nav-group">{userLinks.map(link)}</span>
      <span className="nav-group admin" aria-label="Administration">
        {adminLinks.map(link)}
      </span>
    </nav>
  );
}

function Header({ who, onSignOut }: { who: WhoAmI; onSignOut: () => void }): React.JSX.Element {
  const ns = useNamespaceControl();
  const [draft, setDraft] = useState(ns.namespace);
  return (
    <header className="header">
      <a className="brand" href="#/catalog">
        Archipel
      </a>
      <form
        className="namespace"
        onSubmit={(e) => {
          e.preventDefault();
          ns.setNamespace(draft.trim() || "default");
        }}
      >
        <label htmlFor="namespace">Namespace</label>
        <input id="namespace" value={draft} onChange={(e) => setDraft(e.target.value)} onBlur={() => ns.setNamespace(draft.trim() || "default")} size={14} />
      </form>
      <div className="whoami" data-testid="whoami">
        <span className="user">{who.user}</span>
        <span className="groups" title="Your groups">
          {who.groups.join(", ")}
        </span>
      </div>
      <button type="button" className="secondary" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

export function App(): React.JSX.Element {
  const path = useHashPath();
  const queries = useQueryClient();
  const [signedIn, setSignedIn] = useState(currentToken() !== undefined);
  const namespace = useNamespaceState();
  const who = useQuery({ queryKey: ["whoami"], queryFn: () => api<WhoAmI>("/api/v1/whoami"), enabled: signedIn, staleTime: 60_000 });
  const signOut = (): void => {
    setToken(undefined);
    queries.clear();
    setSignedIn(false);
  };
  if (!signedIn || (who.error instanceof ApiFailure && who.error.status === 401)) {
    return (
      <SignIn
        rejected={who.error instanceof ApiFailure && who.error.status === 401}
        onSignedIn={() => {
          queries.clear();
          setSignedIn(true);
          if (currentPath() === "/") window.location.hash = "/catalog";
        }}
      />
    );
  }
  if (who.isPending) return <Loading what="your identity" />;
  if (who.isError) return <ErrorPanel error={who.error} title="Who you are could not be read" />;
  return (
    <NamespaceContext.Provider value={namespace}>
      <div className="app">
        <Header who={who.data} onSignOut={signOut} />
        <Nav path={path} />
        <main>{routeElement(path)}</main>
      </div>
    </NamespaceContext.Provider>
  );
}
