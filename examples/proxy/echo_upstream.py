"""A tiny upstream for ``saml-middleware proxy``: stands in for a service written in anything.

Standard library only. ``python examples/proxy/echo_upstream.py 8080`` then
``saml-middleware proxy http://127.0.0.1:8080``.

* ``GET /anything`` - JSON: the path and every ``X-Remote-*`` header received (what the
  proxy told it about the user), plus ``X-Forwarded-*``.
* ``GET /big?mb=N`` - N MiB of a known byte pattern, streamed (for download tests).
* ``GET /redirect`` - 302 to ``/landed`` with two ``Set-Cookie`` headers.
* ``POST /upload`` - JSON: the size and SHA-256 of the body received.
"""

from __future__ import annotations

import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CHUNK = bytes(range(256)) * 4096  # 1 MiB


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _json(self, data: object, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/big":
            mb = int(parse_qs(url.query).get("mb", ["1"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(mb * len(CHUNK)))
            self.end_headers()
            for _ in range(mb):
                self.wfile.write(CHUNK)
            return
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/landed")
            self.send_header("Set-Cookie", "a=1; Path=/; HttpOnly")
            self.send_header("Set-Cookie", "b=2; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        seen = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower().startswith(("x-remote-", "x-forwarded-"))
        }
        hop = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower() in ("keep-alive", "x-hop", "te", "upgrade")
        }
        self._json({"path": self.path, "headers": seen, "hop_by_hop": hop})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self._json({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()})

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    host = sys.argv[3] if sys.argv[2:3] == ["--bind"] else "127.0.0.1"  # loopback unless told
    server = ThreadingHTTPServer((host, port), Echo)
    print(f"echo upstream on http://{host}:{port}/", flush=True)
    server.serve_forever()
