#!/usr/bin/env bash
# make demo: build the provider, start local registries seeded with sample charts (published with the
# real helm CLI), run `terraform init` + `terraform apply` on examples/quickstart, print the outputs,
# check that a second plan is empty, end by printing the chart version the quickstart resolved (its
# digest and the first lines of its values.yaml), then stop the servers (also on failure).
set -euo pipefail
# No step may end the run without saying why: name the failing command and its line.
trap 'rc=$?; echo "[demo] ERROR: command failed (exit $rc) at scripts/demo.sh line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
set -o errtrace
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${CHARTREG_TOOLS:-$repo/.testbed/tools}
TF=${CHARTREG_DEMO_TERRAFORM:-$TOOLS/bin/terraform-1.15}
HELM=$TOOLS/bin/helm
[ -x "$TF" ] && [ -x "$HELM" ] || { echo "demo: tools missing: run 'bash acceptance/setup.sh' (make demo does)" >&2; exit 1; }

say() { echo "[demo] $*" >&2; }
die() {
  echo "[demo] ERROR: $*" >&2
  exit 1
}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "building the provider"
(cd "$repo" && cargo build --quiet --bin terraform-provider-chartreg)

run=$(mktemp -d "${TMPDIR:-/tmp}/chartreg-demo.XXXXXX")
chmod 755 "$run" # nginx workers run as nobody
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  say "servers stopped"
}
trap cleanup EXIT

export HELM_CONFIG_HOME=$run/helm/config HELM_CACHE_HOME=$run/helm/cache HELM_DATA_HOME=$run/helm/data
export HELM_REGISTRY_CONFIG=$run/helm/registry.json

say "creating sample charts with helm"
mkdir -p "$run/charts" "$run/www/charts"
for spec in "podinfo 6.5.0 6.5.0" "podinfo 6.6.0 6.6.0" "redis-lite 1.2.0 7.2.4"; do
  set -- $spec
  if [ ! -d "$run/charts/$1" ]; then (cd "$run/charts" && "$HELM" create "$1" >/dev/null); fi
  sed -i -e "s/^version:.*/version: $2/" -e "s/^appVersion:.*/appVersion: \"$3\"/" \
    -e "s/^description:.*/description: Demo chart $1/" "$run/charts/$1/Chart.yaml"
  "$HELM" package "$run/charts/$1" -d "$run/www/charts" >/dev/null
done
"$HELM" repo index "$run/www/charts" >/dev/null

P_HTTP=$(freeport)
P_OCI=$(freeport)
cat >"$run/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx-error.log warn;
events { worker_connections 64; }
http {
  access_log $run/nginx-access.log;
  client_body_temp_path $run/tmp-body;
  proxy_temp_path $run/tmp-proxy;
  fastcgi_temp_path $run/tmp-fastcgi;
  uwsgi_temp_path $run/tmp-uwsgi;
  scgi_temp_path $run/tmp-scgi;
  server { listen 127.0.0.1:$P_HTTP; root $run/www; }
}
NGINX
nginx -c "$run/nginx.conf" -p "$run/" -e "$run/nginx-error.log" &
pids+=($!)
mkdir -p "$run/oci-data"
cat >"$run/registry.yml" <<REG
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $run/oci-data}}
http: {addr: 127.0.0.1:$P_OCI, secret: demo-not-a-secret}
REG
docker-registry serve "$run/registry.yml" >"$run/registry.log" 2>&1 &
pids+=($!)
up() { curl -sf -o /dev/null "http://127.0.0.1:$P_HTTP/charts/index.yaml" && curl -sf -o /dev/null "http://127.0.0.1:$P_OCI/v2/"; }
for _ in $(seq 1 200); do up && break; sleep 0.05; done
up || die "servers did not start: $(tail -n 5 "$run/nginx-error.log" "$run/registry.log" 2>&1)"
say "Helm repository: http://127.0.0.1:$P_HTTP/charts   OCI registry: 127.0.0.1:$P_OCI"
for t in "$run"/www/charts/podinfo-*.tgz; do
  out=$("$HELM" push "$t" "oci://127.0.0.1:$P_OCI/demo" --plain-http 2>&1) || die "helm push $t: $out"
done

work=$run/quickstart
cp -r "$repo/examples/quickstart" "$work"
cat >"$run/cli.tfrc" <<TFRC
provider_installation {
  dev_overrides { "chartreg/chartreg" = "$repo/target/debug" }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE=$run/cli.tfrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 XDG_CACHE_HOME=$run/cache
unset RUST_BACKTRACE TF_LOG
export TF_VAR_helm_repo_url="http://127.0.0.1:$P_HTTP/charts"
export TF_VAR_oci_endpoint="http://127.0.0.1:$P_OCI"
cd "$work"
say "terraform init"
"$TF" init -input=false -no-color >/dev/null
say "terraform apply"
"$TF" apply -auto-approve -input=false -no-color
say "outputs"
"$TF" output -no-color
say "second plan (must be empty)"
rc=0
"$TF" plan -detailed-exitcode -input=false -no-color >"$run/plan.txt" 2>&1 || rc=$?
case $rc in
0) say "no changes" ;;
2) die "the second plan is not empty:$(printf '\n%s' "$(cat "$run/plan.txt")")" ;;
*) die "terraform plan failed (exit $rc):$(printf '\n%s' "$(cat "$run/plan.txt")")" ;;
esac
say "resolved chart (data.chartreg_helm_chart.app)"
"$TF" output -raw resolved_chart
echo
