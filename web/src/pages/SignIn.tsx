// Sign-in with a bearer token (the same tokens kubectl uses). The token is checked with a
// SelfSubjectReview (/api/v1/whoami) before it is kept; it is never put in a URL.
import { useState } from "react";
import { api, type WhoAmI } from "../api.ts";
import { setToken } from "../token.ts";
import { ErrorPanel, Field } from "../ui.tsx";

export function SignIn({ onSignedIn, rejected }: { onSignedIn: () => void; rejected: boolean }): React.JSX.Element {
  const [token, setDraft] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setToken(token.trim());
    try {
      await api<WhoAmI>("/api/v1/whoami");
      onSignedIn();
    } catch (err) {
      setToken(undefined);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>Archipel</h1>
      <p>Sign in with a Kubernetes bearer token — the same token kubectl uses (ServiceAccount, OIDC or static). Every page then acts as you: Kubernetes RBAC decides what you see and change.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field id="token" label="Bearer token" hint="Kept in this tab's session storage only; closing the tab signs you out.">
          <input id="token" type="password" autoComplete="off" required value={token} onChange={(e) => setDraft(e.target.value)} autoFocus />
        </Field>
        <button type="submit" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {rejected && !error ? <ErrorPanel error={new Error("Your session's token is no longer accepted.")} title="Signed out" /> : null}
      {error ? <ErrorPanel error={error} title="Sign-in failed" /> : null}
    </main>
  );
}
