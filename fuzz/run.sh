#!/usr/bin/env bash
# `make fuzz`: build the fuzz targets with libFuzzer's coverage instrumentation on the stable
# toolchain, run each for FUZZ_SECONDS (default 60) from its kept corpus, and fail if any crashed.
#
# Stable rustc has what libFuzzer needs: SanitizerCoverage is an LLVM pass (`-C passes=sancov-module`,
# `-C llvm-args=-sanitizer-coverage-*`) and libfuzzer-sys builds libFuzzer itself with the C++
# compiler. What stable lacks is `-Z sanitizer=address`, so the targets run without ASan (see
# RELIABILITY.md, "Fuzzing"). `--target <host>` keeps the flags off build scripts and proc macros.
#
# Variables: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated subset), FUZZ_JOBS (libFuzzer
# processes per target, default 1). New inputs go to fuzz/target/corpus/<target>/ (not kept);
# crashes to fuzz/artifacts/<target>/: copy one into fuzz/regressions/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
ALL="helm_index endpoints constraint chart_archive chart_tar archive_path"
TARGETS=${FUZZ_TARGETS:-$ALL}
CARGO=${CARGO:-cargo}
triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$PWD/target"
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
"$CARGO" build --locked --release --target "$triple" --bins
bin="$CARGO_TARGET_DIR/$triple/release"
summary="$CARGO_TARGET_DIR/fuzz-summary.txt"
: >"$summary"
failed=()
for t in $TARGETS; do
    work="$CARGO_TARGET_DIR/corpus/$t"
    mkdir -p "$work" "artifacts/$t" "corpus/$t" "regressions/$t"
    log="$CARGO_TARGET_DIR/fuzz-$t.log"
    echo "fuzz: $t for ${FUZZ_SECONDS}s (log: $log)"
    set +e
    "$bin/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        -jobs="$FUZZ_JOBS" -workers="$FUZZ_JOBS" \
        "$work" "corpus/$t" "regressions/$t" $([ "$t" = helm_index ] && echo ../testdata/indexes) >"$log" 2>&1
    rc=$?
    set -e
    [ "$FUZZ_JOBS" -gt 1 ] && cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log
    execs=$(awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    crashes=$(find "artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    line="$t: ${FUZZ_SECONDS}s, $execs executions, coverage ${cov:-?} edges, corpus $(ls "$work" | wc -l) (kept $(ls "corpus/$t" | wc -l)), exit $rc, artifacts $crashes"
    echo "fuzz: $line"
    echo "$line" >>"$summary"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed+=("$t")
        grep -A20 -m1 'ERROR: libFuzzer\|panicked at\|==ERROR' "$log" | head -30 >&2 || true
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/; reproduce with $bin/<target> <file>)" >&2
    exit 1
fi
echo "fuzz: no crash in $(wc -l <"$summary") targets (summary: $summary)"
