// Kubo's RPC API (`POST /api/v0/<command>?arg=…`) over fetch: JSON answers, newline-delimited
// JSON streams, raw byte streams, multipart uploads and multibase pubsub topics — the few encodings
// the commands discovery uses need (docs/decisions/kubo-rpc-client.md says why not kubo-rpc-client).
// The encodings are in kuboEncoding.ts. No deadline here: every caller passes an AbortSignal
// (IpfsClient's per-call deadline).
import { lines, rpcErrorMessage, type RpcParams, rpcQuery } from "./kuboEncoding.ts";

export interface RpcRequest {
  signal: AbortSignal;
  /** A multipart file part (add, pubsub pub). */
  file?: Uint8Array;
}

/** The response of a command that answered 2xx; any other status is an error naming kubo's message. */
export async function rpcCall(apiURL: string, command: string, params: RpcParams, req: RpcRequest): Promise<Response> {
  let body: FormData | undefined;
  if (req.file) {
    body = new FormData();
    body.append("file", new Blob([req.file as Uint8Array<ArrayBuffer>]), "file");
  }
  const res = await fetch(`${apiURL}/api/v0/${command}${rpcQuery(params)}`, { method: "POST", signal: req.signal, ...(body ? { body } : {}) });
  if (!res.ok) throw new Error(rpcErrorMessage(res.status, await res.text()));
  return res;
}

export async function rpcJson<T>(apiURL: string, command: string, params: RpcParams, req: RpcRequest): Promise<T> {
  const text = await (await rpcCall(apiURL, command, params, req)).text();
  return (text.trim() ? JSON.parse(text) : {}) as T;
}

/** A streaming command's objects (newline-delimited JSON), as kubo sends them. */
export async function* rpcStream<T>(apiURL: string, command: string, params: RpcParams, req: RpcRequest): AsyncGenerator<T> {
  const res = await rpcCall(apiURL, command, params, req);
  if (!res.body) return;
  for await (const line of lines(res.body)) yield JSON.parse(line) as T;
}

/** A byte stream read whole, refused once it passes `maxBytes`. */
export async function rpcBytes(apiURL: string, command: string, params: RpcParams, req: RpcRequest & { maxBytes: number }): Promise<Uint8Array> {
  const res = await rpcCall(apiURL, command, params, req);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > req.maxBytes) throw new Error(`larger than ${req.maxBytes} bytes`);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}
