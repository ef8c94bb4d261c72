#!/usr/bin/env bash
# Whole-process benchmark of `terraform plan` against the provider with the Bitnami index in state:
#   A: refresh with synchronization = true (conditional GET answered 304)   vs  helm repo update
#   B: the TCP_NODELAY fix on the plugin listener on / off (CHARTREG_PLUGIN_NODELAY=0)
# Prints median wall times of N runs (default 7). Needs acceptance/setup.sh's tools.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${CHARTREG_TOOLS:-$repo/.testbed/tools}
TF=${TF:-$TOOLS/bin/terraform-1.0}
HELM=$TOOLS/bin/helm
N=${N:-7}
(cd "$repo" && cargo build --quiet --release --bin terraform-provider-chartreg)
run=$(mktemp -d); chmod 755 "$run"
trap 'kill $srv 2>/dev/null || true; rm -rf "$run"' EXIT
mkdir -p "$run/www/bitnami"
cp "$repo/../shared/data/indexes/bitnami-2022-06-16.yaml" "$run/www/bitnami/index.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$run/www" >/dev/null 2>&1 &
srv=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/bitnami/index.yaml" && break; sleep 0.05; done
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

median() { # median CMD... : wall seconds of N runs
  local times=() t0 t1
  for _ in $(seq "$N"); do
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}
echo "terraform plan, Bitnami index (4.2 MB, 3515 versions) in state, $N runs each, median wall seconds"
printf '  %-58s %s s\n' "terraform plan (refresh: conditional GET, 304)" "$(median "$TF" plan -no-color)"
printf '  %-58s %s s\n' "terraform plan, CHARTREG_PLUGIN_NODELAY=0 (no TCP_NODELAY)" "$(median env CHARTREG_PLUGIN_NODELAY=0 "$TF" plan -no-color)"
printf '  %-58s %s s\n' "terraform plan -refresh=false" "$(median "$TF" plan -refresh=false -no-color)"
printf '  %-58s %s s\n' "helm repo update bitnami (same server)" "$(median "$HELM" repo update bitnami)"
printf '  %-58s %s s\n' "helm search repo bitnami/ --versions" "$(median "$HELM" search repo bitnami/ --versions)"
