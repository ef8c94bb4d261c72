# Shared by scripts/bench-*.sh (sourced, not run): strict mode with a loud ERR trap, the
# tools, a scratch directory removed at exit, an nginx Helm repository server with an access log,
# Terraform's CLI configuration (dev_overrides on the release build), interleaved timing
# (median wall and CPU of N runs) and the result table (figure, target, chartreg, comparison,
# ratio) that `make bench` prints at the end (scripts/bench-table.sh).
#
# Environment: N (runs per figure, default 7), CHARTREG_TOOLS, CHARTREG_SHARED_DIR,
# CHARTREG_BENCH_TABLE (TSV file the rows are appended to; default: the script's own),
# CHARTREG_BENCH_QUICK=1 (fewer sizes: what `make bench-quick` runs).
set -euo pipefail
set -o errtrace
BENCH_NAME=${BENCH_NAME:-$(basename "${BASH_SOURCE[1]:-bench}" .sh)}
# No step may end the run without saying why: name the failing command and its line.
trap 'rc=$?; echo "[$BENCH_NAME] ERROR: command failed (exit $rc) at ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
die() {
  echo "[$BENCH_NAME] ERROR: $*" >&2
  exit 1
}
say() { echo "[$BENCH_NAME] $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${CHARTREG_TOOLS:-$repo/.testbed/tools}
SHARED=${CHARTREG_SHARED_DIR:-$repo/../shared}
TF15=$TOOLS/bin/terraform-1.15
TF10=$TOOLS/bin/terraform-1.0
HELM=$TOOLS/bin/helm
N=${N:-7}
QUICK=${CHARTREG_BENCH_QUICK:-0}
[ -x "$TF15" ] && [ -x "$HELM" ] || die "tools missing in $TOOLS: run 'bash acceptance/setup.sh' (or set CHARTREG_TOOLS)"
command -v nginx >/dev/null || die "nginx is not installed (the Helm repositories are served by nginx)"
# CHARTREG_BENCH_PROVIDER: another binary to measure (its directory becomes the dev_overrides one).
PROVIDER=${CHARTREG_BENCH_PROVIDER:-$repo/target/release/terraform-provider-chartreg}

run=$(mktemp -d "${TMPDIR:-/tmp}/chartreg-$BENCH_NAME.XXXXXX")
chmod 755 "$run"
NGINX_PID=
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; fi
  if [ "${CHARTREG_BENCH_KEEP:-0}" = 1 ]; then echo "[$BENCH_NAME] kept $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
TABLE=${CHARTREG_BENCH_TABLE:-$run/table.tsv}
ROWS=$run/rows.tsv
: >"$ROWS"

# CHARTREG_BENCH_NO_BUILD=1: measure the release binary as it is (e.g. while another build runs).
build_provider() {
  if [ "${CHARTREG_BENCH_NO_BUILD:-0}" != 1 ]; then
    (cd "$repo" && cargo build --quiet --release --bin terraform-provider-chartreg)
  fi
  [ -x "$PROVIDER" ] || die "no $PROVIDER after the build"
}

# The floor of a plugin provider (benches/floor_provider.rs: one resource, one data source that
# do nothing, on the same tf-provider crate and serve code): built in release, linked as
# $run/floor-provider/terraform-provider-floor (source address chartreg/floor). Call before tf_env.
FLOOR_PROVIDER=
FLOOR_PROVIDER_BLOCK='terraform {
  required_providers {
    floor = { source = "chartreg/floor" }
  }
}'
build_floor_provider() {
  local exe
  exe=$(cd "$repo" && cargo build --quiet --release --bench floor_provider --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "floor_provider" and m.get("executable"):
        print(m["executable"])')
  [ -n "$exe" ] && [ -x "$exe" ] || die "cargo build --bench floor_provider gave no executable"
  mkdir -p "$run/floor-provider"
  ln -sf "$exe" "$run/floor-provider/terraform-provider-floor"
  FLOOR_PROVIDER=$run/floor-provider/terraform-provider-floor
}

# The git commit measured (with -dirty when the work tree differs).
commit_measured() {
  local c
  c=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if ! git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null; then c="$c-dirty"; fi
  echo "$c"
}

machine_header() {
  say "commit $(commit_measured); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg); N=$N"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_nginx ROOT: serve directory ROOT on 127.0.0.1:$NGINX_PORT (one process, ETag and
# Last-Modified as nginx always sends them). Access log: $NGINX_LOG, one tab-separated line per
# request: msec, method, uri, status, If-None-Match, If-Modified-Since, bytes sent, request time.
start_nginx() {
  local root=$1 d=$run/nginx
  mkdir -p "$d/logs" "$d/tmp"
  NGINX_PORT=$(free_port)
  NGINX_LOG=$d/logs/access.log
  cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 1024; }
http {
  types { application/x-yaml yaml yml; application/gzip tgz; }
  default_type application/octet-stream;
  log_format bench escape=none '\$msec\t\$request_method\t\$request_uri\t\$status\t\$http_if_none_match\t\$http_if_modified_since\t\$body_bytes_sent\t\$request_time';
  access_log $NGINX_LOG bench;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 30;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $root;
  }
}
EOF
  nginx -p "$d" -c "$d/nginx.conf" >"$d/stdout" 2>&1 &
  NGINX_PID=$!
  local i
  for i in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/"; then break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$d/stdout" "$d/logs/error.log" 2>/dev/null)"
    sleep 0.05
  done
  curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || die "nginx on port $NGINX_PORT did not start"
  NGINX_URL=http://127.0.0.1:$NGINX_PORT
}

