// Where a forming federation's discovery time goes, read from its members' manager logs (JSON
// lines): for each member, when its node answered (its Network Ready), when its descriptor was
// published, and when the first and the last other member discovered it. Pure: log texts in,
// seconds out. bench/discovery.ts prints them beside the convergence figure.

interface Line {
  message?: string;
  timestamp?: string;
  network?: string;
  peerId?: string;
  status?: string;
}

export interface MemberLog {
  /** the member's kubo peer ID (its IPNS name) */
  peerId: string;
  text: string;
}

export interface MemberPhases {
  peerId: string;
  /** seconds from `since` to its Network turning Ready (the node answered) */
  nodeReady?: number;
  /** seconds from the node answering to its descriptor published */
  publish?: number;
  /** seconds from the publication to the first / the last other member's discovery of it */
  firstFound?: number;
  lastFound?: number;
}

function lines(text: string): Line[] {
  return text.split("\n").flatMap((l) => {
    if (!l.startsWith("{")) return [];
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });
}

const at = (l: Line | undefined): number | undefined => (l?.timestamp ? Date.parse(l.timestamp) : undefined);
const seconds = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : (to - from) / 1000);

export function discoveryPhases(logs: MemberLog[], network: string, since: number): MemberPhases[] {
  const parsed = logs.map((m) => ({ peerId: m.peerId, lines: lines(m.text).filter((l) => l.network === network) }));
  return parsed.map((m) => {
    const ready = at(m.lines.find((l) => l.message === "network readiness changed" && l.status === "True"));
    const published = at(m.lines.find((l) => l.message === "descriptor published" && l.peerId === m.peerId));
    const found = parsed.filter((f) => f.peerId !== m.peerId).flatMap((f) => {
      const t = at(f.lines.find((l) => l.message === "peer discovered" && l.peerId === m.peerId));
      return t === undefined ? [] : [t];
    });
    const complete = found.length === logs.length - 1;
    return {
      peerId: m.peerId,
      ...present("nodeReady", seconds(since, ready)),
      ...present("publish", seconds(ready, published)),
      ...present("firstFound", found.length > 0 ? seconds(published, Math.min(...found)) : undefined),
      ...present("lastFound", complete ? seconds(published, Math.max(...found)) : undefined),
    };
  });
}

function present<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}
