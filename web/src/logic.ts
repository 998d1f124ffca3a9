// The UI's pure pieces (no DOM, no React): unit-tested from test/unit/web-logic.test.ts.

/** `/resources/:namespace/:name` against `/resources/a/b` → { namespace: "a", name: "b" }. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] ?? "";
    if (part.startsWith(":")) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return undefined;
  }
  return params;
}

export interface StepShape {
  name: string;
  in?: Record<string, string>;
}

/** The steps a step reads from (`in` sources `<step>/<output>`), among `names`. */
export function upstreamOf(step: StepShape, names: ReadonlySet<string>): string[] {
  const ups = Object.values(step.in ?? {}).map((src) => src.split("/")[0] ?? "");
  return [...new Set(ups.filter((n) => names.has(n) && n !== step.name))];
}

/** Each step's level: 0 without upstream steps, else one more than its deepest upstream. */
export function stepLevels(steps: readonly StepShape[]): Map<string, number> {
  const names = new Set(steps.map((s) => s.name));
  const upstream = new Map(steps.map((s) => [s.name, upstreamOf(s, names)]));
  const levels = new Map<string, number>();
  const level = (name: string, seen: Set<string>): number => {
    const known = levels.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle: the API refuses it; draw rather than loop
    seen.add(name);
    const ups = upstream.get(name) ?? [];
    const l = ups.length === 0 ? 0 : 1 + Math.max(...ups.map((u) => level(u, seen)));
    levels.set(name, l);
    return l;
  };
  for (const s of steps) level(s.name, new Set());
  return levels;
}

const quantityUnits: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Kubernetes quantity as a number, enough to draw a bar (cpu in cores, memory in bytes); 0 when unreadable. */
export function quantity(q: string | undefined): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q ?? "");
  if (!m) return 0;
  const unit = quantityUnits[m[2] ?? ""];
  return unit === undefined ? 0 : Number(m[1]) * unit;
}

/** "12s ago", "5m ago", "3h ago", "2d ago"; empty without a time. */
export function age(time: string | undefined, now: number): string {
  if (!time) return "";
  const s = Math.max(0, Math.round((now - Date.parse(time)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** A default AccessGrant name: `<resource>-<user>` as a DNS label. */
export function grantName(resource: string, user: string): string {
  const who = user.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return `${resource}-${who}`.slice(0, 63).replace(/-+$/, "");
}

/** `input=source` lines → a step's `in` map; blank lines and lines without `=` are skipped. */
export function parseWiring(text: string): Record<string, string> {
  const wiring: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at <= 0) continue;
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    if (key && value) wiring[key] = value;
  }
  return wiring;
}

/** A run's part on one peer (an entry of status.peerRuns). */
export interface PeerPartShape {
  peer: string;
  cluster: string;
  reservation: string;
  reservationState?: string;
  name?: string;
  phase?: string;
  quote?: { amount: string; currency: string };
  holdRound?: number;
}

/** A run's part on one peer in words: where, the hold and its state, the peer's run of the steps, its quote. */
export function peerPartText(p: PeerPartShape): { where: string; hold: string; run: string; quote: string } {
  const run = !p.name ? "not sent" : p.phase === "Cancelled" ? `${p.name}: cancelled (another peer's part failed)` : `${p.name}: ${p.phase ?? "sent"}`;
  return {
    where: `${p.cluster} (Peer ${p.peer})`,
    hold: `${p.reservation ? `${p.reservation}: ${p.reservationState ?? "asked"}` : "nothing held"}${p.holdRound ? ` (round ${p.holdRound} of holds: an earlier one lapsed)` : ""}`,
    run,
    quote: p.quote ? `${p.quote.amount} ${p.quote.currency}` : "",
  };
}
