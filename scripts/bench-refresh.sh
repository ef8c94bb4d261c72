#!/usr/bin/env bash
# Unchanged refresh at scale (issue 11 target 4): `terraform plan` (1.15) of 1, 10, 25 and 50
# synchronized chartreg_helm_registry resources whose indexes (the real 1.2 MB Rancher index
# each) did not change, against the same number of built-in terraform_data resources (Terraform's
# floor). Every timed plan is -detailed-exitcode (no changes). Runs interleaved.
#
# Proof, from nginx's access log and the provider's debug log of one plan per size: each
# registry costs exactly one conditional request (If-None-Match / If-Modified-Since) answered
# 304 and nothing else, and the provider logs "index not modified" for each and never "index
# downloaded" (no body, so no parse). The span between the first and the last of those requests
# shows them overlapping within the plan (Terraform refreshes up to -parallelism=10 at once).
BENCH_NAME=bench-refresh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
RANCHER=$SHARED/data/indexes/rancher-dev-v2.9.yaml
[ -f "$RANCHER" ] || die "$RANCHER is missing (set CHARTREG_SHARED_DIR to the directory holding data/indexes/)"
sizes=(${SIZES:-1 10 25 50})
[ "$QUICK" = 1 ] && sizes=(1 10)
build_provider
tf_env
machine_header
mkdir -p "$run/www/src"
cp "$RANCHER" "$run/www/src/index.yaml"
max=${sizes[-1]}
for i in $(seq -w 1 "$max"); do ln -s src "$run/www/r$i"; done
start_nginx "$run/www"

args=()
for n in "${sizes[@]}"; do
  d=$run/reg-$n f=$run/floor-$n
  mkdir -p "$d" "$f"
  {
    echo "$TF_PROVIDER_BLOCK"
    for i in $(seq 1 "$n"); do
      printf 'resource "chartreg_helm_registry" "r%02d" {\n  name     = "r%02d"\n  endpoint = "%s/r%02d"\n}\n' "$i" "$i" "$NGINX_URL" "$i"
    done
  } >"$d/main.tf"
  for i in $(seq 1 "$n"); do printf 'resource "terraform_data" "d%02d" {\n  input = "%02d"\n}\n' "$i" "$i"; done >"$f/main.tf"
  tf_apply "$d"
  tf_apply "$f"
  args+=(reg-$n "$TF15" -chdir="$d" plan -detailed-exitcode -input=false -no-color ::)
  args+=(floor-$n "$TF15" -chdir="$f" plan -detailed-exitcode -input=false -no-color ::)
done
if [ "$QUICK" != 1 ]; then
  args+=(reg-$max-p$max "$TF15" -chdir="$run/reg-$max" plan -parallelism="$max" -detailed-exitcode -input=false -no-color ::)
fi
unset 'args[-1]'

# The proof: one plan per size, access log and provider debug log.
echo
echo "Unchanged refresh: requests per plan (nginx access log) and the provider's account (debug log)"
for n in "${sizes[@]}"; do
  mark_log
  TF_LOG_PROVIDER=debug TF_LOG_PATH=$run/debug-$n.log \
    "$TF15" -chdir="$run/reg-$n" plan -detailed-exitcode -input=false -no-color >"$run/proof.out" 2>&1 ||
    die "plan of $n registries is not clean:$(printf '\n%s' "$(tail -n 30 "$run/proof.out")")"
  total=$(count_log '1')
  c304=$(count_log '$4 == 304 && $3 ~ /index\.yaml$/ && ($5 != "-" || $6 != "-")')
  c200=$(count_log '$4 == 200')
  distinct=$(log_since | awk -F'\t' '$4 == 304 { print $3 }' | sort -u | wc -l)
  span=$(log_since | awk -F'\t' 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f", (b - a) * 1000 }')
  notmod=$(grep -c '"index not modified","@module":"chartreg.resources.helm_registry"' "$run/debug-$n.log" || true)
  downloaded=$(grep -c '"index downloaded"' "$run/debug-$n.log" || true)
  echo "  $n registries: $total requests, $c304 conditional answered 304 ($distinct distinct registries), $c200 answered 200; first to last request $span ms; provider: $notmod x 'index not modified', $downloaded x 'index downloaded'"
  # The access log is the proof (a 304 has no body: nothing to parse); the provider's lines
  # confirm it (one run of 50 logged 49 of them, though nginx answered 50 x 304: not required).
  [ "$total" = "$n" ] && [ "$c304" = "$n" ] && [ "$distinct" = "$n" ] && [ "$downloaded" = 0 ] ||
    die "$n registries: expected exactly $n conditional requests answered 304 and no download"
  [ "$notmod" = "$n" ] || say "note: the provider's debug log has $notmod of $n 'index not modified' lines"
  proof[$n]="$c304/$n x 304, 0 x 200, 0 parses"
done

mark_log
measure "${args[@]}"
got=$(count_log '$4 != 304')
[ "$got" = 0 ] || die "timed plans made $got requests not answered 304"

echo
echo "terraform plan (1.15), N unchanged synchronized registries (Rancher index each), median of $N (wall s)"
printf '  %-12s %8s %8s %14s %10s %14s\n' registries chartreg cpu "terraform_data" "x floor" "x 1 registry"
t1=$(wall reg-${sizes[0]})
for n in "${sizes[@]}"; do
  printf '  %-12s %8s %8s %14s %10s %14s\n' "$n" "$(wall reg-$n)" "$(cpu reg-$n)" "$(wall floor-$n)" \
    "$(ratio "$(wall reg-$n)" "$(wall floor-$n)")" "$(ratio "$(wall reg-$n)" "$t1")"
done
if [ "$QUICK" != 1 ]; then
  printf '  %-12s %8s %8s\n' "$max, -parallelism=$max" "$(wall reg-$max-p$max)" "$(cpu reg-$max-p$max)"
fi
# Marginal cost per registry between the smallest and the largest size.
n0=${sizes[0]}
marg=$(awk -v a="$(wall reg-$n0)" -v b="$(wall reg-$max)" -v n0="$n0" -v n1="$max" 'BEGIN { printf "%.1f", (b - a) / (n1 - n0) * 1000 }')
fmarg=$(awk -v a="$(wall floor-$n0)" -v b="$(wall floor-$max)" -v n0="$n0" -v n1="$max" 'BEGIN { printf "%.1f", (b - a) / (n1 - n0) * 1000 }')
echo "  each registry beyond the first adds $marg ms (a terraform_data adds $fmarg ms)"
row "unchanged refresh: $max registries in one plan" "one 304 each, no parse" "${proof[$max]}" "(nginx access log, provider log)" "-"
row "unchanged refresh: plan of $max vs 1 registry" "sub-linear (< ${max}x)" "$(wall reg-$max) s vs $t1 s" "$(wall floor-$max) s ($max terraform_data)" "$(ratio "$(wall reg-$max)" "$t1") of 1; $(ratio "$(wall reg-$max)" "$(wall floor-$max)") floor"
print_rows
