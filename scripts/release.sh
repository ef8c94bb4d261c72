#!/usr/bin/env bash
# `make release`: build the provider for each release target and write dist/ in the layout of the
# Terraform Registry (and of every HashiCorp provider release):
#
#   terraform-provider-chartreg_<version>_<os>_<arch>.zip   one per target, holding only
#                                                          terraform-provider-chartreg_v<version>[.exe]
#   terraform-provider-chartreg_<version>_manifest.json     = terraform-registry-manifest.json
#   terraform-provider-chartreg_<version>_SHA256SUMS        sha256 of every zip and the manifest
#   terraform-provider-chartreg_<version>_SHA256SUMS.sig    detached binary GPG signature of the sums
#
# The version is Cargo.toml's. dist/ is written aside and swapped in only when everything succeeded
# (a failed run leaves the previous dist/ as it was).
#
# Environment
#   GPG_FINGERPRINT           required: the signing key (fingerprint or key id) in GNUPGHOME's keyring
#   GPG_PRIVATE_KEY           optional: an ASCII-armored secret key, imported into a throw-away GNUPGHOME
#                             (for CI secret stores); GPG_FINGERPRINT must still name it
#   GPG_PASSPHRASE            optional: the key's passphrase (given to gpg on a pipe, never on argv)
#   GNUPGHOME                 gpg's home (default ~/.gnupg)
#   CHARTREG_RELEASE_TARGETS  Rust target triples, space separated (default: the host's). Each maps to a
#                             Terraform <os>_<arch> (table below); the release matrix is in README.md.
#   CHARTREG_RELEASE_BINARY   package this prebuilt binary instead of building (one target only)
#   CHARTREG_RELEASE_PREBUILT package prebuilt binaries instead of building: DIR/<triple>/terraform-provider-chartreg[.exe]
#                             (cargo's target/<triple>/release/ layout; a build matrix's artifacts), so
#                             that one job signs what one runner per target built
#   CHARTREG_DIST             output directory (default <repo>/dist)
#   SOURCE_DATE_EPOCH         time stamp of the zip entries (default: the HEAD commit's time), so the
#                             same binary always gives the same zip and the same zh: hash
set -euo pipefail
# No step may end the run without saying why: name the failing command and its line.
trap 'rc=$?; echo "[release] ERROR: command failed (exit $rc) at scripts/release.sh line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
set -o errtrace
say() { echo "[release] $*" >&2; }
die() {
  echo "[release] ERROR: $*" >&2
  exit 1
}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECT=terraform-provider-chartreg
DIST=${CHARTREG_DIST:-$repo/dist}
CARGO=${CARGO:-cargo}

# Rust target triple -> Terraform os_arch (the names of Go's GOOS_GOARCH, which Terraform uses).
tf_platform() {
  case $1 in
  x86_64-unknown-linux-gnu | x86_64-unknown-linux-musl) echo linux_amd64 ;;
  aarch64-unknown-linux-gnu | aarch64-unknown-linux-musl) echo linux_arm64 ;;
  i686-unknown-linux-gnu | i686-unknown-linux-musl) echo linux_386 ;;
  armv7-unknown-linux-gnueabihf | armv7-unknown-linux-musleabihf) echo linux_arm ;;
  x86_64-apple-darwin) echo darwin_amd64 ;;
  aarch64-apple-darwin) echo darwin_arm64 ;;
  x86_64-pc-windows-msvc | x86_64-pc-windows-gnu) echo windows_amd64 ;;
  aarch64-pc-windows-msvc) echo windows_arm64 ;;
  i686-pc-windows-msvc) echo windows_386 ;;
  x86_64-unknown-freebsd) echo freebsd_amd64 ;;
  *) return 1 ;;
  esac
}

