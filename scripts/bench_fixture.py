#!/usr/bin/env python3
"""Fixture edits for scripts/bench-*.sh, on the index text itself (the real bytes are kept; only
the named lines change).

    bench_fixture.py set-digests INDEX OUT NAME=VERSION=SHA256...
        Copy INDEX to OUT with the `digest:` of the entry VERSION of chart NAME replaced (so that
        an archive made here verifies against the real index). Fails when an entry is missing.
    bench_fixture.py touch-description INDEX TAG
        Put TAG in front of the first `description:` of INDEX, in place (a changed index).
    bench_fixture.py trace-summary TRACE_LOG
        From a TF_LOG=trace log: plugin starts, RPCs by method, span of the log, and the plugin
        processes' lifetimes, as `key<TAB>value` lines.
"""

import re
import sys
from collections import Counter, OrderedDict
from datetime import datetime


def set_digests(src, out, specs):
    want = {}
    for s in specs:
        name, version, digest = s.split("=", 2)
        want[(name, version)] = digest
    lines = open(src, encoding="utf-8").read().split("\n")
    chart = None
    entry_start = None
    done = set()

    def flush(end):
        # One entry is lines[entry_start:end]; rewrite its digest line when wanted.
        if entry_start is None or chart is None:
            return
        version = None
        for ln in lines[entry_start:end]:
            m = re.match(r"^(?:  - |    )version: (.*)$", ln)
            if m:
                version = m.group(1).strip().strip('"').strip("'")
        key = (chart, version)
        if key not in want:
            return
        for j in range(entry_start, end):
            m = re.match(r"^(  - |    )digest: (.*)$", lines[j])
            if m:
                lines[j] = f"{m.group(1)}digest: {want[key]}"
                done.add(key)
                return
        sys.exit(f"bench_fixture: entry {key} has no digest line")

    for i, ln in enumerate(lines):
        m = re.match(r"^  ([^ #-][^:]*):\s*$", ln)
        if m:
            flush(i)
            chart, entry_start = m.group(1), None
            continue
        if ln.startswith("  - "):
            flush(i)
            entry_start = i
        elif ln and not ln.startswith("    ") and not ln.startswith("  - "):
            flush(i)
            chart, entry_start = None, None
    flush(len(lines))
    missing = set(want) - done
    if missing:
        sys.exit(f"bench_fixture: entries not found in {src}: {sorted(missing)}")
    open(out, "w", encoding="utf-8").write("\n".join(lines))


def touch_description(path, tag):
    text = open(path, encoding="utf-8").read()
    new, n = re.subn(r"(?m)^(\s+description: )(?:bench-\S+ )?", lambda m: f"{m.group(1)}{tag} ", text, count=1)
    if n != 1:
        sys.exit(f"bench_fixture: no description line in {path}")
    open(path, "w", encoding="utf-8").write(new)


TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)")


def ts(line):
    m = TS.match(line)
    if not m:
        return None
    return datetime.strptime(m.group(1)[:26], "%Y-%m-%dT%H:%M:%S.%f")


# The plugins a trace summary counts: chartreg's and the floor provider's (benches/floor_provider.rs).
PLUGIN = r"terraform-provider-(?:chartreg|floor)"


def trace_summary(path):
    starts = 0
    rpcs = Counter()
    first = last = None
    started = OrderedDict()
    lifetimes = []
    for line in open(path, encoding="utf-8", errors="replace"):
        t = ts(line)
        if t:
            first = first or t
            last = t
        if "starting plugin" in line and re.search(PLUGIN, line):
            starts += 1
        m = re.search(r"GRPCProvider\.v6: (\w+)", line)
        if m and "provider.terraform-provider-" not in line:
            rpcs[m.group(1)] += 1
        m = re.search(r"plugin started: path=\S*" + PLUGIN + r" pid=(\d+)", line)
        if m and t:
            started[m.group(1)] = t
        m = re.search(r"plugin (?:process )?exited: (?:plugin=)?\S*" + PLUGIN + r".* id=(\d+)", line)
        if m and t and m.group(1) in started:
            lifetimes.append((t - started.pop(m.group(1))).total_seconds())
    print(f"plugin_starts\t{starts}")
    # Terraform logs "GRPCProvider.v6: GetProviderSchema" on every schema lookup; only the first
    # of each plugin process is an RPC (the GRPCProvider keeps the answer).
    lookups = rpcs.pop("GetProviderSchema", 0)
    rpcs["GetProviderSchema"] = min(lookups, starts)
    print(f"rpcs_total\t{sum(rpcs.values())}")
    print("rpcs\t" + ", ".join(f"{k} {v}" for k, v in sorted(rpcs.items(), key=lambda x: -x[1])))
    print(f"schema_lookups\t{lookups}")
    if first and last:
        print(f"log_span_s\t{(last - first).total_seconds():.3f}")
    print("plugin_lifetimes_s\t" + ", ".join(f"{x:.3f}" for x in lifetimes))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "set-digests" and len(sys.argv) >= 4:
        set_digests(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "touch-description" and len(sys.argv) == 4:
        touch_description(sys.argv[2], sys.argv[3])
    elif cmd == "trace-summary" and len(sys.argv) == 3:
        trace_summary(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
