#!/usr/bin/env bash
# Plan latency (issue 11 target 5, issue 9's figure): `terraform plan` (1.15) of 20 Helm
# registries, alone and with 20 `chartreg_helm_chart` data sources (one per registry), all warm
# and unchanged, against Terraform's floor (40 built-in `terraform_data` resources): with the real
# Rancher index (1.2 MB) behind every registry and with one-chart indexes. Every timed plan runs
# with -detailed-exitcode (a plan with changes fails the script). The runs are interleaved.
#
# Terraform's floor for any plugin provider, in the same run: 20 resources + 20 data sources of
# benches/floor_provider.rs (they do nothing: no request, a one-attribute state), so that what
# Terraform spends on a plugin provider as such (plugin starts, AutoMTLS, the RPCs) is apart from
# what chartreg adds.
#
# Then one plan of each kind at TF_LOG=trace through a wrapper that times the plugin processes:
# where the time goes (plugin starts, RPCs by method, the plugin processes' CPU, state size).
#
# The Rancher index is served as published (real bytes) except the `digest:` of the newest
# stable version of the 20 charts the data sources resolve: those point to archives made here
# with `helm create` + `helm package` of the same name and version (the real archives are not
# on this machine), so that the data sources verify and cache real archives.
BENCH_NAME=bench-plan20
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RANCHER=$SHARED/data/indexes/rancher-dev-v2.9.yaml
[ -f "$RANCHER" ] || die "$RANCHER is missing (set CHARTREG_SHARED_DIR to the directory holding data/indexes/)"
R=${REGISTRIES:-20}
build_provider
build_floor_provider
tf_env
machine_header

www=$run/www
mkdir -p "$www/rancher-src" "$www/one-src" "$run/charts"
cp "$RANCHER" "$www/rancher-src/index.yaml"
start_nginx "$www"

# The 20 charts (first in the index) and the version `helm search repo` shows for each.
"$HELM" repo add src "$NGINX_URL/rancher-src" >/dev/null
mapfile -t names < <(grep -E '^  [a-z0-9][a-z0-9-]*:$' "$RANCHER" | sed 's/^  //; s/:$//')
[ "${#names[@]}" -ge "$R" ] || die "the Rancher index has ${#names[@]} charts, fewer than $R"
names=("${names[@]:0:$R}")
specs=()
versions=()
for name in "${names[@]}"; do
  v=$(helm_latest src "$name")
  [ -n "$v" ] || die "helm search repo src/$name shows no stable version"
  (cd "$run/charts" && "$HELM" create "$name" >/dev/null && "$HELM" package "$name" --version "$v" >/dev/null)
  tgz=$run/charts/$name-$v.tgz
  [ -f "$tgz" ] || die "helm package made no $tgz"
  mkdir -p "$www/rancher-src/assets/$name"
  cp "$tgz" "$www/rancher-src/assets/$name/"
  specs+=("$name=$v=$(sha256sum "$tgz" | cut -d' ' -f1)")
  versions+=("$v")
done
python3 "$repo/scripts/bench_fixture.py" set-digests "$RANCHER" "$www/rancher-src/index.yaml" "${specs[@]}"
say "Rancher index: $(stat -c %s "$www/rancher-src/index.yaml") bytes, $R charts with local archives"

# The one-chart index: one archive made with helm, indexed with helm.
(cd "$run/charts" && "$HELM" create demo >/dev/null && "$HELM" package demo --version 1.0.0 >/dev/null)
cp "$run/charts/demo-1.0.0.tgz" "$www/one-src/"
"$HELM" repo index "$www/one-src" --url "$NGINX_URL/one-src"
# Relative URLs, as the Rancher index has them: each registry serves its own copy of the path.
sed -i "s#$NGINX_URL/one-src/##" "$www/one-src/index.yaml"

for i in $(seq -w 1 "$R"); do
  ln -s rancher-src "$www/r$i"
  ln -s one-src "$www/o$i"
done

