"""Serves a folder over HTTP on 127.0.0.1 on a free port, printing the port first.

Used by the tests, the quick start and the benchmarks; never binds any other address.
Options make it misbehave the way a broken or hostile mirror does:

  --log FILE        append the path of every request to FILE, one per line
  --status CODE     answer every request with CODE and no body (a broken mirror)
  --stall NAME      for files whose names end in NAME: announce the full length, send half, then stall
  --endless NAME    for files whose names end in NAME: send bytes without end and no length, and log
                    "sent N NAME" to the --log file when the client hangs up
  --tls CERT KEY    serve HTTPS with this certificate chain and key (PEM files)
  --cut NAME        the first request for a file whose name ends in NAME gets the full
                    length announced and half the bytes, then the connection closes
  --switch NAME     range requests for such a file get other bytes than the file holds

Range requests ("Range: bytes=N-") are answered with 206 and the rest of the file; the log
records them as "PATH range=N".
"""
import argparse
import functools
import http.server
import os
import ssl
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    options = None
    cut_done = set()

    def _send_range(self, start, switch):
        data = open(self.translate_path(self.path), "rb").read()
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        rest = data[start:]
        if switch:
            rest = bytes(b ^ 0xFF for b in rest)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    def log_message(self, *args):
        pass

    def _log(self, line):
        if self.options.log:
            with open(self.options.log, "a") as f:
                f.write(line + "\n")

    def do_GET(self):
        self._log(self.path)
        name = os.path.basename(self.path)
        if self.options.status:
            self.send_response(self.options.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        matches = lambda names: any(name.endswith(s) for s in names)
        if any(name.endswith(s) for s in self.options.stall):
            data = open(self.translate_path(self.path), "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(3600)
            return
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and not self.options.status:
            self._log(f"{self.path} range={rng[6:-1]}")
            return self._send_range(int(rng[6:-1]), matches(self.options.switch))
        if matches(self.options.cut) and name not in Handler.cut_done:
            Handler.cut_done.add(name)
            data = open(self.translate_path(self.path), "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if any(name.endswith(s) for s in self.options.endless):
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            sent, chunk = 0, b"{" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            self._log(f"sent {sent} {name}")
            return
        super().do_GET()


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that hang up (killed in crash tests, timeouts) are expected here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--log")
    parser.add_argument("--status", type=int)
    parser.add_argument("--stall", action="append", default=[])
    parser.add_argument("--endless", action="append", default=[])
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--cut", action="append", default=[])
    parser.add_argument("--switch", action="append", default=[])
    options = parser.parse_args()
    Handler.options = options
    handler = functools.partial(Handler, directory=options.root)
    server = QuietServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if options.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*options.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
