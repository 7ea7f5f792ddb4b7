#!/usr/bin/env python3
"""An HTTP server on 127.0.0.1 that injects download faults, for tests/reliability/test_download_faults.cpp.

    fault_server.py ROOT PORT_FILE [--stall-seconds S]

Binds a free port, writes it to PORT_FILE (written to a temporary name, then renamed, so a reader never sees a
partial number), and serves GET /<fault>/<name> from the files in ROOT:

  ok            the file, with its Content-Length
  404, 500      that HTTP status, with a small HTML body (as real servers send)
  reset         Content-Length of the whole file, half of the body, then a TCP reset (RST)
  short         Content-Length of the whole file, half of the body, then a clean close (FIN)
  wrong         the right length and headers, but one byte in every 97 flipped (an MD5 mismatch)
  stall         headers and half of the body, then nothing for S seconds, then close
  stall-headers nothing at all (not even headers) for S seconds, then close
  trickle       Content-Length of the whole file, then one byte every 0.25 s (never quiet for a second, never
                done) until S seconds have passed, then close
  redirect-loop a 302 to itself; after 1000 redirects (a client that never gives up) a 404, so that a test of
                a client without a redirect limit still ends
  html          200 with an HTML error page instead of the file (a captive portal / proxy)

Every request is logged on stdout as "<fault> <name>", so that a test can see which mirrors were tried.
"""
import http.server
import os
import socket
import struct
import sys
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stall_seconds = 30.0
    redirects = 0
    root = "."

    def log_message(self, fmt, *args):  # keep stderr quiet; requests are logged below
        pass

    def do_GET(self):
        parts = self.path.lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.simple(400, b"bad path")
        fault, name = parts
        print(fault, name, flush=True)
        path = os.path.join(self.root, os.path.basename(name))
        if fault == "404":
            return self.simple(404, b"<html><body>Not Found</body></html>")
        if fault == "500":
            return self.simple(500, b"<html><body>Internal Server Error</body></html>")
        if fault == "redirect-loop":
            Handler.redirects += 1
            if Handler.redirects > 1000:
                return self.simple(404, b"too many redirects")
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "html":
            return self.simple(200, b"<html><body>Please log in to use this network</body></html>")
        if fault == "stall-headers":
            time.sleep(self.stall_seconds)
            self.close_connection = True
            return
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return self.simple(404, b"no such file")
        half = len(body) // 2
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "ok":
            self.wfile.write(body)
        elif fault == "wrong":
            bad = bytearray(body)
            for i in range(0, len(bad), 97):
                bad[i] ^= 0xFF
            self.wfile.write(bytes(bad))
        elif fault == "reset":
            self.wfile.write(body[:half])
            self.wfile.flush()
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault == "short":
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif fault == "stall":
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(self.stall_seconds)
            self.close_connection = True
        elif fault == "trickle":
            end = time.monotonic() + self.stall_seconds
            i = 0
            try:
                while time.monotonic() < end and i < len(body):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    i += 1
                    time.sleep(0.25)
            except OSError:
                pass
            self.close_connection = True
        else:
            self.close_connection = True

    def simple(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    Handler.root = args[0]
    port_file = args[1]
    if "--stall-seconds" in args:
        Handler.stall_seconds = float(args[args.index("--stall-seconds") + 1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
