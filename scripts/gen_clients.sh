#!/usr/bin/env bash
# Generates, builds and unit-tests the Go, TypeScript and Java clients from protos/,
# builds their conformance runners (tests/conformance/) and the example plugins
# (sdk/go/examples/plugin, sdk/typescript/examples/plugin). Generated code is not
# committed: this script (through `make sdks`) makes a fresh clone work.
#
#   scripts/gen_clients.sh go|typescript|java|all
#
# Each language installs its own toolchain pieces with its own package manager,
# into caches a second run reuses:
#   go          protoc-gen-go, protoc-gen-go-grpc: `go install` into .tools/bin
#   typescript  protoc-gen-es, buf, tsc: `npm ci` (package-lock.json)
#   java        protoc, protoc-gen-grpc-java: Maven artifacts (~/.m2)
# Stubs come from buf with local plugins only (sdk/*/buf.gen.yaml), except Java's,
# which the protobuf Maven plugin generates (sdk/java/pom.xml).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0
export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"

step() { printf '== %s\n' "$*"; }

# buf from `make tools`, else the one the TypeScript package installs.
buf_command() {
  if command -v buf >/dev/null 2>&1; then
    command -v buf
  else
    (cd "$ROOT/sdk/typescript" && npm_ci_if_changed >/dev/null)
    echo "$ROOT/sdk/typescript/node_modules/.bin/buf"
  fi
}

# `npm ci` in the current folder unless node_modules already matches package-lock.json.
npm_ci_if_changed() {
  local stamp=node_modules/.package-lock.ci
  if [[ ! -f $stamp ]] || ! cmp -s package-lock.json "$stamp"; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
}

# `go install` a plugin unless the one in .tools/bin reports this version.
go_install() {
  local package=$1 version=$2 binary
  binary="$TOOLS/bin/$(basename "$package")"
  if [[ -x $binary ]] && "$binary" --version 2>/dev/null | grep -q "${version#v}"; then
    return
  fi
  GOBIN="$TOOLS/bin" go install "$package@$version"
}

build_go() {
  step "go: plugins"
  go_install google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
  go_install google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
  step "go: generate sdk/go/gen"
  rm -rf "$ROOT/sdk/go/gen"
  (cd "$ROOT" && "$(buf_command)" generate --template sdk/go/buf.gen.yaml)
  step "go: vet, test, build"
  (cd "$ROOT/sdk/go" && go vet ./... && go test ./... && go build ./...)
  (cd "$ROOT/tests/conformance/go" && go vet ./... && go build -o bin/conformance .)
  step "go: example plugin (sdk/go/examples/plugin/bin/plugin, a static binary its sandbox can run)"
  (cd "$ROOT/sdk/go" && CGO_ENABLED=0 go build -o examples/plugin/bin/plugin ./examples/plugin)
}

build_typescript() {
  step "typescript: npm ci, generate, compile, test"
  (cd "$ROOT/sdk/typescript" && npm_ci_if_changed && rm -rf src/gen dist && npm run --silent build && npm test --silent)
  step "typescript: conformance runner"
  (cd "$ROOT/tests/conformance/typescript" && npm_ci_if_changed && rm -rf dist && npm run --silent build)
  step "typescript: example plugin (its own node_modules: only its folder is bound into its sandbox)"
  (cd "$ROOT/sdk/typescript/examples/plugin" && npm_ci_if_changed && rm -rf src/gen dist && npm run --silent build)
}

build_java() {
  step "java: generate, compile, test the SDK; build the conformance runner"
  mvn -B -q -Dstyle.color=never -f "$ROOT/tests/conformance/java/pom.xml" verify
}

case "${1:-}" in
  go) build_go ;;
  typescript) build_typescript ;;
  java) build_java ;;
  all) build_go && build_typescript && build_java ;;
  *)
    echo "usage: $0 go|typescript|java|all" >&2
    exit 2
    ;;
esac