# config DIR KIND(rancher|one) DATA_SOURCES(0|1)
config() {
  local dir=$1 kind=$2 ds=$3 i n
  mkdir -p "$dir"
  {
    echo "$TF_PROVIDER_BLOCK"
    for n in $(seq 1 "$R"); do
      i=$(printf '%02d' "$n")
      local p=r
      [ "$kind" = one ] && p=o
      printf 'resource "chartreg_helm_registry" "r%s" {\n  name     = "%s%s"\n  endpoint = "%s/%s%s"\n}\n' "$i" "$p" "$i" "$NGINX_URL" "$p" "$i"
      if [ "$ds" = 1 ]; then
        local chart=demo
        [ "$kind" = rancher ] && chart=${names[$((n - 1))]}
        printf 'data "chartreg_helm_chart" "c%s" {\n  registry = chartreg_helm_registry.r%s\n  name     = "%s"\n}\n' "$i" "$i" "$chart"
      fi
    done
  } >"$dir/main.tf"
}
config "$run/reg-rancher" rancher 0
config "$run/regds-rancher" rancher 1
config "$run/reg-one" one 0
config "$run/regds-one" one 1
mkdir -p "$run/floor"
{
  for i in $(seq 1 $((2 * R))); do printf 'resource "terraform_data" "d%02d" {\n  input = "%02d"\n}\n' "$i" "$i"; done
} >"$run/floor/main.tf"

mkdir -p "$run/plugin-floor"
{
  echo "$FLOOR_PROVIDER_BLOCK"
  for i in $(seq -w 1 "$R"); do
    printf 'resource "floor_thing" "r%s" {\n  input = "r%s"\n}\n' "$i" "$i"
    printf 'data "floor_lookup" "c%s" {\n  input = floor_thing.r%s.id\n}\n' "$i" "$i"
  done
} >"$run/plugin-floor/main.tf"

kinds=(plugin-floor reg-rancher regds-rancher reg-one regds-one)
[ "$QUICK" = 1 ] && kinds=(plugin-floor reg-rancher regds-rancher)
for w in floor "${kinds[@]}"; do
  tf_apply "$run/$w"
  # One warm-up plan: the archives are cached, the plans after it are warm and unchanged.
  "$TF15" -chdir="$run/$w" plan -detailed-exitcode -input=false -no-color >"$run/warm.out" 2>&1 ||
    die "warm-up plan in $w is not clean (exit $?):$(printf '\n%s' "$(tail -n 30 "$run/warm.out")")"
done

plan() { "$TF15" -chdir="$run/$1" plan -detailed-exitcode -input=false -no-color; }
args=(floor plan floor)
for w in "${kinds[@]}"; do args+=(:: "$w" plan "$w"); done
mark_log
measure "${args[@]}"
# Warm plans download no archive and no index: every index request is a conditional one
# answered 304 (proof from nginx's access log of the timed runs).
tgz=$(count_log '$3 ~ /\.tgz$/')
idx200=$(count_log '$3 ~ /index\.yaml$/ && $4 == 200')
idx304=$(count_log '$3 ~ /index\.yaml$/ && $4 == 304')
say "timed plans: $tgz archive requests, $idx200 index downloads (200), $idx304 conditional index requests answered 304"
[ "$tgz" = 0 ] && [ "$idx200" = 0 ] || die "warm plans downloaded something: $tgz archives, $idx200 indexes"

