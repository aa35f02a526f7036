#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A tiny HTTP server for tests: serves a sealfs store directory's layout
# (objects/XX/<62 hex>, trees/XX/<62 hex>, images/NAME) on 127.0.0.1, with
# byte ranges, misbehaving on purpose in the chosen --mode. Prints
# "PORT <n>" once listening; logs one line per request to --log:
# "GET /objects/.. [bytes=A-B] <start> <end>" (times in seconds). Stop it
# with a signal.
import argparse
import http.server
import os
import re
import sys
import threading
import time

MODES = ("normal", "corrupt", "truncated", "wrong-length", "stall", "404",
         "slow", "500", "redirect-file", "latency", "no-range",
         "range-corrupt", "range-wrong")
PATH_RE = re.compile(
    r"^/((?:objects|trees)/[0-9a-f]{2}/[0-9a-f]{62}|images/[A-Za-z0-9_.-]{1,128})$")
RANGE_RE = re.compile(r"^bytes=(\d+)-(\d+)$")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--mode", default="normal", choices=MODES)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    parser.add_argument("--delay", type=float, default=0.05,
                        help="seconds per object in slow and latency modes")
    parser.add_argument("--corrupt-at", type=int, default=5 << 20,
                        help="object offset range-corrupt flips")
    args = parser.parse_args()
    log_lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def log(self, start, rng):
            if not args.log:
                return
            with log_lock, open(args.log, "a") as log:
                log.write("GET %s%s %.6f %.6f\n" % (
                    self.path, " " + rng if rng else "", start, time.time()))

        def do_GET(self):
            start = time.time()
            rng = self.headers.get("Range")
            try:
                self.serve(rng)
            finally:
                self.log(start, rng)

        def serve(self, rng):
            m = PATH_RE.match(self.path)
            is_object = bool(m) and self.path.startswith("/objects/")
            full = os.path.join(args.root, m.group(1)) if m else None
            if (full is None or not os.path.isfile(full) or
                    (args.mode == "404" and is_object)):
                self.send_error(404)
                return
            if args.mode == "redirect-file" and is_object:
                # A redirect to another protocol must not be followed.
                self.send_response(302)
                self.send_header("Location", "file://" + os.path.abspath(full))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if args.mode == "500" and is_object:
                self.send_error(500)
                return
            with open(full, "rb") as f:
                body = f.read()
            total = len(body)
            if is_object and args.mode in ("slow", "latency"):
                time.sleep(args.delay)
            first = None
            r = RANGE_RE.match(rng or "")
            if r and args.mode != "no-range":
                first, last = int(r.group(1)), int(r.group(2))
                if first >= total or last < first:
                    self.send_error(416)
                    return
                last = min(last, total - 1)
                if is_object and args.mode == "range-corrupt":
                    at = args.corrupt_at
                    if first <= at <= last:
                        body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
                if is_object and args.mode == "range-wrong":
                    first = first + 1 if last + 1 < total else first
                    last = min(last + 1, total - 1)
                body = body[first:last + 1]
            length = len(body)
            if is_object:
                if args.mode == "corrupt" and body:
                    body = bytes([body[0] ^ 1]) + body[1:]
                elif args.mode == "wrong-length":
                    length += 1
            self.send_response(200 if first is None else 206)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            if first is not None:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (
                    first, first + len(body) - 1, total))
            if is_object and args.mode in ("truncated", "stall", "wrong-length"):
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if is_object and args.mode == "stall":
                self.wfile.flush()
                while True:  # headers sent, body never comes
                    time.sleep(3600)
            if is_object and args.mode == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                return  # connection closed early (Connection: close)
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

        def handle_error(self, request, client_address):
            pass  # clients hanging up on purpose (size checks) are expected

    server = Server(("127.0.0.1", args.port), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
