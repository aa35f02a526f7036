#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A front for a test registry: forwards every request to --upstream, after
# the distribution token flow when --user is given (401 with
# "WWW-Authenticate: Bearer realm=...,service=...,scope=...", tokens from
# its own /token for Basic credentials), and after --delay seconds for
# blob requests; with --die-after N it exits (a registry gone mid-pull)
# when blob request N+1 arrives. Prints "PORT <n>" once listening; logs
# "METHOD PATH" per request to --log. Stop it with a signal.
import argparse
import base64
import http.client
import http.server
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer",
       "upgrade", "proxy-authorization", "proxy-authenticate"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)  # host:port of the registry
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--log")
    p.add_argument("--die-after", type=int, default=-1)
    args = p.parse_args()
    tokens = set()
    blobs_served = [0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def reply(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def token(self):
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (args.user, args.password)).encode()).decode()
            if self.headers.get("Authorization") != want:
                self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                return
            t = secrets.token_hex(16)
            with lock:
                tokens.add(t)
            self.reply(200, ('{"token":"%s","expires_in":300}' % t).encode(),
                       [("Content-Type", "application/json")])

        def authorized(self):
            if not args.user:
                return True
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in tokens:
                return True
            m = re.match(r"^/v2/(.+?)/(blobs|manifests|tags)/", self.path)
            scope = ""
            if m:
                actions = "pull" if self.command in ("GET", "HEAD") else "pull,push"
                scope = ',scope="repository:%s:%s"' % (m.group(1), actions)
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                if "from" in q:
                    scope = scope[:-1] + ' repository:%s:pull"' % q["from"][0]
            realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                       [("WWW-Authenticate",
                         'Bearer realm="%s",service="sealfs-test"%s' % (realm, scope))])
            return False

        def forward(self):
            if args.log:
                with lock, open(args.log, "a") as log:
                    log.write("%s %s\n" % (self.command, self.path))
            if self.path.startswith("/token"):
                self.token()
                return
            length = int(self.headers.get("Content-Length", "0") or "0")
            body = self.rfile.read(length) if length else b""
            if not self.authorized():
                return
            if "/blobs/" in self.path and self.command == "GET":
                with lock:
                    if blobs_served[0] == args.die_after:
                        os._exit(0)
                    blobs_served[0] += 1
            if args.delay and "/blobs/" in self.path:
                time.sleep(args.delay)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in HOP and k.lower() != "authorization"}
            conn = http.client.HTTPConnection(args.upstream, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address):
            pass

    server = Server(("127.0.0.1", args.port), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
