#!/usr/bin/env python3
"""Minimal HTTP forward proxy for tests (stdlib only): CONNECT tunnels and absolute-URI GETs.

  connectproxy.py PORT      listens on 127.0.0.1:PORT, logs one line per request to stdout
"""
import http.server
import select
import socket
import sys
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
        req = urllib.request.Request(self.path, headers={k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                self.send_response(r.status)
                for k, v in r.headers.items():
                    if k.lower() not in ("transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
        except urllib.error.HTTPError as e:
            self.send_error(e.code)


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
