#!/usr/bin/env bash
# `make mirror`: from the release in dist/ (`make release`), write the two provider mirrors
# Terraform installs from without the Registry:
#
#   mirror/filesystem/<host>/chartreg/chartreg/terraform-provider-chartreg_<v>_<os>_<arch>.zip
#       the packed layout of a `filesystem_mirror` (the zips as released)
#   mirror/network/<host>/chartreg/chartreg/index.json        {"versions": {"<v>": {}, ...}}
#   mirror/network/<host>/chartreg/chartreg/<v>.json          {"archives": {"<os>_<arch>": {"url", "hashes": ["zh:..."]}}}
#   mirror/network/<host>/chartreg/chartreg/*.zip
#       the provider network mirror protocol (static files: serve mirror/network/ over HTTPS and
#       point a `network_mirror` block at its URL); archive URLs are relative to <v>.json, and the
#       zh: hashes are the release's SHA256SUMS lines (checked against the zips first).
#
# Existing versions in the mirror directory stay; index.json lists every <v>.json present.
#
# Environment: CHARTREG_DIST (default <repo>/dist), CHARTREG_MIRROR (default <repo>/mirror),
# CHARTREG_MIRROR_HOSTNAME (default registry.terraform.io: the hostname of the source address
# "chartreg/chartreg").
set -euo pipefail
trap 'rc=$?; echo "[mirror] ERROR: command failed (exit $rc) at scripts/mirror.sh line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
set -o errtrace
say() { echo "[mirror] $*" >&2; }
die() {
  echo "[mirror] ERROR: $*" >&2
  exit 1
}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECT=terraform-provider-chartreg
NAMESPACE=chartreg
TYPE=chartreg
DIST=${CHARTREG_DIST:-$repo/dist}
MIRROR=${CHARTREG_MIRROR:-$repo/mirror}
HOST=${CHARTREG_MIRROR_HOSTNAME:-registry.terraform.io}
[[ $HOST =~ ^[a-z0-9.-]+(:[0-9]+)?$ ]] || die "CHARTREG_MIRROR_HOSTNAME=$HOST is not a hostname"
VERSION=$(bash "$repo/scripts/version.sh")
sums=$DIST/${PROJECT}_${VERSION}_SHA256SUMS
[ -f "$sums" ] || die "$sums is missing: run 'make release' first"

# Every archive the sums name must be there and match (sha256sum -c reads the names from the file).
(cd "$DIST" && sha256sum --check --strict --quiet "$(basename "$sums")") ||
  die "dist/ does not match its SHA256SUMS: run 'make release' again"

fs=$MIRROR/filesystem/$HOST/$NAMESPACE/$TYPE
net=$MIRROR/network/$HOST/$NAMESPACE/$TYPE
mkdir -p "$fs" "$net"
python3 - "$sums" "$VERSION" "$fs" "$net" "$PROJECT" <<'PY'
import json, os, re, shutil, sys
sums, version, fs, net, project = sys.argv[1:]
dist = os.path.dirname(sums)
pat = re.compile(r"^([0-9a-f]{64})  (" + re.escape(f"{project}_{version}_") + r"([a-z0-9]+_[a-z0-9]+)\.zip)$")
archives = {}
for line in open(sums):
    m = pat.match(line.rstrip("\n"))
    if not m:
        continue  # the manifest
    digest, name, platform = m.groups()
    for d in (fs, net):
        tmp = os.path.join(d, f".{name}.tmp")
        shutil.copyfile(os.path.join(dist, name), tmp)
        os.replace(tmp, os.path.join(d, name))
    archives[platform] = {"url": name, "hashes": [f"zh:{digest}"]}
if not archives:
    sys.exit(f"{sums} names no {project}_{version}_<os>_<arch>.zip")

def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)

write_json(os.path.join(net, f"{version}.json"), {"archives": archives})
versions = sorted(n[:-5] for n in os.listdir(net) if n.endswith(".json") and n != "index.json")
write_json(os.path.join(net, "index.json"), {"versions": {v: {} for v in versions}})
print(f"[mirror] {version}: {', '.join(sorted(archives))}; network mirror lists {', '.join(versions)}", file=sys.stderr)
PY
say "filesystem mirror (packed): $MIRROR/filesystem"
say "network mirror: serve $MIRROR/network over HTTPS; index at <url>/$HOST/$NAMESPACE/$TYPE/index.json"
