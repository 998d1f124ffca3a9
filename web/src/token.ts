// The caller's bearer token: in memory, and in sessionStorage so a reload in the same tab keeps
// the session (closing the tab ends it). Never in a URL, never logged.
const key = "archipel.token";
let token: string | undefined = sessionStorage.getItem(key) ?? undefined;

export function currentToken(): string | undefined {
  return token;
}

export function setToken(value: string | undefined): void {
  token = value;
  if (value === undefined) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, value);
}
