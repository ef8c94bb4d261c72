#!/usr/bin/env bash
# Data sources and chart archives (issue 11 target 7): 20 chartreg_helm_chart data sources on one
# synchronized registry naming 10 distinct chart versions (each chart twice: the exact version
# and a constraint that resolves to it; charts made with `helm create` + `helm package`, indexed
# with `helm repo index`), `terraform plan` (1.15):
# - warm (archives in cache_dir): no archive request at all (nginx access log);
# - cold (the registry's chart cache emptied before the plan): each distinct archive requested
#   exactly once, though two data sources name it.
# Compared with `helm pull` of the same 10 versions (Helm keeps no archive cache: 10 downloads
# every time). Runs interleaved. The digest is checked while the archive streams in (see
# BENCHMARKS.md for the code and tests that prove it).
BENCH_NAME=bench-datasource
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
build_provider
tf_env
machine_header
K=${CHARTS:-10}
www=$run/www/charts
mkdir -p "$www" "$run/src"
for k in $(seq -w 1 "$K"); do
  (cd "$run/src" && "$HELM" create "chart$k" >/dev/null &&
    "$HELM" package "chart$k" --version 1.0.0 -d "$www" >/dev/null &&
    "$HELM" package "chart$k" --version 1.1.0 -d "$www" >/dev/null)
done
start_nginx "$run/www"
"$HELM" repo index "$www"
"$HELM" repo add charts "$NGINX_URL/charts" >/dev/null

mkdir -p "$run/ws"
{
  echo "$TF_PROVIDER_BLOCK"
  printf 'resource "chartreg_helm_registry" "charts" {\n  name     = "charts"\n  endpoint = "%s/charts"\n}\n' "$NGINX_URL"
  for k in $(seq -w 1 "$K"); do
    printf 'data "chartreg_helm_chart" "exact%s" {\n  registry = chartreg_helm_registry.charts\n  name     = "chart%s"\n  version  = "1.0.0"\n}\n' "$k" "$k"
    printf 'data "chartreg_helm_chart" "tilde%s" {\n  registry = chartreg_helm_registry.charts\n  name     = "chart%s"\n  version  = "~1.0"\n}\n' "$k" "$k"
  done
  echo 'output "digest" { value = data.chartreg_helm_chart.tilde01.digest }'
} >"$run/ws/main.tf"
tf_apply "$run/ws"
CHART_CACHE=$run/cache/chartreg/helm/charts/charts
[ -d "$CHART_CACHE" ] || die "no chart cache at $CHART_CACHE after the apply (cache layout changed?)"

plan() { "$TF15" -chdir="$run/ws" plan -detailed-exitcode -input=false -no-color; }
before_cold() { rm -rf "$CHART_CACHE"; }
pull_all() {
  local k
  rm -rf "$run/pulled" && mkdir -p "$run/pulled" &&
    for k in $(seq -w 1 "$K"); do "$HELM" pull "charts/chart$k" --version 1.0.0 -d "$run/pulled" || return 1; done
}

echo
echo "Requests per plan, nginx access log ($((2 * K)) data sources, $K distinct archives):"
before_cold
mark_log
time_once proof-cold plan
cold_tgz=$(count_log '$3 ~ /\.tgz$/')
cold_distinct=$(log_since | awk -F'\t' '$3 ~ /\.tgz$/ { print $3 }' | sort | uniq -c | awk '$1 == 1 { n++ } END { print n + 0 }')
echo "  cold: $cold_tgz archive requests, $cold_distinct archives requested exactly once"
[ "$cold_tgz" = "$K" ] && [ "$cold_distinct" = "$K" ] || die "cold: expected each of the $K archives requested once"
n_cached=$(find "$CHART_CACHE" -type f -name 'sha256*' | wc -l)
[ "$n_cached" -ge "$K" ] || die "cold: $n_cached archives in the cache, expected $K"
mark_log
time_once proof-warm plan
warm_tgz=$(count_log '$3 ~ /\.tgz$/')
warm_other=$(count_log '$3 !~ /\.tgz$/ && $4 != 304')
echo "  warm: $warm_tgz archive requests; $(count_log '1') requests in all (the registry's conditional index refresh, 304)"
[ "$warm_tgz" = 0 ] && [ "$warm_other" = 0 ] || die "warm: expected no archive request and only 304s"
# The data source's digest is the pulled archive's sha256 (what the cache is keyed by).
"$HELM" pull charts/chart01 --version 1.0.0 -d "$run" >/dev/null
want=$(sha256sum "$run/chart01-1.0.0.tgz" | cut -d' ' -f1)
got=$("$TF15" -chdir="$run/ws" output -raw digest)
[ "$got" = "$want" ] || die "chart01's digest: data source $got, pulled archive $want"

mark_log
measure warm plan :: cold plan :: helm-pull pull_all
tw=$(count_log '$3 ~ /\.tgz$/')
[ "$tw" = $((2 * N * K)) ] || die "timed runs: expected $((2 * N * K)) archive requests ($N cold plans and $N helm pull loops of $K), got $tw"

echo
echo "terraform plan (1.15), $((2 * K)) data sources / $K archives, median of $N (wall s)"
for k in warm cold helm-pull; do printf '  %-12s %8s %8s\n' "$k" "$(wall $k)" "$(cpu $k)"; done
row "data sources: $((2 * K)) charts warm, archive downloads" "0" "0 requests; plan $(wall warm) s" "$K downloads; helm pull x$K $(wall helm-pull) s" "$(ratio "$(wall warm)" "$(wall helm-pull)")"
row "data sources: $((2 * K)) charts cold, archive downloads" "1 per distinct archive" "$K for $K archives; plan $(wall cold) s" "$(wall warm) s warm" "$(ratio "$(wall cold)" "$(wall warm)")"
print_rows
