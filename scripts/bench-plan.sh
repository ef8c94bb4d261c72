#!/usr/bin/env bash
# Whole-process benchmark of `terraform plan` against the provider with the Bitnami index in state:
#   A: refresh with synchronization = true (conditional GET answered 304)   vs  helm repo update
#   B: the TCP_NODELAY fix on the plugin listener on / off (CHARTREG_PLUGIN_NODELAY=0)
# Prints median wall times of N runs (default 7). Needs acceptance/setup.sh's tools and the
# real-world index in $CHARTREG_SHARED_DIR/data/indexes (default ../shared).
set -euo pipefail
# No step may end the run without saying why: name the failing command and its line.
trap 'rc=$?; echo "[bench-plan] ERROR: command failed (exit $rc) at scripts/bench-plan.sh line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
set -o errtrace
die() {
  echo "[bench-plan] ERROR: $*" >&2
  exit 1
}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${CHARTREG_TOOLS:-$repo/.testbed/tools}
SHARED=${CHARTREG_SHARED_DIR:-$repo/../shared}
INDEX=$SHARED/data/indexes/bitnami-2022-06-16.yaml
TF=${TF:-$TOOLS/bin/terraform-1.0}
HELM=$TOOLS/bin/helm
N=${N:-7}
[ -f "$INDEX" ] || {
  echo "[bench-plan] skipped: $INDEX is missing (set CHARTREG_SHARED_DIR to the directory holding data/indexes/)" >&2
  exit 0
}
[ -x "$TF" ] && [ -x "$HELM" ] || die "tools missing in $TOOLS: run 'bash acceptance/setup.sh'"
(cd "$repo" && cargo build --quiet --release --bin terraform-provider-chartreg)
run=$(mktemp -d); chmod 755 "$run"
srv=
trap '[ -z "$srv" ] || kill "$srv" 2>/dev/null || true; rm -rf "$run"' EXIT
mkdir -p "$run/www/bitnami"
cp "$INDEX" "$run/www/bitnami/index.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$run/www" >/dev/null 2>&1 &
srv=$!
up() { curl -sf -o /dev/null "http://127.0.0.1:$port/bitnami/index.yaml"; }
for _ in $(seq 100); do up && break; sleep 0.05; done
up || die "python3 -m http.server on port $port did not start"
printf 'provider_installation {\n  dev_overrides { "chartreg/chartreg" = "%s" }\n  direct {}\n}\n' "$repo/target/release" >"$run/cli.tfrc"
export TF_CLI_CONFIG_FILE=$run/cli.tfrc CHECKPOINT_DISABLE=1 XDG_CACHE_HOME=$run/cache
unset TF_LOG RUST_BACKTRACE
mkdir -p "$run/ws" && cd "$run/ws"
cat >main.tf <<TFEOF
terraform {
  required_providers {
    chartreg = { source = "chartreg/chartreg" }
  }
}
resource "chartreg_helm_registry" "bitnami" {
  name     = "bitnami"
  endpoint = "http://127.0.0.1:$port/bitnami"
}
TFEOF
"$TF" apply -auto-approve -no-color >/dev/null
export HELM_CONFIG_HOME=$run/h/c HELM_CACHE_HOME=$run/h/k HELM_DATA_HOME=$run/h/d
"$HELM" repo add bitnami "http://127.0.0.1:$port/bitnami" >/dev/null

# median LABEL CMD...: prints LABEL and the median wall seconds of N runs. Not called inside
# $(...), where a failing run would be timed (and its exit lost) instead of ending the script.
median() {
  local label=$1 times=() t0 t1
  shift
  for _ in $(seq "$N"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$run/stderr" || die "$label: \`$*\` failed:$(printf '\n%s' "$(cat "$run/stderr")")"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
  done
  printf '  %-58s %s s\n' "$label" "$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}')"
}
echo "terraform plan, Bitnami index (4.2 MB, 3515 versions) in state, $N runs each, median wall seconds"
median "terraform plan (refresh: conditional GET, 304)" "$TF" plan -no-color
median "terraform plan, CHARTREG_PLUGIN_NODELAY=0 (no TCP_NODELAY)" env CHARTREG_PLUGIN_NODELAY=0 "$TF" plan -no-color
median "terraform plan -refresh=false" "$TF" plan -refresh=false -no-color
median "helm repo update bitnami (same server)" "$HELM" repo update bitnami
median "helm search repo bitnami/ --versions" "$HELM" search repo bitnami/ --versions
