// Kubo's RPC API encodings, no I/O: the query string, error bodies, newline-delimited streams,
// multibase pubsub topics and messages. kuboRpc.ts sends the requests.

export type RpcParams = Record<string, string | number | boolean | readonly string[] | undefined>;

/** `?arg=a&arg=b&key=value…` in the order given; undefined values are left out. */
export function rpcQuery(params: RpcParams): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) query.append(key, String(v));
  }
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** Kubo's error body (`{"Message": …, "Type": "error"}`), else its text. */
export function rpcErrorMessage(status: number, body: string): string {
  let message = body;
  try {
    message = (JSON.parse(body) as { Message?: string }).Message ?? body;
  } catch {
    // kubo answers plain text for some errors (an unknown command, a proxy in between)
  }
  return `HTTP ${status}: ${message.trim() || "no message"}`;
}

/** Each complete line of a text stream, as it arrives. */
export async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield line;
    }
  }
  const rest = (pending + decoder.decode()).trim();
  if (rest) yield rest;
}

/** Kubo's pubsub commands take topics and give data multibase-encoded: base64url, prefix "u". */
export function multibaseEncode(bytes: Uint8Array | string): string {
  return `u${Buffer.from(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes).toString("base64url")}`;
}

export function multibaseDecode(text: string): Uint8Array {
  if (!text.startsWith("u")) throw new Error(`not base64url multibase (prefix ${JSON.stringify(text.slice(0, 1))})`);
  return new Uint8Array(Buffer.from(text.slice(1), "base64url"));
}

/**
 * One line of `pubsub/sub`: the sender (kubo signs messages) and the data. A line that is not a
 * message kubo could encode gives undefined: one bad message does not end a subscription.
 */
export function pubsubMessage(line: string): { from?: string; data: Uint8Array } | undefined {
  try {
    const m = JSON.parse(line) as { from?: unknown; data?: unknown };
    if (typeof m.data !== "string") return undefined;
    return { ...(typeof m.from === "string" && m.from ? { from: m.from } : {}), data: multibaseDecode(m.data) };
  } catch {
    return undefined;
  }
}
