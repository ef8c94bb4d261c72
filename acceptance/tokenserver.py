#!/usr/bin/env python3
"""Minimal Docker/OCI registry token server (Bearer flow) for CNCF distribution 2.8 (acceptance tests).

  tokenserver.py --port P --key token.key --cert token.crt --user U --password-file F
                 [--issuer chartreg-issuer] [--tls-cert server.crt --tls-key server.key]
                 [--issued-file F] [--anonymous-pull] [--refuse-catalog]

GET  /token?service=S&scope=repository:name:pull,push[&scope=...]   (Basic auth, or anonymous)
POST /token  grant_type=password&username=U&password=PW&service=S&scope=...   (OAuth2 password grant)
-> {"token": JWT, "access_token": JWT, "expires_in": 300, "issued_at": ...}
GET  /healthz -> {"ok": true}

The JWT is RS256 and its header carries x5c=[token.crt], so the registry's auth.token.rootcertbundle must
contain token.crt. Anonymous requests get a token with empty access (the registry then answers 401
insufficient_scope); wrong credentials get 401. Every token request is logged to stderr as one line
`token: <method> user=<u> service=<s> scopes=<...> -> <status>` (never the password). With
--issued-file every issued token is appended to F, one per line (the harness's secret sweep looks
for them in everything the run wrote).
GHCR/Docker Hub shape: --anonymous-pull grants anonymous requests the `pull` action of repository
scopes (public images); --refuse-catalog grants nobody the `registry:catalog:*` scope (the registry
then answers 401 on /v2/_catalog).
Needs the `cryptography` package. The password is read from a file so it never shows in `ps`.
"""
import argparse
import base64
import datetime
import http.server
import json
import os
import ssl
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def parse_scope(s):
    # "repository:charts/mychart:pull,push" ; "registry:catalog:*"
    typ, _, rest = s.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": typ, "name": name, "actions": [a for a in actions.split(",") if a]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--issuer", default="chartreg-issuer")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--issued-file")
    ap.add_argument("--anonymous-pull", action="store_true")
    ap.add_argument("--refuse-catalog", action="store_true")
    a = ap.parse_args()

    password = open(a.password_file).read().strip()
    key = serialization.load_pem_private_key(open(a.key, "rb").read(), None)
    cert = x509.load_pem_x509_certificate(open(a.cert, "rb").read())
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    good = "Basic " + base64.b64encode(f"{a.user}:{password}".encode()).decode()

    def issue(service, scopes, user):
        access = [parse_scope(s) for s in scopes]
        if a.refuse_catalog:
            access = [x for x in access if x["type"] != "registry"]
        if not user:
            access = [dict(x, actions=["pull"]) for x in access
                      if a.anonymous_pull and x["type"] == "repository" and "pull" in x["actions"]]
        now = int(time.time())
        claims = {"iss": a.issuer, "sub": user, "aud": service,
                  "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": b64u(os.urandom(12)), "access": access}
        header = {"typ": "JWT", "alg": "RS256", "x5c": x5c}
        signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64u(json.dumps(claims, separators=(",", ":")).encode()))
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        tok = signing_input + "." + b64u(sig)
        if a.issued_file:
            with open(a.issued_file, "a") as f:
                f.write(tok + "\n")
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat()
        return {"token": tok, "access_token": tok, "expires_in": 300, "issued_at": issued}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass  # one line per token request is written by note() instead

        def note(self, method, user, service, scopes, status):
            sys.stderr.write(f"token: {method} user={user or '-'} service={service or '-'} "
                             f"scopes={' '.join(scopes) or '-'} -> {status}\n")
            sys.stderr.flush()

        def reply(self, code, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def unauthorized(self):
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                       {"WWW-Authenticate": 'Basic realm="token"'})

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            if u.path == "/healthz":
                return self.reply(200, {"ok": True})
            if u.path != "/token":
                return self.reply(404, {"error": "not found"})
            q = urllib.parse.parse_qs(u.query)
            service, scopes = q.get("service", [""])[0], q.get("scope", [])
            auth = self.headers.get("Authorization")
            if auth and auth != good:
                self.note("GET", "?", service, scopes, 401)
                return self.unauthorized()
            user = a.user if auth else ""
            self.note("GET", user, service, scopes, 200)
            self.reply(200, issue(service, scopes, user))

        def do_POST(self):
            u = urllib.parse.urlparse(self.path)
            if u.path != "/token":
                return self.reply(404, {"error": "not found"})
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            service = form.get("service", [""])[0]
            scopes = " ".join(form.get("scope", [])).split()
            if form.get("grant_type", [""])[0] != "password" or \
                    form.get("username", [""])[0] != a.user or form.get("password", [""])[0] != password:
                self.note("POST", "?", service, scopes, 401)
                return self.unauthorized()
            self.note("POST", a.user, service, scopes, 200)
            self.reply(200, issue(service, scopes, a.user))

    srv = http.server.ThreadingHTTPServer((a.host, a.port), H)
    srv.daemon_threads = True
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
