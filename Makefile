# Archipel — the project's front door. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Node >= 22.19 first on PATH (a pinned Node 24 in .tools/ when the system one is older),
# then the Go tools of hack/build-tools and the npm packages' commands.
NODE_BIN := $(shell hack/ensure-node)
export PATH := $(NODE_BIN):$(CURDIR)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

NAME ?= dev

##@ General
.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n%s\n", substr($$0, 5)}' $(MAKEFILE_LIST)

##@ Build
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm packages (npm ci)

# The web UI (web/): built by Vite into web/dist, which the API serves at / (no extra process).
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
web/dist/index.html: node_modules/.package-lock.json $(WEB_SOURCES)
	vite build --config web/vite.config.ts

.PHONY: web
web: web/dist/index.html ## Build the web UI into web/dist (the API serves it at /; rebuilt when web/ changes)

.PHONY: tools
tools: ## Build the Go tools into bin/: control plane, kubelet, kubo, SeaweedFS, containerd, CNI plugins, Argo (cached per content hash)
	hack/build-tools

.PHONY: images
images: deps tools web ## Build the OCI images (pause, argoexec, cwl-step, archipel: with the web UI) into .images/ (cached; hack/images load imports them)
	hack/images build

.PHONY: manifests
manifests: deps ## Regenerate crds/ and config/crd/ from the schemas in operators/schema/
	node hack/gen-manifests.ts

.PHONY: verify-manifests
verify-manifests: deps ## Fail when committed generated files differ from freshly generated ones
	node hack/gen-manifests.ts --check

##@ Test
.PHONY: lint
lint: deps ## ESLint over every TypeScript file
	eslint .

.PHONY: typecheck
typecheck: deps ## TypeScript strict type check (no emit: Node runs .ts directly)
	tsc -p tsconfig.json
	tsc -p web/tsconfig.json

.PHONY: test-unit
test-unit: deps ## Unit tests (pure logic)
	mocha --config .mocharc.unit.json

.PHONY: test-integration
test-integration: deps tools ## Integration tests against a real local control plane (one cluster)
	mocha --config .mocharc.integration.json

.PHONY: fuzz
fuzz: deps tools ## OpenAPI fuzzing of the REST API (schemathesis, bounded and seeded) against a real local cluster and API
	hack/fuzz

.PHONY: test-e2e
test-e2e: deps tools images ## End-to-end tests (several local clusters, managers and APIs on loopback)
	mocha --config .mocharc.e2e.json

.PHONY: test-browser
test-browser: deps tools web ## Browser tests of the web UI (Playwright driving Debian's chromium) on a 2-member local federation
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 playwright test -c test/browser/playwright.config.ts

.PHONY: e2e-deploy
e2e-deploy: deps tools images ## config/default on a cluster with a real node: manager (2 replicas, leader takeover) and API as Pods from the project image
	mocha --extension ts --timeout 120000 test/e2e/deploy.test.ts

.PHONY: conformance-argo
conformance-argo: deps tools images ## CWL v1.2 conformance (tag "required") through real Pods: Argo Workflows on a local cluster with a node
	hack/conformance-argo --tags required -j2

# What CI runs through real Pods: tools, files between steps, defaults, secondary files, scatter
# (dotproduct, nested crossproduct, empty, valueFrom, conditional) and subworkflows (nested, scattered).
ARGO_CI_TESTS = wf_simple,output_reference_workflow_input,secondary_files_workflow_propagation,any_without_defaults_unspecified_fails,wf_scatter_two_nested_crossproduct,wf_scatter_emptylist,wf_scatter_oneparam_valuefrom,scatter_on_scattered_conditional_nojs,nested_workflow_noexp,scatter_multi_input_embedded_subworkflow,workflow_embedded_subworkflow_embedded_subsubworkflow

