# Archipel — the project's front door. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Node >= 22.19 first on PATH (a pinned Node 24 in .tools/ when the system one is older),
# then the Go tools of hack/build-tools.
NODE_BIN := $(shell hack/ensure-node)
export PATH := $(NODE_BIN):$(CURDIR)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.package-lock.json ## Install npm packages (npm ci)

.PHONY: tools
tools: ## Build kube-apiserver, kube-controller-manager, kubectl, etcd and kubo into bin/ (cached)
	hack/build-tools

.PHONY: lint
lint: deps ## ESLint over every TypeScript file
	eslint .

.PHONY: typecheck
typecheck: deps ## TypeScript strict type check (no emit: Node runs .ts directly)
	tsc -p tsconfig.json

.PHONY: test-unit
test-unit: deps ## Unit tests (pure logic)
	mocha --config .mocharc.unit.json

.PHONY: test-integration
test-integration: deps tools ## Integration tests against a real local control plane
	mocha --config .mocharc.integration.json

.PHONY: test-e2e
test-e2e: deps tools ## End-to-end tests (several local clusters)
	mocha --config .mocharc.e2e.json

.PHONY: test
test: lint typecheck test-unit test-integration test-e2e ## Everything CI runs: lint, typecheck, unit, integration, e2e
