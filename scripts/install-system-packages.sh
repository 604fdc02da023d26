#!/usr/bin/env bash
# Installs the Debian packages the project runs: bubblewrap (the plugin sandbox),
# graphviz (`ia-modules visualize`), chromium (the dashboard's browser tests),
# openssl (certificates for the TypeScript and Java clients' TLS tests) and
# postgresql (the tests' throwaway clusters; its binaries stay off PATH, under
# /usr/lib/postgresql/<version>/bin). Only what is missing is installed, so a
# machine that has them pays nothing.
set -euo pipefail

declare -A package_of=([bwrap]=bubblewrap [dot]=graphviz [chromium]=chromium [openssl]=openssl)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "missing Debian packages: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