# The cluster is named per run: a node's cgroup (/archipel-NAME) is machine-wide, so two work trees
# running this at once must not share a name.
.PHONY: conformance-argo-ci
conformance-argo-ci: deps tools images ## A subset of CWL conformance through real Pods on Argo (in make test; a few minutes)
	CONFORMANCE_CLUSTER=cwl-argo-ci-$$$$ hack/conformance-argo --only $(ARGO_CI_TESTS) -j2

.PHONY: conformance-required
conformance-required: deps ## CWL v1.2 conformance, tag "required" (~40 s; CI runs it; fails below the baseline)
	hack/conformance --tags required -j2

.PHONY: conformance-cwltest
conformance-cwltest: deps ## CWL v1.2 "required" the way users run it: cwltest --tool archipel-cwl-runner -j2 from the suite's directory, nothing filtered (same baseline)
	hack/conformance --as-user --tags required -j2

.PHONY: conformance
conformance: deps ## Full container-free CWL v1.2 conformance with archipel-cwl-runner (~6 min; per-tag results)
	hack/conformance -j2

# `make test` runs every part above in two streams side by side (hack/test-streams): the slow
# suites mostly wait on real processes, so two streams on two cores take ~2/3 of one. The streams
# are balanced by measured times and share no cluster, port or state directory
# (docs/decisions/ci-streams.md). Every test target belongs to exactly one stream.
TEST_STREAM_1 := test-integration fuzz test-browser conformance-argo-ci
TEST_STREAM_2 := lint typecheck verify-manifests test-unit conformance-required test-e2e

.PHONY: test
test: deps tools images web ## Everything CI runs (two streams side by side; each stream's output printed whole when it ends)
	hack/test-streams "$(TEST_STREAM_1)" "$(TEST_STREAM_2)"

##@ Benchmarks
BENCH_RESOURCES ?= 10000
.PHONY: bench
bench: deps tools ## Every benchmark (BENCH=translate,catalog,... to choose): bench/results.json and one table of figures, targets and ratios to the floor (not a test; not in `make test`)
	node bench/run.ts
.PHONY: bench-discovery
bench-discovery: deps tools ## Discovery convergence time and manager memory for local federations of 3, 6 and 10 clusters (not a test)
	node bench/discovery.ts $(BENCH_SIZES)

.PHONY: bench-reservations
bench-reservations: deps tools ## Reservation admission latency p50/p99: 100 concurrent Reservations on one compute Provider of a local control plane, 3 rounds (not a test)
	node bench/reservations.ts 100 3

.PHONY: bench-catalog
bench-catalog: deps tools ## Catalog search p50/p99, local and federated (3 peers x 1,000 Resources, signed), then manager/API memory and search with $(BENCH_RESOURCES) Resources on real processes (not a test)
	node bench/catalog.ts 200
	node bench/catalog-scale.ts $(BENCH_RESOURCES)

##@ Run
.PHONY: cluster-up
cluster-up: tools ## Start a local control plane NAME (default dev): .clusters/NAME/kubeconfig
	hack/cluster up $(NAME)

.PHONY: cluster-down
cluster-down: ## Stop the local control plane NAME
	hack/cluster down $(NAME)

.PHONY: run
run: deps web ## Run the manager and the API (starts a local cluster when KUBECONFIG is unset)
	hack/run

.PHONY: demo-pipeline
demo-pipeline: deps tools images ## A pipeline step run on a peer's Argo: starts hack/federation up 2 --node --argo unless up, runs, prints the run's status, leaves the federation up
	node hack/demo-pipeline.ts

.PHONY: install
install: ## Install the CRDs into the cluster of KUBECONFIG
	kubectl apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every Archipel object) from the cluster of KUBECONFIG
	kubectl delete -k config/crd --ignore-not-found

.PHONY: deploy
deploy: ## Deploy Archipel (config/default) into the cluster of KUBECONFIG
	kubectl apply --server-side -k config/default

.PHONY: undeploy
undeploy: ## Remove the deployment of config/default
	kubectl delete -k config/default --ignore-not-found
