#!/usr/bin/env bash
# A changed index, as a user sees it (issue 11 target 2): `terraform apply` and `terraform plan`
# (1.15) of one chartreg_helm_registry whose 4.2 MB Bitnami index changed since the last read,
# against `helm repo update` + `helm search repo` on the same nginx server and the same changed
# index. Before every timed run the index is changed (a new tag in front of the first
# description, untimed), so every run downloads and parses a new index. Runs interleaved.
#
# How much of chartreg's time is Terraform's: the same commands on one built-in terraform_data
# (Terraform's floor), `terraform plan -refresh=false` of the registry (Terraform + the plugin
# with the 4 MB catalog in state, no request), the same commands on one resource of the floor
# plugin provider (benches/floor_provider.rs: Terraform's cost of any plugin provider, no
# request, a one-attribute state), and one traced apply through a wrapper that times
# the plugin process (its CPU and wall against the whole command's).
BENCH_NAME=bench-changed
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
BITNAMI=$SHARED/data/indexes/bitnami-2022-06-16.yaml
[ -f "$BITNAMI" ] || die "$BITNAMI is missing (set CHARTREG_SHARED_DIR to the directory holding data/indexes/)"
build_provider
build_floor_provider
tf_env
machine_header
mkdir -p "$run/www/bitnami"
INDEX=$run/www/bitnami/index.yaml
cp "$BITNAMI" "$INDEX"
chmod 644 "$INDEX"
start_nginx "$run/www"

mkdir -p "$run/reg" "$run/floor" "$run/plugin-floor"
printf '%s\nresource "floor_thing" "t" {\n  input = "1"\n}\n' "$FLOOR_PROVIDER_BLOCK" >"$run/plugin-floor/main.tf"
cat >"$run/reg/main.tf" <<EOF
$TF_PROVIDER_BLOCK
resource "chartreg_helm_registry" "bitnami" {
  name     = "bitnami"
  endpoint = "$NGINX_URL/bitnami"
}
EOF
printf 'resource "terraform_data" "d" {\n  input = "1"\n}\n' >"$run/floor/main.tf"
tf_apply "$run/reg"
tf_apply "$run/floor"
tf_apply "$run/plugin-floor"
"$HELM" repo add bitnami "$NGINX_URL/bitnami" >/dev/null

seq_no=0
mtime0=$(date +%s)
change_index() {
  seq_no=$((seq_no + 1))
  python3 "$repo/scripts/bench_fixture.py" touch-description "$INDEX" "bench-$seq_no"
  # nginx's ETag is mtime-size: two changes within one second, of the same size, would share
  # one ETag and be answered 304. Give every change its own mtime second.
  touch -d "@$((mtime0 + seq_no))" "$INDEX"
}
before_apply_changed() { change_index; }
before_plan_changed() { change_index; }
before_helm_changed() { change_index; }
apply_changed() { "$TF15" -chdir="$run/reg" apply -auto-approve -input=false -no-color; }
plan_changed() { "$TF15" -chdir="$run/reg" plan -input=false -no-color; }
plan_norefresh() { "$TF15" -chdir="$run/reg" plan -refresh=false -detailed-exitcode -input=false -no-color; }
helm_changed() { "$HELM" repo update bitnami && "$HELM" search repo bitnami/; }
floor_apply() { "$TF15" -chdir="$run/floor" apply -auto-approve -input=false -no-color; }
plugin_floor_apply() { "$TF15" -chdir="$run/plugin-floor" apply -auto-approve -input=false -no-color; }
plugin_floor_plan() { "$TF15" -chdir="$run/plugin-floor" plan -detailed-exitcode -input=false -no-color; }
floor_plan() { "$TF15" -chdir="$run/floor" plan -detailed-exitcode -input=false -no-color; }

mark_log
measure apply-changed apply_changed :: plan-changed plan_changed :: helm-changed helm_changed \
  :: plan-norefresh plan_norefresh :: floor-apply floor_apply :: floor-plan floor_plan \
  :: plugin-floor-apply plugin_floor_apply :: plugin-floor-plan plugin_floor_plan
# Every chartreg run and every helm run downloaded the changed index (200), none was answered 304.
got=$(count_log '$3 ~ /index\.yaml$/ && $4 == 200')
[ "$got" = $((3 * N)) ] || die "expected $((3 * N)) index downloads (apply, plan, helm x $N), the access log shows $got"
# The apply stored the index it downloaded: the state's index_digest is that of the last apply's index.
say "timed runs: $got index downloads (200) of the changed index"