floor=$(wall floor)
echo
echo "terraform plan (Terraform 1.15), $R registries, warm and unchanged, median of $N (wall s; CPU s = terraform + provider)"
printf '  %-44s %8s %8s %8s\n' configuration wall cpu "x floor"
printf '  %-44s %8s %8s %8s\n' "40 terraform_data (floor)" "$floor" "$(cpu floor)" "1.00x"
declare -A label=(
  [plugin-floor]="$R + $R objects of the floor plugin provider"
  [reg-rancher]="$R registries, Rancher index"
  [regds-rancher]="$R registries + $R data sources, Rancher index"
  [reg-one]="$R registries, one-chart index"
  [regds-one]="$R registries + $R data sources, one-chart"
)
declare -A target=([plugin-floor]="(any plugin provider)" [reg-rancher]="(issue 9 figure)" [regds-rancher]="<= 1.5x floor" [reg-one]="(issue 9 figure)" [regds-one]="<= 1.3x floor")
for w in "${kinds[@]}"; do
  printf '  %-44s %8s %8s %8s\n' "${label[$w]}" "$(wall "$w")" "$(cpu "$w")" "$(ratio "$(wall "$w")" "$floor")"
  row "plan: ${label[$w]}" "${target[$w]}" "$(wall "$w") s" "$floor s (40 terraform_data)" "$(ratio "$(wall "$w")" "$floor")"
done
# What chartreg adds to Terraform's cost of a plugin provider as such.
pfloor=$(wall plugin-floor)
for w in "${kinds[@]}"; do
  case $w in regds-*)
    printf '  %-44s %8s %8s %8s\n' "${label[$w]}: x plugin floor" "$(wall "$w")" "" "$(ratio "$(wall "$w")" "$pfloor")"
    row "plan: ${label[$w]}, against the plugin floor" "(share)" "$(wall "$w") s" "$pfloor s ($R + $R objects of the floor plugin provider)" "$(ratio "$(wall "$w")" "$pfloor")"
    ;;
  esac
done

# Where the time goes: one plan per configuration at TF_LOG=trace, the plugin timed by a wrapper.
mkdir -p "$run/wrap"
cat >"$run/wrap/terraform-provider-chartreg" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$run/provider-times.txt" -f '%e %U %S %M' "$PROVIDER" "\$@"
EOF
cat >"$run/wrap/terraform-provider-floor" <<EOF
#!/bin/sh
exec /usr/bin/time -a -o "$run/provider-times.txt" -f '%e %U %S %M' "$FLOOR_PROVIDER" "\$@"
EOF
chmod +x "$run/wrap/terraform-provider-chartreg" "$run/wrap/terraform-provider-floor"
printf 'provider_installation {\n  dev_overrides {\n    "chartreg/chartreg" = "%s"\n    "chartreg/floor" = "%s"\n  }\n  direct {}\n}\n' "$run/wrap" "$run/wrap" >"$run/wrap.tfrc"
echo
echo "Where the time goes (one plan each at TF_LOG=trace; the trace itself slows Terraform down):"
for w in floor "${kinds[@]}"; do
  : >"$run/provider-times.txt"
  TF_CLI_CONFIG_FILE=$run/wrap.tfrc TF_LOG=trace TF_LOG_PATH=$run/trace-$w.log \
    "$TF15" -chdir="$run/$w" plan -detailed-exitcode -input=false -no-color >"$run/trace.out" 2>&1 ||
    die "traced plan in $w failed:$(printf '\n%s' "$(tail -n 30 "$run/trace.out")")"
  python3 "$repo/scripts/bench_fixture.py" trace-summary "$run/trace-$w.log" >"$run/trace-$w.tsv"
  state=$(stat -c %s "$run/$w/terraform.tfstate")
  # provider processes: count, sum of wall, user, sys; max RSS (KiB)
  procs=$(awk 'NF == 4 && $1 ~ /^[0-9.]+$/ { n++; w += $1; u += $2; s += $3; if ($4 > m) m = $4 } END { printf "%d processes, %.2f s wall in all, %.2f s user + %.2f s sys, max RSS %.0f MiB", n, w, u, s, m / 1024 }' "$run/provider-times.txt")
  echo "  $w: state $state bytes; $(awk -F'\t' '{ printf "%s: %s; ", $1, $2 }' "$run/trace-$w.tsv")"
  [ "$w" = floor ] || echo "    plugin: $procs"
done
if [ -n "${CHARTREG_BENCH_TRACES:-}" ]; then
  mkdir -p "$CHARTREG_BENCH_TRACES" && cp "$run"/trace-*.log "$CHARTREG_BENCH_TRACES/"
fi
print_rows
