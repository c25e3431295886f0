"""A connection's setup page in headless Chromium against uvicorn: the setup link opens the page
(cookie set, token gone), and the strict Content-Security-Policy lets the page's own style and
script run (a CSP violation would be reported on the browser's console). A page whose hashes do
not match is caught by the same check, so the check can see violations. ``needs("chromium")``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, Settings
from saml_middleware.connections.setuplink import issue_setup_link
from saml_middleware.gate.connection_setup import ConnectionSetup
from saml_middleware.gate.setup_routes import WithConnectionSetup

from ..support.needs import CHROMIUM, find_program, unavailable
from ..support.setupflow import KEY, registry_of_two
from .test_event_loop import loopback_socket, serve

__all__ = ["loopback_socket"]


def _chromium(binary: str, url: str, profile: Path) -> tuple[str, str]:
    """``(DOM after scripts ran, console log)`` of ``url``."""
    args = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--dump-dom", url,
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        unavailable("chromium did not finish within 90 s")
    if done.returncode != 0:
        unavailable(f"chromium failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


@pytest.mark.needs("chromium")
def test_setup_link_opens_the_page_under_its_csp_in_chromium(tmp_path: Path, loopback_socket) -> None:  # type: ignore[no-untyped-def]
    binary = find_program(*CHROMIUM)
    assert binary is not None
    port = loopback_socket.getsockname()[1]
    settings = Settings(base_url=f"http://127.0.0.1:{port}", secret_key=(KEY,))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    middleware = SAMLMiddleware(app, settings=settings)
    setup = ConnectionSetup(settings, registry_of_two())
    middleware.gate = WithConnectionSetup(middleware.gate, setup)  # type: ignore[arg-type,assignment]
    broken = [False]  # when set: the same responses with a wrong script hash

    async def maybe_broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and broken[0]:
                wrong = [
                    (k, v.replace(b"script-src 'sha256-", b"script-src 'sha256-x"))
                    for k, v in message["headers"]
                ]
                message = dict(message, headers=wrong)
            await send(message)

        await middleware(scope, receive, rewrite)

    with serve(maybe_broken, loopback_socket):
        dom, console = _chromium(binary, issue_setup_link(settings, "acme", now=time.time()), tmp_path / "p1")
        broken[0] = True
        broken_dom, broken_console = _chromium(
            binary, issue_setup_link(settings, "acme", now=time.time()), tmp_path / "p2"
        )
    assert "Single sign-on set-up: Acme Corp" in dom and "Copy</button>" in dom
    assert "Content Security Policy" not in console, console[-3000:]
    assert "Content Security Policy" in broken_console  # the same page, a wrong script hash: reported
    assert "Single sign-on set-up" in broken_dom
