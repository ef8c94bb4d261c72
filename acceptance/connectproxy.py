#!/usr/bin/env python3
"""Minimal HTTP forward proxy for tests (stdlib only): CONNECT tunnels, absolute-URI GETs and POSTs.

  connectproxy.py PORT      listens on 127.0.0.1:PORT, logs one line per request to stdout
"""
import http.server
import select
import socket
import sys
import urllib.error
import urllib.request


class Proxy(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stdout.write("proxy: " + fmt % args + "\n")
        sys.stdout.flush()

    def do_CONNECT(self):
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError as e:
            self.send_error(502, str(e))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        while True:
            r, _, _ = select.select(conns, [], [], 30)
            if not r:
                break
            for s in r:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)

    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        # AWS API calls (the ECR cases): the body and every header are passed on as they are, so
        # that the request's SigV4 signature still holds.
        n = int(self.headers.get("Content-Length") or 0)
        self.forward(self.rfile.read(n))

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        req = urllib.request.Request(self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.relay(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            self.relay(e.code, e.headers, e.read())

    def relay(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
