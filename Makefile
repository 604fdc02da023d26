# IA Modules: every developer and CI command starts here.
#   make demo   fresh clone -> running stack -> finished example run
#   make test   fresh clone -> passing tests
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(TOOLS)/npm/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export UV_LINK_MODE := copy

GRPCURL_VERSION := v1.9.4
PROMETHEUS_VERSION := v0.316.0
BUF_VERSION := 1.75.0
KUSTOMIZE_VERSION := v5.7.1
KUBECONFORM_VERSION := v0.7.0
PYTEST_ARGS ?=

.PHONY: help system-packages tools sync proto schemas lint test demo up down bench soak clean sdks sdk-go sdk-typescript sdk-java web

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(TOOLS)/bin/uv:
	@mkdir -p $(TOOLS)/bin
	@command -v uv >/dev/null 2>&1 && ln -sf "$$(command -v uv)" $@ || \
	  (python3 -m pip install --quiet --target $(TOOLS)/uv uv && ln -sf $(TOOLS)/uv/bin/uv $@)

$(TOOLS)/bin/grpcurl:
	GOBIN=$(TOOLS)/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

# promtool checks the alert rules; it is a large build the first time (minutes).
$(TOOLS)/bin/promtool:
	GOBIN=$(TOOLS)/bin go install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)

# tests/deploy renders deploy/kubernetes with kustomize and validates it with kubeconform.
$(TOOLS)/bin/kustomize:
	GOBIN=$(TOOLS)/bin go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

$(TOOLS)/bin/kubeconform:
	GOBIN=$(TOOLS)/bin go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

$(TOOLS)/npm/node_modules/.bin/buf:
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm @bufbuild/buf@$(BUF_VERSION)

system-packages:
	@bash scripts/install-system-packages.sh

tools: system-packages $(TOOLS)/bin/uv $(TOOLS)/bin/grpcurl $(TOOLS)/bin/promtool $(TOOLS)/bin/kustomize $(TOOLS)/bin/kubeconform $(TOOLS)/npm/node_modules/.bin/buf ## install the tools the project uses (.tools/, and bubblewrap and graphviz from Debian)

.venv/.synced: $(TOOLS)/bin/uv pyproject.toml uv.lock sdk/python/pyproject.toml $(wildcard services/*/pyproject.toml)
	uv sync --frozen
	@touch $@

sync: .venv/.synced ## install the Python workspace into .venv

build/api_descriptor.pb: .venv/.synced scripts/gen_protos.py $(shell find protos -name '*.proto')
	uv run --frozen python scripts/gen_protos.py 2>/dev/null

proto: build/api_descriptor.pb ## generate the Python stubs and Envoy's descriptor set

schemas: proto ## regenerate the committed schemas/openapi.json and schemas/pipeline.schema.json from the protos
	uv run --frozen python scripts/gen_api_docs.py

lint: tools proto ## buf lint and breaking-change checks on the contracts
	buf lint
	buf breaking --against ".git#ref=$$(git rev-list --max-parents=0 HEAD | tail -n1)"

sdks: sdk-go sdk-typescript sdk-java ## build and unit-test the Go, TypeScript and Java clients and their conformance runners

sdk-go: tools ## the Go client: go install the protoc plugins, buf generate, vet, test, build
	scripts/gen_clients.sh go

sdk-typescript: ## the TypeScript client: npm ci, protoc-gen-es, tsc, node --test
	scripts/gen_clients.sh typescript

sdk-java: ## the Java client: mvn verify (protoc and grpc-java come from Maven Central)
	scripts/gen_clients.sh java

WEB_SOURCES := $(shell find web/src -type f) web/index.html web/vite.config.ts web/tsconfig.json

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

# The dashboard uses the TypeScript client, so the client is built first.
sdk/typescript/dist/src/index.js: $(shell find protos -name '*.proto') $(wildcard sdk/typescript/src/*.ts) sdk/typescript/package-lock.json
	scripts/gen_clients.sh typescript

web/dist/index.html: web/node_modules/.package-lock.json sdk/typescript/dist/src/index.js $(WEB_SOURCES)
	cd web && npm run build

web: web/dist/index.html ## build the dashboard into web/dist

test: tools proto sdks web ## install what is needed and run every test, with coverage per service
	cd web && npm test
	uv run --frozen pytest -n 2 --dist loadgroup \
	  --cov=ia_modules --cov=ia_service_kit --cov=ia_registry --cov=ia_executor --cov=ia_plugins --cov=ia_telemetry \
	  --cov-report=term:skip-covered --cov-report=xml:build/coverage.xml $(PYTEST_ARGS)
	uv run --frozen python scripts/coverage_by_package.py build/coverage.xml

up: tools proto web ## start the local stack in the background (Envoy on :8080)
	uv run --frozen ia-modules up

down: ## stop the local stack
	uv run --frozen ia-modules down

demo: tools proto web ## start the stack and run the example pipelines
	uv run --frozen python scripts/demo.py

bench: tools proto sdks web ## run the benchmarks (the clients and dashboard suites need the built clients and dashboard); results in bench/results/
	uv run --frozen python bench/run.py

soak: tools proto ## load with faults, 10 minutes of steady load, a full disk (SOAK_SECONDS=600); report in build/soak/
	uv run --frozen python scripts/soak.py

clean: ## remove generated files and the local data folder
	rm -rf build .ia web/dist sdk/python/src/ia sdk/go/gen sdk/typescript/src/gen sdk/typescript/dist sdk/java/target \
	  tests/conformance/go/bin tests/conformance/typescript/dist tests/conformance/java/runner/target
