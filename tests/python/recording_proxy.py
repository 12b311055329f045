"""A recording HTTP proxy for the publish tests: forwards every request to an upstream
server (moto's S3 server), streaming request bodies, and appends one JSON line per request
to a log: method, target (path and query), body bytes forwarded, whether it was a
server-side copy (x-amz-copy-source), and the upstream status.

Usage: recording_proxy.py LISTEN_PORT UPSTREAM_PORT LOG_FILE
"""

import http.client
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
CHUNK = 1 << 20
log_lock = threading.Lock()


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=600)
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            upstream.putheader(name, value)
        upstream.endheaders()
        length = int(self.headers.get("Content-Length") or 0)
        sent = 0
        while sent < length:
            chunk = self.rfile.read(min(CHUNK, length - sent))
            if not chunk:
                break
            upstream.send(chunk)
            sent += len(chunk)
        response = upstream.getresponse()
        body = response.read()
        upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", response.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        with log_lock, open(LOG, "a") as log:
            log.write(json.dumps({
                "method": self.command,
                "target": self.path,
                "bytes": sent,
                "copy": "x-amz-copy-source" in (k.lower() for k in self.headers.keys()),
                "status": response.status,
            }) + "\n")

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", LISTEN), Proxy).serve_forever()
