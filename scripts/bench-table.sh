#!/usr/bin/env bash
# Prints the rows scripts/bench-*.sh appended to the TSV file $1 as one Markdown table (figure,
# target, chartreg, comparison, ratio = chartreg / comparison), with the commit and the load.
set -euo pipefail
trap 'rc=$?; echo "[bench-table] ERROR: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
[ -s "${1:-}" ] || { echo "[bench-table] ERROR: no rows in '${1:-}' (did a benchmark fail?)" >&2; exit 1; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
echo
echo "## chartreg benchmarks: commit $(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| figure | target | chartreg | comparison | ratio |"
echo "|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$1"
