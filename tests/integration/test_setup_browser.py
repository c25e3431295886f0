"""The setup page in a real browser: headless Chromium against uvicorn, with a screenshot check.

A test-only wrapper logs the browser in at ``/__test_login`` (a session made with
``gate.sessions.create``) and redirects to ``/saml/setup``. ``needs("chromium")``: a
missing or broken Chromium fails the test under ``CI=true``; elsewhere it skips.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLUser

from ..support.needs import CHROMIUM, find_program, unavailable
from .test_event_loop import loopback_socket, serve

__all__ = ["loopback_socket"]

WIDTH, HEIGHT = 412, 900


def _screenshot(binary: str, url: str, out: Path, profile: Path) -> None:
    args = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", f"--screenshot={out}",
        f"--window-size={WIDTH},{HEIGHT}", url,
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        unavailable("chromium did not finish within 90 s")
    if done.returncode != 0 or not out.exists():
        unavailable(f"chromium failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.needs("chromium")
def test_setup_page_renders_in_headless_chromium(settings_factory, tmp_path, loopback_socket) -> None:
    binary = find_program(*CHROMIUM)
    assert binary is not None  # needs("chromium") found it
    port = loopback_socket.getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    middleware = SAMLMiddleware(
        app, settings=settings_factory(base_url=base, admin_emails=("admin@contoso.com",))
    )
    gate = middleware.gate
    assert gate is not None
    _, cookie = gate.sessions.create(SAMLUser(email="admin@contoso.com", name_id="admin@contoso.com"))

    async def test_login(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__test_login":
            headers = [(b"location", b"/saml/setup"), (b"set-cookie", cookie.encode())]
            await send({"type": "http.response.start", "status": 302, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await middleware(scope, receive, send)

    blank_html = tmp_path / "blank.html"
    blank_html.write_text("<!doctype html><title>blank</title>")
    shot, blank = tmp_path / "setup.png", tmp_path / "blank.png"
    with serve(test_login, loopback_socket):
        with httpx.Client(follow_redirects=True) as client:  # what the browser will be shown
            page = client.get(f"{base}/__test_login", headers={"accept": "text/html"})
            assert page.status_code == 200 and "<h1>SAML setup</h1>" in page.text
        _screenshot(binary, f"{base}/__test_login", shot, tmp_path / "profile-1")
    _screenshot(binary, blank_html.as_uri(), blank, tmp_path / "profile-2")

    assert _png_size(shot) == (WIDTH, HEIGHT)
    # a rendered page of tables and text compresses far worse than a white one
    assert shot.stat().st_size > 4 * blank.stat().st_size, (shot.stat().st_size, blank.stat().st_size)
