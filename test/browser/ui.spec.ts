// The web UI end to end on a 2-member local federation (hack/federation, approval manual): as the
// admin, accept the Pending peer on each member, see a Provider's validation error named by
// field, create it and watch it become Ready; as alice, sign in, search the federated catalog
// (results from both clusters, tagged with their origin), open a Resource and request a grant.
// Every page is screenshot into test/browser/screenshots/.
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { readFileSync } from "node:fs";
import { expect, type Locator, type Page, test } from "@playwright/test";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type V1ClusterRole } from "@kubernetes/client-node";
import { s3ClientFor } from "../../operators/catalog/backends/s3Client.ts";
import { loadAll } from "js-yaml";
import { repoRoot } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { type Federation, type FederationMember, startFederation } from "../support/federation.ts";
import { startS3, type TestS3 } from "../support/s3.ts";
import { allStarted } from "../support/allStarted.ts";

const group = { group: "archipel.io", version: "v1alpha1" };
const namespace = "ui-shop";
const tag = `ui-${process.pid}`;
const shots = path.join(repoRoot, "test/browser/screenshots");

let fed: Federation;
let s3: TestS3;
let files: Server;
let filesUrl: string;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page: Page, m: FederationMember, token: string): Promise<void> {
  // A fresh document without a session (a hash-only navigation would keep the app's state).
  await page.goto(`${m.apiUrl}/#/catalog`);
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.getByLabel("Bearer token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("whoami")).toBeVisible();
}

/** Searches and waits for the answer: rows of a cached answer may move when the new one lands, and a click would miss. */
async function searchCatalog(page: Page): Promise<Locator> {
  await page.getByRole("button", { name: "Search" }).click();
  const results = page.getByTestId("catalog-results");
  await expect(results).toHaveAttribute("aria-busy", "false");
  return results;
}

/** alice: federated search (archipel-catalog-user, cluster-wide) and grants in the shop namespace. */
async function bindAlice(m: FederationMember): Promise<void> {
  const roles = loadAll(readFileSync(path.join(repoRoot, "config/rbac/user_roles.yaml"), "utf8")) as V1ClusterRole[];
  const rbac = m.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  for (const role of roles.filter((r) => r?.kind === "ClusterRole")) await rbac.createClusterRole({ body: role });
  const alice = [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }];
  await rbac.createClusterRoleBinding({ body: { metadata: { name: "ui-catalog-users" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "archipel-catalog-user" }, subjects: alice } });
  await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: "ui-grant-requesters" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "archipel-grant-requester" }, subjects: alice } });
  // Prices are not in the shipped user roles: the shop lets its users read them.
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: "ui-price-reader" }, rules: [{ apiGroups: ["archipel.io"], resources: ["prices"], verbs: ["get", "list", "watch"] }] } });
  await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: "ui-price-readers" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ui-price-reader" }, subjects: alice } });
}

/** Each member: the shop namespace, a files Provider and one public Resource served on loopback. */
async function publish(m: FederationMember, index: number): Promise<void> {
  const objects = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  await m.cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  await bindAlice(m);
  await objects.createNamespacedCustomObject({
    ...group, namespace, plural: "providers",
    body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "files" }, spec: { type: "data", displayName: "Buoy files", data: { source: "url", url: { baseURL: filesUrl } } } },
  });
  await objects.createNamespacedCustomObject({
    ...group, namespace, plural: "resources",
    body: {
      apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: "buoys" },
      spec: { providerRef: { name: "files" }, type: "data", title: `Ocean buoys ${index + 1}`, description: `Hourly buoy readings kept on ${m.name}`, tags: [tag, "ocean"], visibility: "public", data: { url: { url: `${filesUrl}buoys.csv` } } },
    },
  });
  await objects.createNamespacedCustomObject({
    ...group, namespace, plural: "prices",
    body: { apiVersion: "archipel.io/v1alpha1", kind: "Price", metadata: { name: "files-price" }, spec: { targetRef: { kind: "Provider", name: "files" }, currency: "EUR", rates: { egressGiB: "0.02" }, validFrom: "2026-01-01T00:00:00Z" } },
  });
}

