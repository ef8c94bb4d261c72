#!/usr/bin/env python3
"""Start-up time of a provider binary: from exec to its plugin handshake line on stdout.

    python3 scripts/handshake.py [--runs N] [--no-mtls] BINARY...

The binary is started as Terraform starts it (go-plugin's environment: the magic cookie, the
protocol versions, the port range and, unless --no-mtls, PLUGIN_CLIENT_CERT with a fresh client
certificate, so the plugin makes its own server certificate as it does under Terraform). Each run
must print a protocol-6 handshake (`1|6|tcp|127.0.0.1:PORT|grpc|CERT`); the plugin is then
stopped. Prints min / median / max per binary; exits non-zero when a run fails.
"""

import argparse
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HANDSHAKE = re.compile(r"^1\|6\|tcp\|127\.0\.0\.1:\d+\|grpc\|([A-Za-z0-9+/]*)$")


def client_cert(tmp):
    key, crt = os.path.join(tmp, "client.key"), os.path.join(tmp, "client.crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/O=HashiCorp/CN=localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt) as f:
        return f.read()


def one_run(binary, env, mtls, timeout=20.0):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        buf = b""
        deadline = t0 + timeout
        while b"\n" not in buf:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"no handshake within {timeout:.0f} s")
            ready, _, _ = select.select([p.stdout], [], [], left)
            if ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"stdout closed before a handshake (exit {p.wait()})")
                buf += chunk
        elapsed = time.perf_counter() - t0
        line = buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        m = HANDSHAKE.match(line)
        if not m:
            raise RuntimeError(f"not a plugin protocol 6 handshake: {line[:120]!r}")
        if mtls and not m.group(1):
            raise RuntimeError("AutoMTLS asked, but the handshake carries no server certificate")
        return elapsed
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--no-mtls", action="store_true")
    ap.add_argument("binary", nargs="+")
    a = ap.parse_args()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TF_", "PLUGIN_")) and k not in ("RUST_LOG", "RUST_BACKTRACE")}
    env.update({
        "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
        "PLUGIN_PROTOCOL_VERSIONS": "6",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
    })
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        if not a.no_mtls:
            env["PLUGIN_CLIENT_CERT"] = client_cert(tmp)
        for b in a.binary:
            try:
                times = [one_run(b, env, not a.no_mtls) for _ in range(a.runs)]
            except (OSError, RuntimeError) as e:
                print(f"{b}: FAILED: {e}", file=sys.stderr)
                failed = True
                continue
            ms = [t * 1000 for t in times]
            print(f"{b}: handshake in {statistics.median(ms):.1f} ms median "
                  f"(min {min(ms):.1f}, max {max(ms):.1f}, {len(ms)} runs, "
                  f"{'AutoMTLS' if not a.no_mtls else 'no mTLS'}); {os.path.getsize(b)} bytes")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