# Lines of the access log written from now on: `mark_log` then `log_since`.
mark_log() { LOG_MARK=$(wc -l <"$NGINX_LOG"); }
log_since() { tail -n +"$((LOG_MARK + 1))" "$NGINX_LOG"; }
# count_log AWK-CONDITION: how many requests since the mark match (fields: $2 method, $3 uri,
# $4 status).
count_log() { log_since | awk -F'\t' "$1 { n++ } END { print n + 0 }"; }

# Terraform against the release build, no network for providers (dev_overrides; terraform_data
# is built in), no checkpoint calls; the chartreg cache under $run/cache.
tf_env() {
  {
    printf 'provider_installation {\n  dev_overrides {\n    "chartreg/chartreg" = "%s"\n' "$(dirname "$PROVIDER")"
    [ -z "$FLOOR_PROVIDER" ] || printf '    "chartreg/floor" = "%s"\n' "$(dirname "$FLOOR_PROVIDER")"
    printf '  }\n  direct {}\n}\n'
  } >"$run/cli.tfrc"
  export TF_CLI_CONFIG_FILE=$run/cli.tfrc CHECKPOINT_DISABLE=1 XDG_CACHE_HOME=$run/cache TF_IN_AUTOMATION=1
  unset TF_LOG TF_LOG_PATH TF_LOG_PROVIDER TF_LOG_CORE RUST_BACKTRACE
  export HELM_CONFIG_HOME=$run/helm/config HELM_CACHE_HOME=$run/helm/cache HELM_DATA_HOME=$run/helm/data
}

TF_PROVIDER_BLOCK='terraform {
  required_providers {
    chartreg = { source = "chartreg/chartreg" }
  }
}'

# tf_apply DIR: first apply (not timed), failing loudly.
tf_apply() {
  local dir=$1 tf=${2:-$TF15}
  "$tf" -chdir="$dir" apply -auto-approve -input=false -no-color >"$run/apply.out" 2>&1 ||
    die "terraform apply in $dir failed:$(printf '\n%s' "$(tail -n 40 "$run/apply.out")")"
}

# Seconds with millisecond precision, no fork.
now() { echo "${EPOCHREALTIME/,/.}"; }

# The CPU seconds (user + sys) of this shell's waited-for children so far (Terraform waits for
# its plugins, so a plan's CPU includes the provider's).
# Sets the variable named $1 (`times` must run in this shell, not in a $(...) subshell).
children_cpu() {
  times >"$run/.times"
  printf -v "$1" '%s' "$(awk 'NR == 2 { n = split($0, f, " "); t = 0; for (i = 1; i <= n; i++) { split(f[i], p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] } print t }' "$run/.times")"
}

# time_once KEY CMD...: run CMD (its output in $run/out/KEY.log), record wall and CPU seconds.
# When a function `before_KEY` exists (KEY's dashes as underscores), it runs first, untimed
# (e.g. change the index, empty the cache).
time_once() {
  local key=$1 t0 t1 c0 c1 rc=0 hook
  shift
  mkdir -p "$run/t" "$run/out"
  hook=before_${key//-/_}
  if declare -F "$hook" >/dev/null; then "$hook"; fi
  children_cpu c0
  t0=$(now)
  "$@" >"$run/out/$key.log" 2>&1 || rc=$?
  t1=$(now)
  children_cpu c1
  [ "$rc" = 0 ] || die "$key: \`$*\` failed (exit $rc):$(printf '\n%s' "$(tail -n 40 "$run/out/$key.log")")"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$run/t/$key.wall"
  awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f\n", b - a }' >>"$run/t/$key.cpu"
}

# measure KEY CMD... [:: KEY CMD...]...: N rounds, each running every command once, in turn
# (interleaved, so that the load of a shared machine falls on all of them alike).
measure() {
  local -a keys=() starts=() ends=() args=("$@")
  local i=0 k
  while [ "$i" -lt "${#args[@]}" ]; do
    keys+=("${args[$i]}")
    starts+=("$((i + 1))")
    i=$((i + 1))
    while [ "$i" -lt "${#args[@]}" ] && [ "${args[$i]}" != "::" ]; do i=$((i + 1)); done
    ends+=("$i")
    i=$((i + 1))
  done
  local r
  for r in $(seq "$N"); do
    for k in "${!keys[@]}"; do
      time_once "${keys[$k]}" "${args[@]:${starts[$k]}:$((ends[k] - starts[k]))}"
    done
  done
}

# median FILE: the median of the numbers in FILE (the lower middle one for an even count).
median_of() { sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; printf "%.3f", a[int((NR + 1) / 2)] }'; }
wall() { median_of "$run/t/$1.wall"; }
cpu() { median_of "$run/t/$1.cpu"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2fx", a / b }'; }

# row FIGURE TARGET CHARTREG COMPARISON RATIO: one line of the result table.
row() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$ROWS" >>"$TABLE"
}

# print_rows: this script's rows as a Markdown table, on stdout.
print_rows() {
  echo
  echo "| figure | target | chartreg | comparison | ratio |"
  echo "|---|---|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$ROWS"
}

# The version of chart NAME that `helm search repo REPO/NAME` shows (newest stable).
helm_latest() {
  "$HELM" search repo "$1/$2" -o json >"$run/helm-search.json"
  python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["name"]==sys.argv[2]]; print(r[0]["version"] if r else "")' "$run/helm-search.json" "$1/$2"
}