/** A bucket on a real S3 server, offered as a storage Resource: a write grant on it issues real credentials. */
async function publishBucket(m: FederationMember, bucket: string, title: string): Promise<void> {
  const client = s3ClientFor(s3.endpoint, s3.region, s3);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  await m.cluster.kubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name: "s3-admin" }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
  const objects = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  await objects.createNamespacedCustomObject({
    ...group, namespace, plural: "providers",
    body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "buckets" }, spec: { type: "storage", displayName: "Result buckets", storage: { backend: "s3", s3: { endpoint: s3.endpoint, region: s3.region, credentialsSecretRef: { name: "s3-admin" } } } } },
  });
  await objects.createNamespacedCustomObject({
    ...group, namespace, plural: "resources",
    body: { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: bucket }, spec: { providerRef: { name: "buckets" }, type: "storage", title, tags: [tag], visibility: "public", storage: { s3: { bucket, prefix: "runs/" } } } },
  });
}

/** Project reef on `m` (cluster-scoped; made by the test that needs it, so other pages stay as they were). */
const reefProject = (m: FederationMember, members: { users: string[]; clusters: string[] }): Promise<unknown> =>
  m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createClusterCustomObject({ ...group, plural: "projects", body: { apiVersion: "archipel.io/v1alpha1", kind: "Project", metadata: { name: "reef" }, spec: { displayName: "Reef survey", members } } });

/** On `owner`, project reef lists home's cluster, and a bucket is restricted to it (storage Provider "buckets", made by publishBucket). */
async function reefBucket(home: FederationMember, owner: FederationMember): Promise<void> {
  await reefProject(owner, { users: [], clusters: [home.name] });
  const client = s3ClientFor(s3.endpoint, s3.region, s3);
  await client.send(new CreateBucketCommand({ Bucket: "reef" }));
  client.destroy();
  await owner.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...group, namespace, plural: "resources",
    body: { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name: "reef" }, spec: { providerRef: { name: "buckets" }, type: "storage", title: "Reef results", tags: [tag], visibility: "restricted", projects: ["reef"], storage: { s3: { bucket: "reef", prefix: "runs/" } } } },
  });
}

/** Member 2 lets peers ask for grants in the shop; alice may ask peers (on member 1). */
async function openToPeerGrants(m: FederationMember, requester: FederationMember): Promise<void> {
  await m.cluster.kubeConfig().makeApiClient(CoreV1Api).patchNamespace({ name: namespace, body: { metadata: { labels: { "archipel.io/peer-grants": "true" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));
  await requester.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: { metadata: { name: "ui-peer-grant-requesters" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "archipel-peer-grant-requester" }, subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }] },
  });
}

