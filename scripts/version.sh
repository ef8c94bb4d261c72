#!/usr/bin/env bash
# Prints the provider version: Cargo.toml's package version (the one source of it), checked to be
# what the Terraform Registry accepts (semantic version, no leading "v").
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
v=$(cd "$repo" && ${CARGO:-cargo} metadata --no-deps --format-version 1 --offline |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "terraform-provider-chartreg"))')
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
  echo "[version] ERROR: Cargo.toml version '$v' is not a semantic version the Registry accepts" >&2
  exit 1
}
echo "$v"
