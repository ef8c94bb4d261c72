#!/usr/bin/env bash
# One rustls crypto provider and one HTTP stack in the provider's dependency tree (issue 10).
#
# With rustls' `aws-lc-rs` provider beside the `ring` one that reqwest and tonic use, rustls has no
# process default and tonic's server TLS config panics under Terraform's AutoMTLS: the plugin would
# not start. The AWS SDK pulls `aws-lc-rs` with its default features; Cargo.toml turns them off and
# the SDK talks through our reqwest client (src/registry/ecr/transport.rs). This fails when a
# dependency change brings a second provider, a second rustls, a second reqwest or a second hyper.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
fail=0
tree=$("$CARGO" tree -e normal --prefix none --format '{p}' | awk '{print $1, $2}' | sort -u)
for crate in aws-lc-rs aws-lc-sys aws-lc-fips-sys openssl-sys native-tls; do
    if grep -q "^$crate v" <<<"$tree"; then
        echo "deps-check: $crate is in the dependency tree:" >&2
        "$CARGO" tree -e normal -i "$crate" >&2 || true
        fail=1
    fi
done
for crate in ring rustls reqwest hyper hyper-rustls tokio-rustls; do
    n=$(grep -E "^$crate v" <<<"$tree" | sort -u | wc -l)
    if [ "$n" -ne 1 ]; then
        echo "deps-check: $n versions of $crate (want exactly 1):" >&2
        grep -E "^$crate v" <<<"$tree" | sort -u >&2
        fail=1
    fi
done
# The fuzz workspace (fuzz/, its own Cargo.lock) must resolve as locked: `make fuzz` builds it
# with --locked, and a lock file left stale by a dependency change of the main crate breaks it.
if ! fuzzerr=$("$CARGO" metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml 2>&1 >/dev/null); then
    echo "deps-check: fuzz/Cargo.lock is stale (run \`cargo metadata --offline --manifest-path fuzz/Cargo.toml\` and commit it):" >&2
    echo "$fuzzerr" | tail -n 3 >&2
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "deps-check: one rustls ($(grep -E '^rustls v' <<<"$tree" | sort -u)), crypto provider ring only, one reqwest, one hyper"