/** Puts an object with the credentials the page shows: they work for what was granted. */
async function putWith(credentials: Locator, bucket: string): Promise<void> {
  const value = async (key: string): Promise<string> => (await credentials.locator(`[data-key="${key}"]`).textContent()) ?? "";
  const client = s3ClientFor(s3.endpoint, s3.region, { accessKeyId: await value("accessKeyId"), secretAccessKey: await value("secretAccessKey") });
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${await value("prefix")}from-the-ui.txt`, Body: "ok" }));
  } finally {
    client.destroy();
  }
}

const writer = { cwlVersion: "v1.2", class: "CommandLineTool", baseCommand: ["bash", "-c", 'printf "%s" "$0" > greeting.txt'], inputs: { message: { type: "string", inputBinding: { position: 1 } } }, outputs: { out: { type: "File", outputBinding: { glob: "greeting.txt" } } } };
const shouter = { cwlVersion: "v1.2", class: "CommandLineTool", baseCommand: ["tr", "a-z", "A-Z"], stdin: "$(inputs.text.path)", stdout: "upper.txt", inputs: { text: "File" }, outputs: { shouted: "stdout" } };

/** Member 1 offers two services (an image + a CWL tool each); alice may run pipelines in the shop. */
async function publishServices(m: FederationMember): Promise<void> {
  const objects = m.cluster.kubeConfig().makeApiClient(CustomObjectsApi);
  await objects.createNamespacedCustomObject({ ...group, namespace, plural: "providers", body: { apiVersion: "archipel.io/v1alpha1", kind: "Provider", metadata: { name: "tools" }, spec: { type: "service", displayName: "Text tools", service: { defaultImage: "archipel.local/cwl-step:latest" } } } });
  for (const [name, title, document] of [["writer", "Write a greeting", writer], ["shouter", "Shout a text", shouter]] as const) {
    await objects.createNamespacedCustomObject({ ...group, namespace, plural: "resources", body: { apiVersion: "archipel.io/v1alpha1", kind: "Resource", metadata: { name }, spec: { providerRef: { name: "tools" }, type: "service", title, visibility: "public", service: { cwl: { document } } } } });
  }
  const rbac = m.cluster.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name: "ui-pipeline-user" }, rules: [{ apiGroups: ["archipel.io"], resources: ["pipelineruns"], verbs: ["get", "list", "watch", "create"] }] } });
  await rbac.createNamespacedRoleBinding({ namespace, body: { metadata: { name: "ui-pipeline-users" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ui-pipeline-user" }, subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }] } });
}

/** A PipelineRun of two chained steps, to show a run's DAG (whether it runs depends on Argo). */
async function pipelineRun(m: FederationMember): Promise<void> {
  await m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...group, namespace, plural: "pipelineruns",
    body: {
      apiVersion: "archipel.io/v1alpha1", kind: "PipelineRun", metadata: { name: "buoy-report" },
      spec: { description: "clean the buoy readings, then plot them", steps: [{ name: "clean", serviceRef: { name: "cleaner" } }, { name: "plot", serviceRef: { name: "plotter" }, in: { table: "clean/table" } }] },
    },
  });
}

async function peersOf(m: FederationMember): Promise<{ spec: { approval: string }; status?: { conditions?: { type: string; status: string }[] } }[]> {
  const list = (await m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...group, plural: "peers" })) as { items: never[] };
  return list.items;
}

test.describe.serial("web UI on a 2-member federation", () => {
  test.beforeAll(async () => {
    test.setTimeout(300_000);
    mkdirSync(shots, { recursive: true });
    files = createServer((req, res) => {
      res.writeHead(req.url === "/buoys.csv" ? 200 : 404, { "content-type": "text/csv", "content-length": "24" });
      res.end(req.method === "HEAD" ? undefined : "time,height\n00:00,1.2\n\n\n");
    });
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}/`;
    await allStarted([
      startFederation({ clusters: 2, namePrefix: "ui-fed", approval: "manual" }).then((x) => (fed = x)),
      startS3(`ui-s3-${process.pid}`).then((x) => (s3 = x)),
    ]);
    await Promise.all(fed.members.map(publish));
    const [first, second] = fed.members as [FederationMember, FederationMember];
    await publishBucket(first, "results", "Run results");
    await publishBucket(second, "results2", "Run results 2");
    await openToPeerGrants(second, first);
    await reefBucket(first, second);
    await publishServices(fed.members[0] as FederationMember);
    await pipelineRun(fed.members[0] as FederationMember);
    // Both members must have found each other (Pending) before the admin can accept.
    await eventually("each member sees the other as a Pending peer", async () => (await Promise.all(fed.members.map(peersOf))).every((ps) => ps.length === 1), 90_000, 500);
  });

  test.afterAll(async () => {
    test.setTimeout(120_000);
    await Promise.all([fed?.stop(), s3?.stop()]);
    files?.close();
  });

  test("the sign-in page asks for a token, and a wrong one is refused", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    await page.goto(`${m.apiUrl}/`);
    await expect(page.getByLabel("Bearer token")).toBeVisible();
    await shot(page, "01-sign-in");
    await page.getByLabel("Bearer token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("401");
    expect(page.url()).not.toContain("not-a-token");
    await shot(page, "02-sign-in-refused");
    // Served by the API itself: index.html revalidated, hashed assets cached for a year.
    const index = await page.request.get(`${m.apiUrl}/`);
    expect(index.headers()["cache-control"]).toBe("no-cache");
    expect(index.headers()["content-security-policy"]).toContain("default-src 'self'");
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(await index.text())?.[1];
    expect(script).toBeTruthy();
    expect((await page.request.get(`${m.apiUrl}${script}`)).headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
  });

  test("as admin: accept the Pending peer on each member", async ({ page }) => {
    for (const [i, m] of fed.members.entries()) {
      await signIn(page, m, m.cluster.adminToken);
      await page.getByRole("link", { name: "Networks & peers" }).click();
      const other = fed.members[1 - i] as FederationMember;
      const row = page.locator(`tr[data-peer="${other.name}"]`);
      await expect(row).toContainText("Pending");
      if (i === 0) await shot(page, "03-peers-pending");
      await row.getByRole("button", { name: `Accept ${other.name}` }).click();
      await expect(row).toContainText("Accepted");
      if (i === 0) await shot(page, "04-peers-accepted");
    }
    for (const m of fed.members) {
      const accepted = async (): Promise<boolean> => (await peersOf(m)).every((p) => p.spec.approval === "Accepted" && p.status?.conditions?.some((c) => c.type === "DescriptorVerified" && c.status === "True"));
      await eventually(`${m.name} trusts its peer`, accepted, 60_000, 500);
    }
  });

  test("as admin: a Provider's validation error is named by field; once fixed it is created and becomes Ready", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    await signIn(page, m, m.cluster.adminToken);
    await page.getByLabel("Namespace", { exact: true }).fill(namespace);
    await page.getByLabel("Namespace", { exact: true }).press("Enter");
    await page.getByRole("link", { name: "Providers" }).click();
    await expect(page.getByRole("link", { name: "Buoy files" })).toBeVisible();
    await page.getByRole("button", { name: "New provider" }).click();
    await page.getByLabel("Name", { exact: true }).fill("lab-compute");
    await page.getByLabel("CPU", { exact: true }).fill("four");
    await page.getByLabel("Memory").fill("8Gi");
    await page.getByRole("button", { name: "Create provider" }).click();
    const cpuError = page.locator("#p-cpu-error");
    await expect(cpuError).toContainText("spec.compute.capacity.cpu");
    await expect(page.getByRole("alert").filter({ hasText: "The Provider was not created" })).toContainText("400");
    await shot(page, "05-provider-field-error");
    await page.getByLabel("CPU", { exact: true }).fill("4");
    await page.getByRole("button", { name: "Create provider" }).click();
    await expect(page).toHaveURL(/#\/admin\/providers\/ui-shop\/lab-compute$/);
    await expect(page.getByRole("heading", { name: /Provider lab-compute/ }).locator(".badge")).toHaveText("Ready");
    await expect(page.getByRole("cell", { name: "Ready", exact: true })).toBeVisible();
    await shot(page, "06-provider-ready");
    await page.getByRole("link", { name: "Providers" }).click();
    await expect(page.getByRole("link", { name: "lab-compute" })).toBeVisible();
    await shot(page, "07-providers");
  });

  test("as alice: search the federated catalog, open a Resource, request a grant", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    const other = fed.members[1] as FederationMember;
    await signIn(page, m, m.cluster.userTokens.alice);
    await expect(page.getByTestId("whoami")).toContainText("alice");
    await page.getByLabel("Tags").fill(tag);
    const results = page.getByTestId("catalog-results");
    await expect(async () => {
      await page.getByRole("button", { name: "Search" }).click();
      await expect(results.locator(`tr[data-origin="${other.name}"]`, { hasText: "Ocean buoys 2" })).toHaveCount(1, { timeout: 2_000 });
    }).toPass({ timeout: 60_000 });
    await expect(results.locator(`tr[data-origin="${m.name}"]`, { hasText: "Ocean buoys 1" })).toHaveCount(1);
    await expect(results.locator(`tr[data-origin="${m.name}"]`, { hasText: "Run results" })).toHaveCount(1);
    await expect(results.locator(`tr[data-origin="${other.name}"]`, { hasText: "Run results 2" })).toHaveCount(1);
    await shot(page, "08-catalog-federated");

    await results.getByRole("link", { name: "Ocean buoys 1", exact: true }).click();
    await expect(page.getByRole("heading", { name: /Ocean buoys 1/ })).toBeVisible();
    await expect(page.getByText("0.02 EUR per GiB of egress")).toBeVisible();
    await expect(page.getByRole("heading", { name: /Ocean buoys 1/ }).locator(".badge")).toHaveText("Ready");
    await shot(page, "09-resource-detail");
    await page.getByLabel("Purpose (optional)").fill("storm study");
    await page.getByRole("button", { name: "Request access" }).click();
    await expect(page).toHaveURL(/#\/grants\/ui-shop\/buoys-alice$/);
    await expect(page.getByRole("heading", { name: /Grant buoys-alice/ })).toBeVisible();
    await expect(page.getByText("User alice")).toBeVisible();
    // A grant on files behind a URL is refused by the provider with a reason the page shows.
    await expect(page.getByRole("cell", { name: "UnsupportedGrant" })).toBeVisible();
    await shot(page, "10-grant-refused");

    // A bucket: the grant becomes Ready and its credentials are fetched once, and they work.
    await page.getByRole("link", { name: "Catalog" }).click();
    await page.getByLabel("Tags").fill(tag);
    await (await searchCatalog(page)).getByRole("link", { name: "Run results", exact: true }).click();
    await expect(page.getByRole("heading", { name: /Run results/ })).toBeVisible();
    await expect(page.getByLabel("Access", { exact: true })).toHaveValue("write");
    await page.getByRole("button", { name: "Request access" }).click();
    await expect(page).toHaveURL(/#\/grants\/ui-shop\/results-alice$/);
    await expect(page.getByRole("heading", { name: /Grant results-alice/ }).locator(".badge")).toHaveText("Ready", { timeout: 60_000 });
    await page.getByRole("button", { name: "Fetch credentials" }).click();
    const credentials = page.getByTestId("credentials");
    await expect(credentials).toContainText("accessKeyId");
    await putWith(credentials, "results");
    await shot(page, "11-grant-credentials");
    // Shown once: leaving and coming back shows the button again, not the secret.
    await page.getByRole("link", { name: "Catalog" }).click();
    await expect(page.getByRole("heading", { name: "Catalog", exact: true })).toBeVisible();
    await page.goBack();
    await expect(page).toHaveURL(/#\/grants\/ui-shop\/results-alice$/);
    await expect(page.getByRole("button", { name: "Fetch credentials" })).toBeVisible();
    await expect(credentials).toHaveCount(0);
  });

  test("as alice: request access to a bucket of the other cluster, through this cluster, and use it", async ({ page }) => {
    const [m, other] = fed.members as [FederationMember, FederationMember];
    await signIn(page, m, m.cluster.userTokens.alice);
    await page.getByLabel("Tags").fill(tag);
    await (await searchCatalog(page)).getByRole("link", { name: `Request access to Run results 2 on ${other.name}` }).click();
    await expect(page.getByRole("heading", { name: `Request access on ${other.name}` })).toBeVisible();
    await expect(page.getByLabel("Access", { exact: true })).toHaveValue("write");
    await shot(page, "12-peer-grant-request");
    await page.getByRole("button", { name: `Request access on ${other.name}` }).click();
    await expect(page).toHaveURL(new RegExp(`#/peer-grants/${other.name}/ui-shop/[a-z0-9.-]+-results2-alice$`));
    await expect(page.getByRole("heading", { name: /Grant .* on / }).locator(".badge")).toHaveText("Ready", { timeout: 60_000 });
    await page.getByRole("button", { name: "Fetch credentials" }).click();
    const credentials = page.getByTestId("credentials");
    await expect(credentials).toContainText("secretAccessKey");
    await putWith(credentials, "results2");
    await shot(page, "13-peer-grant-credentials");
  });

  test("as alice: a bucket of the other cluster restricted to project reef, found and asked for as its member", async ({ page }) => {
    const [m, other] = fed.members as [FederationMember, FederationMember];
    // alice is a member of reef here (a claim is made only for a member); the admin's pages later expect no Project here.
    await reefProject(m, { users: ["alice"], clusters: [] });
    await signIn(page, m, m.cluster.userTokens.alice);
    await page.getByLabel("Tags").fill(tag);
    await page.getByLabel("Project", { exact: true }).fill("reef");
    await (await searchCatalog(page)).getByRole("link", { name: `Request access to Reef results on ${other.name}` }).click();
    // The search's project is the request's: the other cluster grants its restricted bucket for it.
    await expect(page.getByLabel("Project (optional)")).toHaveValue("reef");
    await page.getByRole("button", { name: `Request access on ${other.name}` }).click();
    await expect(page).toHaveURL(new RegExp(`#/peer-grants/${other.name}/ui-shop/[a-z0-9.-]+-reef-alice$`));
    await expect(page.getByRole("heading", { name: /Grant .* on / }).locator(".badge")).toHaveText("Ready", { timeout: 60_000 });
    await page.getByRole("button", { name: "Fetch credentials" }).click();
    await putWith(page.getByTestId("credentials"), "reef");
    await m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ ...group, plural: "projects", name: "reef" });
  });

  test("as alice: compose a pipeline from two services, submit it, and follow it", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    await signIn(page, m, m.cluster.userTokens.alice);
    await page.getByLabel("Namespace", { exact: true }).fill(namespace);
    await page.getByLabel("Namespace", { exact: true }).press("Enter");
    await page.getByRole("link", { name: "Pipeline runs", exact: true }).click();
    await page.getByRole("link", { name: "Compose a pipeline from service Resources" }).click();
    await page.getByLabel("Run name").fill("greet-loudly");
    await page.locator("#step-0-name").fill("write");
    await page.locator("#step-0-service").selectOption(`${namespace}/writer`);
    await expect(page.locator("#step-0-service").locator("..")).toContainText("inputs: message · outputs: out");
    await page.getByRole("button", { name: "Add step" }).click();
    await page.locator("#step-1-name").fill("Shout");
    await page.locator("#step-1-service").selectOption(`${namespace}/shouter`);
    await page.locator("#step-1-in").fill("text=write/out");
    await page.getByLabel("Literal inputs (CWL job, JSON)").fill('{"message": "hello from the ui"}');
    await expect(page.locator('.dag [data-step="Shout"]')).toContainText("after write");
    await page.getByRole("button", { name: "Submit run" }).click();
    // A step name must be a DNS label: the API names the field, the form shows it by the step.
    await expect(page.locator("#step-1-name-error")).toContainText("spec.steps[1].name");
    await shot(page, "24-compose-error");
    await page.locator("#step-1-name").fill("shout");
    await page.getByRole("button", { name: "Submit run" }).click();
    await expect(page).toHaveURL(/#\/admin\/pipelineruns\/ui-shop\/greet-loudly$/);
    await expect(page.locator(".dag-node")).toHaveCount(2);
    await expect(page.locator('.dag [data-step="shout"]')).toContainText("after write");
    await expect(page.getByRole("cell", { name: "shouter" })).toBeVisible();
    await shot(page, "25-composed-run");
  });

  test("as alice: a page she may not read says which permission is missing", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    await signIn(page, m, m.cluster.userTokens.alice);
    await page.getByRole("link", { name: "Providers" }).click();
    await expect(page.getByRole("alert")).toContainText("Missing permission");
    await expect(page.getByRole("alert")).toContainText("providers");
    await shot(page, "14-forbidden");
  });

  test("as admin: every other page renders (screenshots), also on a narrow screen", async ({ page }) => {
    const m = fed.members[0] as FederationMember;
    await signIn(page, m, m.cluster.adminToken);
    await page.getByLabel("Namespace", { exact: true }).fill(namespace);
    await page.getByLabel("Namespace", { exact: true }).press("Enter");
    const pages: [string, string, string][] = [
      ["Resources", "15-resources", "buoys"],
      ["Prices", "16-prices", "files-price"],
      ["Pipeline runs", "19-pipelineruns", "buoy-report"],
      ["Usage & cost", "20-usage", "No UsageRecord"],
    ];
    for (const [link, name, text] of pages) {
      await page.getByRole("link", { name: link, exact: true }).click();
      await expect(page.locator("main")).toContainText(text);
      await shot(page, name);
    }
    // Create through the generic JSON form: a Reservation (its template names lab-compute) and a Project.
    await page.getByRole("link", { name: "Reservations", exact: true }).click();
    await page.getByRole("button", { name: "New Reservation" }).click();
    await page.getByLabel("Name", { exact: true }).fill("night-run");
    await page.getByRole("button", { name: "Create Reservation" }).click();
    await expect(page).toHaveURL(/#\/admin\/reservations\/ui-shop\/night-run$/);
    await expect(page.getByRole("heading", { name: /Reservation night-run/ })).toBeVisible();
    await page.getByRole("link", { name: "Reservations", exact: true }).click();
    await expect(page.getByRole("link", { name: "night-run" })).toBeVisible();
    // A peer's hold (as the federation API makes them) says which peer, and where its pods run here.
    const start = new Date(Date.now() - 5000).toISOString().slice(0, 19) + "Z";
    const end = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19) + "Z";
    await m.cluster.kubeConfig().makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...group, namespace, plural: "reservations",
      body: { apiVersion: "archipel.io/v1alpha1", kind: "Reservation", metadata: { name: "peer-hold" }, spec: { providerRef: { name: "lab-compute" }, cpu: "500m", memory: "512Mi", start, end, confirmed: true, requester: { peer: "ui-fed-2" } } },
    });
    const peerRow = page.getByRole("row").filter({ has: page.getByRole("link", { name: "peer-hold" }) });
    await expect(peerRow.getByRole("cell", { name: "ui-fed-2", exact: true })).toBeVisible();
    await expect(peerRow.getByRole("cell", { name: /^archipel-rsv-[0-9a-f]{16}$/ })).toBeVisible({ timeout: 30_000 });
    await shot(page, "17-reservations");
    await page.getByRole("link", { name: "Projects", exact: true }).click();
    await expect(page.locator("main")).toContainText("No Project yet");
    await page.getByRole("button", { name: "New Project" }).click();
    await page.getByLabel("Name", { exact: true }).fill("ocean");
    await page.getByLabel("spec (JSON)").fill('{"displayName": "Ocean research", "members": {"users": ["alice"]}, "colour": "blue"}');
    await page.getByRole("button", { name: "Create Project" }).click();
    await expect(page.locator("#projects-spec-error")).toContainText("spec.colour");
    await page.getByLabel("spec (JSON)").fill('{"displayName": "Ocean research", "members": {"users": ["alice"]}}');
    await page.getByRole("button", { name: "Create Project" }).click();
    await expect(page.getByRole("heading", { name: /Project ocean/ })).toBeVisible();
    await page.getByRole("link", { name: "Projects", exact: true }).click();
    await expect(page.getByRole("cell", { name: "Ocean research" })).toBeVisible();
    await shot(page, "18-projects");
    await page.getByRole("link", { name: "Pipeline runs", exact: true }).click();
    await page.getByRole("link", { name: "buoy-report" }).click();
    await expect(page.locator(".dag-node")).toHaveCount(2);
    await expect(page.locator('[data-step="plot"]')).toContainText("after clean");
    await expect(page.getByText("No step of this run is placed on a peer: nothing is held there.")).toBeVisible();
    await shot(page, "21-pipelinerun-detail");
    await page.getByRole("link", { name: "Prices" }).click();
    await page.getByRole("link", { name: "files-price" }).click();
    await expect(page.getByRole("heading", { name: /Price files-price/ })).toBeVisible();
    await shot(page, "22-price-detail");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Catalog" }).click();
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page.getByTestId("catalog-results")).toBeVisible();
    await shot(page, "23-catalog-narrow");
  });

  // Last: it takes member 2's API down and removes a CRD from it.
  test("a peer that is down is named beside partial results; a kind whose CRD is absent says so", async ({ page }) => {
    const [m, other] = fed.members as [FederationMember, FederationMember];
    await fed.stopComponent(other.name, "api");
    await signIn(page, m, m.cluster.userTokens.alice);
    await page.getByLabel("Tags").fill(tag);
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page.getByTestId("peer-errors")).toContainText(other.name);
    await expect(page.getByTestId("catalog-results").locator(`tr[data-origin="${m.name}"]`, { hasText: "Ocean buoys 1" })).toHaveCount(1);
    await shot(page, "26-catalog-partial");

    await m.cluster.kubeConfig().makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: "usagerecords.archipel.io" });
    await signIn(page, m, m.cluster.adminToken);
    await page.getByLabel("Namespace", { exact: true }).fill(namespace);
    await page.getByLabel("Namespace", { exact: true }).press("Enter");
    await page.getByRole("link", { name: "Usage & cost" }).click();
    await expect(page.getByRole("note")).toContainText("not available on this cluster", { timeout: 60_000 });
    await shot(page, "27-not-available");
  });
});
