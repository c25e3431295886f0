"""Real app server processes (uvicorn, waitress) and a scripted browser login against them.

Used by tests/test_scaleout.py. The browser's
stop at the IdP is played in-process by :class:`DevIdP.issue_response`.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import httpx

from saml_middleware.devidp import DevIdP

from .processes import stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
HTML = {"accept": "text/html"}


class AppServer:
    """``kind`` is ``"uvicorn"`` (tests.support.scaleout_app:make_asgi) or ``"waitress"`` (make_wsgi)."""

    def __init__(self, kind: str, port: int, env: dict[str, str], log: Path, workers: int = 1) -> None:
        self.kind, self.port, self.env, self.log_path, self.workers = kind, port, env, log, workers
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        if self.kind == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", "--factory", "tests.support.scaleout_app:make_asgi",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                "--no-access-log", "--workers", str(self.workers),
            ]  # fmt: skip
        return [
            sys.executable, "-m", "waitress", "--host=127.0.0.1", f"--port={self.port}",
            "--threads=16", "--call", "tests.support.scaleout_app:make_wsgi",
        ]  # fmt: skip

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAML_")}, **self.env}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self._log, stderr=self._log)
        with httpx.Client() as client:

            def healthy() -> bool:
                try:
                    return client.get(self.url + "/saml/health", timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            if wait_ready(self.process, healthy, timeout=30):
                return
        self.stop()
        raise RuntimeError(f"{self.kind} did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=15)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_login(client: httpx.Client, base: str, path: str = "/") -> tuple[str, str]:
    """GET a protected page on one instance: returns (SAMLRequest, RelayState); the login cookie is set."""
    redirect = client.get(base + path, headers=HTML)
    if redirect.status_code != 302:
        raise AssertionError(f"expected 302 from {base}{path}, got {redirect.status_code}")
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    return query["SAMLRequest"][0], query["RelayState"][0]


def idp_answer(idp: DevIdP, saml_request: str, relay: str, email: str) -> dict[str, str]:
    """What the IdP's auto-post form would post to the ACS."""
    request = idp.parse_authn_request(saml_request)
    xml = idp.issue_response(
        email, acs_url=request.acs_url or "", audience=request.issuer, in_response_to=request.id
    )
    return {"SAMLResponse": base64.b64encode(xml).decode("ascii"), "RelayState": relay}


def finish_login(client: httpx.Client, base: str, form: dict[str, str]) -> httpx.Response:
    return client.post(base + "/saml/acs", data=form)
