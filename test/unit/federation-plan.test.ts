import assert from "node:assert/strict";
import {
  bootstrapFor,
  clusterNames,
  initialState,
  kuboHost,
  networkObject,
  parseCommand,
  swarmKeySecret,
  UsageError,
} from "../../hack/federation-plan.ts";

describe("hack/federation plan", () => {
  it("parses up with defaults and flags in both spellings", () => {
    assert.deepEqual(parseCommand(["up", "3"]), { command: "up", clusters: 3, approval: "auto", namePrefix: "fed", clusterFlags: [], asDeployed: false });
    assert.deepEqual(parseCommand(["up", "--approval", "manual", "2", "--name-prefix=x1"]), { command: "up", clusters: 2, approval: "manual", namePrefix: "x1", clusterFlags: [], asDeployed: false });
    assert.deepEqual(parseCommand(["up", "2", "--argo", "--node", "--argo"]), { command: "up", clusters: 2, approval: "auto", namePrefix: "fed", clusterFlags: ["--argo", "--node"], asDeployed: false });
    assert.equal((parseCommand(["up", "2", "--as-deployed"]) as { asDeployed: boolean }).asDeployed, true);
    assert.deepEqual(parseCommand(["stop", "fed-2", "kubo"]), { command: "stop", cluster: "fed-2", component: "kubo" });
    assert.deepEqual(parseCommand([]), { command: "help" });
  });

  it("refuses bad input naming what is wrong", () => {
    assert.throws(() => parseCommand(["up"]), (e: Error) => e instanceof UsageError && /exactly one N/.test(e.message));
    assert.throws(() => parseCommand(["up", "0"]), /N must be a whole number from 1 to 20/);
    assert.throws(() => parseCommand(["up", "2", "--approval", "maybe"]), /--approval must be auto or manual/);
    assert.throws(() => parseCommand(["up", "2", "--name-prefix", "Bad_Name"]), /--name-prefix "Bad_Name"/);
    assert.throws(() => parseCommand(["up", "2", "--color"]), /unknown flag --color/);
    assert.throws(() => parseCommand(["start", "fed-1", "etcd"]), /one of manager, api, kubo/);
    assert.throws(() => parseCommand(["down", "now"]), /takes no arguments/);
  });

  it("names members, gives each kubo its own loopback IP, and bootstraps through another member", () => {
    assert.deepEqual(clusterNames("fed", 3), ["fed-1", "fed-2", "fed-3"]);
    const hosts = [0, 1, 2].map((i) => kuboHost("fed", i));
    assert.equal(new Set(hosts).size, 3);
    for (const h of hosts) assert.match(h, /^127\.88\.\d{1,3}\.\d{1,3}$/);
    assert.deepEqual(bootstrapFor(0, ["/a", "/b", "/c"]), ["/b"]);
    assert.deepEqual(bootstrapFor(2, ["/a", "/b", "/c"]), ["/a"]);
    assert.deepEqual(bootstrapFor(0, ["/a"]), []);
  });

  it("builds an external-mode Network referencing the shared swarm key Secret", () => {
    const net = networkObject({ network: "fed", kuboApi: "http://127.0.0.1:5001", bootstrap: ["/ip4/127.0.0.1/tcp/4001/p2p/X"], approval: "manual" }) as {
      spec: Record<string, unknown>;
    };
    assert.deepEqual(net.spec.ipfs, { mode: "external", apiURL: "http://127.0.0.1:5001" });
    assert.equal(net.spec.approvalPolicy, "manual");
    assert.deepEqual(net.spec.swarmKeySecretRef, { namespace: "archipel-system", name: "fed-swarm-key" });
    const secret = swarmKeySecret("fed", "KEY") as { metadata: { name: string }; stringData: Record<string, string> };
    assert.equal(secret.metadata.name, "fed-swarm-key");
    assert.deepEqual(secret.stringData, { "swarm.key": "KEY" });
  });

  it("records every member before anything starts, so down after a partial up finds them", () => {
    const s = initialState({ command: "up", clusters: 2, approval: "auto", namePrefix: "p", clusterFlags: [], asDeployed: false }, "/f", "/c", new Date(0));
    assert.deepEqual(s.clusters.map((c) => [c.name, c.kubeconfig, c.dir]), [["p-1", "/c/p-1/kubeconfig", "/f/p-1"], ["p-2", "/c/p-2/kubeconfig", "/f/p-2"]]);
    assert.equal(s.phase, "starting");
  });
});
