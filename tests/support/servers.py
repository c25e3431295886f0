"""Real servers for the drop-in tests: commands as subprocesses on free loopback ports, and a
browser-like httpx client that logs in through the dev IdP over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from saml_middleware.devidp import auto_post_form_fields

from .processes import free_port, stop, wait_ready

__all__ = ["CLI", "ROOT", "SECRET", "free_port", "login", "post_login", "server", "sp_env", "wait_for"]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "drop-in-secret-key-0123456789"
CLI = [sys.executable, "-m", "saml_middleware.cli"]


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return True


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    """Until ``url`` answers; fail with the server's output if it exits or never answers."""
    if wait_ready(proc, lambda: _answers(url), timeout):
        return
    if proc.poll() is not None:
        raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text()}")
    raise AssertionError(f"{url} never answered:\n{log.read_text()}")


@contextmanager
def server(
    args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends; its output goes to ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            wait_for(ready_url, proc, log)
            yield proc
        finally:
            stop(proc)


def sp_env(base: str, metadata_url: str, **extra: str) -> dict[str, str]:
    """The environment of a wrapped app: this machine's, minus any SAML_*, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
    env.update(
        SAML_BASE_URL=base,
        SAML_SECRET_KEY=SECRET,
        SAML_IDP_METADATA_URL=metadata_url,
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="error::DeprecationWarning",
        **extra,
    )
    return env


def login(browser: httpx.Client, url: str, email: str = "b.simon@contoso.com") -> httpx.Response:
    """From a protected ``url`` through the dev IdP and back; the 303 from the ACS."""
    to_idp = browser.get(url, headers={"accept": "text/html"})
    assert to_idp.status_code == 302, to_idp.text
    location = to_idp.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    picked = browser.post(location.split("?")[0] + "/login", data={**query, "email": email})
    assert picked.status_code == 200, picked.text
    action, fields = auto_post_form_fields(picked.text)
    landed = browser.post(action, data=fields)
    assert landed.status_code == 303, landed.text
    return landed


def post_login(browser: httpx.Client, url: str, email: str = "b.simon@contoso.com") -> httpx.Response:
    """:func:`login` through a dev IdP whose metadata lists HTTP-POST only (``--sso-binding post``):
    the protected ``url`` answers with a page posting the AuthnRequest, which the browser submits."""
    page = browser.get(url, headers={"accept": "text/html"})
    assert page.status_code == 200, page.text
    action, fields = auto_post_form_fields(page.text)
    assert set(fields) == {"SAMLRequest", "RelayState"} and urlsplit(action).path.endswith("/saml2")
    picker = browser.post(action, data=fields)  # the IdP checks the request's XML signature here
    assert picker.status_code == 200 and email in picker.text, picker.text
    answer = browser.post(action + "/login", data={**fields, "email": email})
    assert answer.status_code == 200, answer.text
    acs, response = auto_post_form_fields(answer.text)
    landed = browser.post(acs, data=response)
    assert landed.status_code == 303, landed.text
    return landed


def reply_json(handler: BaseHTTPRequestHandler, payload: object, *, body: bool = True) -> None:
    """A recording upstream's answer: 200, ``payload`` as JSON (no body for ``HEAD``: ``body=False``)."""
    data = json.dumps(payload).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if body:
        handler.wfile.write(data)


#: the example upstream of ``proxy``: answers every request with what it received, as JSON
ECHO = ROOT / "examples" / "proxy" / "echo_upstream.py"


@contextmanager
def echo_upstream(directory: Path) -> Iterator[str]:
    """:data:`ECHO` on a free port (its log in ``directory``); yields its URL."""
    port = free_port()
    with server([sys.executable, str(ECHO), str(port)], f"http://127.0.0.1:{port}/", directory / "echo.log"):
        yield f"http://127.0.0.1:{port}"