a=$(wall apply-changed) p=$(wall plan-changed) h=$(wall helm-changed)
echo
echo "Changed 4.2 MB Bitnami index (3515 versions), median of $N (wall s; CPU s = all processes)"
for k in apply-changed plan-changed helm-changed plan-norefresh floor-apply floor-plan plugin-floor-apply plugin-floor-plan; do
  printf '  %-64s %8s %8s\n' "$k" "$(wall $k)" "$(cpu $k)"
done
echo "  helm / chartreg apply: $(ratio "$h" "$a"); helm / chartreg plan: $(ratio "$h" "$p")"
echo "  Terraform's floor (1 terraform_data) / chartreg apply: $(ratio "$(wall floor-apply)" "$a"); plan -refresh=false / plan: $(ratio "$(wall plan-norefresh)" "$p")"
echo "  helm / plugin floor apply: $(ratio "$h" "$(wall plugin-floor-apply)") (the most any plugin provider could show); plugin floor / chartreg apply: $(ratio "$(wall plugin-floor-apply)" "$a")"
row "changed 4.2 MB index: terraform apply" "<= 0.20x helm (5x faster)" "$a s" "$h s (helm repo update + search repo)" "$(ratio "$a" "$h")"
row "changed 4.2 MB index: terraform plan" "<= 0.20x helm (5x faster)" "$p s" "$h s (helm repo update + search repo)" "$(ratio "$p" "$h")"
row "  of which Terraform's floor (apply, 1 terraform_data)" "(share)" "$(wall floor-apply) s" "$a s (chartreg apply)" "$(ratio "$(wall floor-apply)" "$a")"
row "  of which a plugin provider's floor (apply, 1 floor_thing)" "(share)" "$(wall plugin-floor-apply) s" "$a s (chartreg apply)" "$(ratio "$(wall plugin-floor-apply)" "$a")"

# One traced apply with the plugin timed by a wrapper.
mkdir -p "$run/wrap"
cat >"$run/wrap/terraform-provider-chartreg" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$run/provider-times.txt" -f '%e %U %S %M' "$PROVIDER" "\$@"
EOF
chmod +x "$run/wrap/terraform-provider-chartreg"
printf 'provider_installation {\n  dev_overrides { "chartreg/chartreg" = "%s" }\n  direct {}\n}\n' "$run/wrap" >"$run/wrap.tfrc"
change_index
: >"$run/provider-times.txt"
t0=$(now)
TF_CLI_CONFIG_FILE=$run/wrap.tfrc TF_LOG=trace TF_LOG_PATH=$run/trace-apply.log \
  "$TF15" -chdir="$run/reg" apply -auto-approve -input=false -no-color >"$run/trace.out" 2>&1 ||
  die "traced apply failed:$(printf '\n%s' "$(tail -n 30 "$run/trace.out")")"
t1=$(now)
python3 "$repo/scripts/bench_fixture.py" trace-summary "$run/trace-apply.log" >"$run/trace.tsv"
# The apply stored the changed index it downloaded: index_digest in state is its sha256.
state_digest=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["resources"][0]["instances"][0]["attributes"]["index_digest"])' "$run/reg/terraform.tfstate")
[ "$state_digest" = "$(sha256sum "$INDEX" | cut -d' ' -f1)" ] || die "the apply did not store the changed index (state index_digest $state_digest)"
echo
echo "One traced apply (TF_LOG=trace, slower): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s wall"
echo "  $(awk -F'\t' '{ printf "%s: %s; ", $1, $2 }' "$run/trace.tsv")"
echo "  plugin: $(awk 'NF == 4 && $1 ~ /^[0-9.]+$/ { n++; w += $1; u += $2; s += $3; if ($4 > m) m = $4 } END { printf "%d processes, %.2f s wall in all, %.2f s user + %.2f s sys, max RSS %.0f MiB", n, w, u, s, m / 1024 }' "$run/provider-times.txt")"
# The provider's own account of its refresh (debug lines with timestamps, see the trace).
grep -E 'index (downloaded|not modified)' "$run/trace-apply.log" | sed 's/^/  /' || true
if [ -n "${CHARTREG_BENCH_TRACES:-}" ]; then
  mkdir -p "$CHARTREG_BENCH_TRACES" && cp "$run/trace-apply.log" "$CHARTREG_BENCH_TRACES/changed-apply.log"
fi
print_rows