command -v python3 >/dev/null || die "python3 not found (it writes the zip archives)"
VERSION=$(bash "$repo/scripts/version.sh")
host=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$host" ] || die "cannot read the host triple from 'rustc -vV'"
read -r -a targets <<<"${CHARTREG_RELEASE_TARGETS:-$host}"
((${#targets[@]})) || die "CHARTREG_RELEASE_TARGETS is empty"
declare -A seen=()
for t in "${targets[@]}"; do
  p=$(tf_platform "$t") || die "target $t has no Terraform platform in scripts/release.sh (tf_platform)"
  [ -z "${seen[$p]:-}" ] || die "targets ${seen[$p]} and $t are both $p"
  seen[$p]=$t
done
[ -z "${CHARTREG_RELEASE_BINARY:-}" ] || [ -z "${CHARTREG_RELEASE_PREBUILT:-}" ] ||
  die "CHARTREG_RELEASE_BINARY and CHARTREG_RELEASE_PREBUILT are both set: choose one"
if [ -n "${CHARTREG_RELEASE_BINARY:-}" ]; then
  ((${#targets[@]} == 1)) || die "CHARTREG_RELEASE_BINARY packages one binary, but ${#targets[@]} targets are asked"
  [ -f "$CHARTREG_RELEASE_BINARY" ] && [ -x "$CHARTREG_RELEASE_BINARY" ] ||
    die "CHARTREG_RELEASE_BINARY=$CHARTREG_RELEASE_BINARY is not an executable file"
fi

# ---------------------------------------------------------------- signing key (checked before building)
command -v gpg >/dev/null || die "gpg not found: install GnuPG (Debian: apt-get install gnupg; 'make setup' does)"
[ -n "${GPG_FINGERPRINT:-}" ] || die "GPG_FINGERPRINT is not set: name the key that signs the SHA256SUMS (fingerprint or key id in \$GNUPGHOME)"
tmp_paths=()
own_gnupghome=
cleanup() {
  # a throw-away GNUPGHOME made here: stop its agent (only that home's), then remove it
  if [ -n "$own_gnupghome" ]; then GNUPGHOME=$own_gnupghome gpgconf --kill gpg-agent 2>/dev/null || true; fi
  rm -rf "${tmp_paths[@]}"
}
trap cleanup EXIT
if [ -n "${GPG_PRIVATE_KEY:-}" ]; then
  own_gnupghome=$(mktemp -d "${TMPDIR:-/tmp}/chartreg-gnupg.XXXXXX")
  tmp_paths+=("$own_gnupghome")
  chmod 700 "$own_gnupghome"
  export GNUPGHOME=$own_gnupghome
  gpg_import=(gpg --batch --quiet --import)
  if [ -n "${GPG_PASSPHRASE:-}" ]; then gpg_import+=(--pinentry-mode loopback --passphrase-fd 3); fi
  printf '%s\n' "$GPG_PRIVATE_KEY" | "${gpg_import[@]}" 3<<<"${GPG_PASSPHRASE:-}" 2>/dev/null ||
    die "GPG_PRIVATE_KEY could not be imported (not an ASCII-armored secret key, or a wrong GPG_PASSPHRASE)"
fi
gpg --batch --list-secret-keys "$GPG_FINGERPRINT" >/dev/null 2>&1 ||
  die "no secret key $GPG_FINGERPRINT in the keyring of ${GNUPGHOME:-~/.gnupg} (set GNUPGHOME, or GPG_PRIVATE_KEY)"

# ---------------------------------------------------------------- dist/ is ours to replace
if [ -e "$DIST" ]; then
  [ -d "$DIST" ] || die "$DIST exists and is not a directory"
  other=$(find "$DIST" -mindepth 1 -maxdepth 1 ! -name "${PROJECT}_*" -printf '%f ')
  [ -z "$other" ] || die "$DIST holds files that are not release artifacts (${other:0:300}): refusing to replace it"
fi
mkdir -p "$(dirname "$DIST")"
stage=$(mktemp -d "$(dirname "$DIST")/.dist.XXXXXX")
tmp_paths+=("$stage")
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 315532800)}

# ---------------------------------------------------------------- build + package each target
for t in "${targets[@]}"; do
  platform=$(tf_platform "$t")
  exe=
  [[ $platform != windows_* ]] || exe=.exe
  if [ -n "${CHARTREG_RELEASE_BINARY:-}" ]; then
    bin=$CHARTREG_RELEASE_BINARY
    say "$platform: packaging the prebuilt $bin (not built by this run)"
  elif [ -n "${CHARTREG_RELEASE_PREBUILT:-}" ]; then
    bin=$CHARTREG_RELEASE_PREBUILT/$t/$PROJECT$exe
    [ -f "$bin" ] || die "$platform: $bin is missing (CHARTREG_RELEASE_PREBUILT holds <triple>/$PROJECT$exe)"
    say "$platform: packaging the prebuilt $bin (not built by this run)"
  else
    # The host target is built without --target, into target/release: the build `make bench` and a
    # plain `cargo build --release` make is the same one, not a second.
    cargo_args=(build --release --locked --bin "$PROJECT")
    out=$repo/target/release
    if [ "$t" != "$host" ]; then
      cargo_args+=(--target "$t")
      out=$repo/target/$t/release
    fi
    say "$platform: $CARGO ${cargo_args[*]}"
    t0=$(date +%s.%N)
    (cd "$repo" && "$CARGO" "${cargo_args[@]}")
    say "$platform: built in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    bin=$out/$PROJECT$exe
    [ -x "$bin" ] || die "cargo did not produce $bin"
    # the release profile strips the binary (Cargo.toml [profile.release]); check it kept doing so
    if [[ $platform == linux_* ]] && command -v readelf >/dev/null; then
      ! readelf -S -W "$bin" | grep -Eq ' \.(symtab|debug_[a-z]+) ' ||
        die "$bin still has symbols or debug info: [profile.release] strip = true was lost"
    fi
  fi
  # an executable of the platform's format and CPU, whoever built it (a mixed-up artifact of a
  # build matrix would otherwise be published under the wrong name)
  python3 - "$bin" "$platform" <<'PY' || die "$bin is not a $platform executable"
import struct, sys
path, platform = sys.argv[1], sys.argv[2]
os_, arch = platform.split("_")
head = open(path, "rb").read(4096)
def fail(what):
    sys.exit(f"[release] ERROR: {path} is {what}, not a {platform} executable")
if os_ in ("linux", "freebsd"):
    want = {"amd64": 0x3E, "386": 0x03, "arm": 0x28, "arm64": 0xB7}[arch]
    if head[:4] != b"\x7fELF":
        fail("not an ELF file")
    machine = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 18)[0]
    if machine != want:
        fail(f"an ELF file for machine 0x{machine:x}")
elif os_ == "darwin":
    want = {"amd64": 0x01000007, "arm64": 0x0100000C}[arch]
    if head[:4] != b"\xcf\xfa\xed\xfe":
        fail("not a 64-bit Mach-O file")
    if struct.unpack_from("<I", head, 4)[0] != want:
        fail("a Mach-O file for another CPU")
elif os_ == "windows":
    want = {"amd64": 0x8664, "386": 0x14C, "arm64": 0xAA64}[arch]
    if head[:2] != b"MZ":
        fail("not a PE file")
    pe = struct.unpack_from("<I", head, 0x3C)[0]
    if head[pe:pe + 4] != b"PE\0\0":
        fail("not a PE file")
    machine = struct.unpack_from("<H", head, pe + 4)[0]
    if machine != want:
        fail(f"a PE file for machine 0x{machine:x}")
PY
  if [ "$t" = "$host" ]; then
    # it must start and hand Terraform a plugin-protocol-6 handshake, as the real thing will
    python3 "$repo/scripts/handshake.py" --runs 1 "$bin" >&2 || die "$bin does not complete a plugin handshake"
  fi
  zip=$stage/${PROJECT}_${VERSION}_${platform}.zip
  python3 - "$bin" "$zip" "${PROJECT}_v${VERSION}$exe" "$epoch" <<'PY'
import os, sys, time, zipfile
src, out, name, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
info = zipfile.ZipInfo(name, date_time=time.gmtime(max(epoch, 315532800))[:6])
info.create_system = 3  # Unix, so that the mode below is honoured
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f:
    data = f.read()
with zipfile.ZipFile(out, "w") as z:
    z.writestr(info, data, compresslevel=6)
PY
  say "$platform: $(basename "$zip") ($(stat -c %s "$zip") bytes; binary $(stat -c %s "$bin") bytes)"
done

# ---------------------------------------------------------------- manifest, sums, signature
manifest=$stage/${PROJECT}_${VERSION}_manifest.json
python3 - "$repo/terraform-registry-manifest.json" <<'PY' || die "terraform-registry-manifest.json must be {\"version\": 1, \"metadata\": {\"protocol_versions\": [\"6.0\"]}} (the provider serves protocol 6)"
import json, sys
m = json.load(open(sys.argv[1]))
assert m.get("version") == 1 and m["metadata"]["protocol_versions"] == ["6.0"], m
PY
cp "$repo/terraform-registry-manifest.json" "$manifest"
sums=$stage/${PROJECT}_${VERSION}_SHA256SUMS
(cd "$stage" && sha256sum -- *.zip "$(basename "$manifest")" | LC_ALL=C sort -k2 >"$sums")
sign=(gpg --batch --yes --local-user "$GPG_FINGERPRINT" --output "$sums.sig" --detach-sign)
if [ -n "${GPG_PASSPHRASE:-}" ]; then sign+=(--pinentry-mode loopback --passphrase-fd 3); fi
"${sign[@]}" "$sums" 3<<<"${GPG_PASSPHRASE:-}" || die "gpg could not sign with $GPG_FINGERPRINT"
status=$(gpg --batch --status-fd 1 --verify "$sums.sig" "$sums" 2>/dev/null) ||
  die "the signature just made does not verify"
signer=$(awk '$2 == "VALIDSIG" { print $3 }' <<<"$status")
want=${GPG_FINGERPRINT// /}
[[ -n $signer && ${signer^^} == *"${want^^}" ]] || die "the sums were signed by ${signer:-nobody}, not $GPG_FINGERPRINT"

# ---------------------------------------------------------------- swap in
rm -rf "$DIST"
chmod 755 "$stage"
mv "$stage" "$DIST"
say "dist: $DIST (version $VERSION, signed by $signer)"
(cd "$DIST" && ls -l -- *) >&2
