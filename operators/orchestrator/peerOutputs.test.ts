// Relaying a peer's output to another peer's run, against clients faked in memory (the relay's
// only I/O): what is asked of the source, what is sent to the receiver, and the completion.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "mocha";
import type { PeerInputComplete, PeerRunAnswer } from "../federation/peerRuns.ts";
import type { PeerEndpoint, PeerInputAt, PeerOutput, PeerOutputAt, PeerOutputStream } from "./peerClient.ts";
import { relayPeerOutput } from "./peerOutputs.ts";

const ep = (peer: string): PeerEndpoint => ({ peer, cluster: `${peer}-1`, endpoint: `http://127.0.0.1:1/${peer}` });
const fileOf = (basename: string, text: string): PeerOutputStream => {
  const bytes = new TextEncoder().encode(text);
  return { basename, size: bytes.length, stream: new Response(bytes).body as ReadableStream<Uint8Array> };
};
const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function receiver(): { client: { sendInputFile: (e: PeerEndpoint, at: PeerInputAt, f: { path: string; size: number }, s: ReadableStream<Uint8Array>) => Promise<void>; completeInput: (e: PeerEndpoint, at: PeerInputAt, b: PeerInputComplete) => Promise<PeerRunAnswer> }; sent: Map<string, string>; completed: PeerInputComplete[] } {
  const sent = new Map<string, string>();
  const completed: PeerInputComplete[] = [];
  return {
    sent,
    completed,
    client: {
      sendInputFile: async (_e, at, f, s) => void sent.set(`${at.input}/${f.path}`, await new Response(s).text()),
      completeInput: (_e, at, b) => {
        completed.push(b);
        return Promise.resolve({ namespace: at.namespace, name: at.name, steps: [], outputs: [], awaiting: [] });
      },
    },
  };
}

describe("relayPeerOutput: one peer's output sent on to another peer's run", () => {
  it("a Directory: each file asked for from the source and sent under the Directory's name; the completion names each path below it, size and SHA-256", async () => {
    const files: Record<string, string> = { "a/1.txt": "one", "2.txt": "two!" };
    const asked: string[] = [];
    const source = {
      output: (_e: PeerEndpoint, at: PeerOutputAt): Promise<PeerOutput> => {
        asked.push(`listing ${at.output}`);
        return Promise.resolve({ kind: "Directory", listing: { name: "tiles", files: Object.entries(files).map(([path, text]) => ({ path, size: text.length })) } });
      },
      outputFile: (_e: PeerEndpoint, at: PeerOutputAt, path: string): Promise<PeerOutputStream> => {
        asked.push(`${at.output}/${path}`);
        return Promise.resolve(fileOf(path.split("/").pop() ?? path, files[path] ?? ""));
      },
    };
    const to = receiver();
    await relayPeerOutput({ client: source, run: { ep: ep("lyon"), namespace: "science", name: "a-run-1" }, output: "split_tiles" }, { client: to.client, run: { ep: ep("oslo"), namespace: "science", name: "a-run-2" }, input: "peer_split_tiles" });
    assert.deepEqual(asked, ["listing split_tiles", "split_tiles/a/1.txt", "split_tiles/2.txt"]);
    assert.deepEqual([...to.sent.entries()], [["peer_split_tiles/tiles/a/1.txt", "one"], ["peer_split_tiles/tiles/2.txt", "two!"]]);
    assert.deepEqual(to.completed, [{ class: "Directory", name: "tiles", files: [{ path: "a/1.txt", size: 3, sha256: sha256("one") }, { path: "2.txt", size: 4, sha256: sha256("two!") }] }]);
  });

  it("a file larger than it was listed is refused before it is sent, and nothing is completed", async () => {
    const source = {
      output: (): Promise<PeerOutput> => Promise.resolve({ kind: "Directory", listing: { name: "tiles", files: [{ path: "x", size: 1 }] } }),
      outputFile: (): Promise<PeerOutputStream> => Promise.resolve({ ...fileOf("x", "far more than one byte"), size: 6 * 1024 ** 3 }),
    };
    const to = receiver();
    await assert.rejects(relayPeerOutput({ client: source, run: { ep: ep("lyon"), namespace: "s", name: "r" }, output: "o" }, { client: to.client, run: { ep: ep("oslo"), namespace: "s", name: "r2" }, input: "i" }), /at most \d+ more are copied/);
    assert.deepEqual([to.sent.size, to.completed.length], [0, 0]);
  });
});
