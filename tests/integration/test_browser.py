"""A real browser: headless Debian Chromium, driven by Playwright, through the demo and the dev IdP.

The app is served at ``http://localhost:PORT`` and the dev IdP at ``http://127.0.0.1:PORT2``: two
sites, so the IdP's auto-submitted POST to the ACS is a cross-site top-level POST. On plain http
the per-login cookie carries no SameSite attribute and Chromium treats it as Lax, except that a
cookie younger than two minutes still goes with a top-level cross-site POST ("Lax+POST"); that is
what these tests exercise. Landing on the deep-linked page proves the login cookie arrived: the
page to return to is only in that cookie.

``needs("playwright", "chromium")``: a missing Playwright or a Chromium that does not start fails under
``CI=true`` and skips elsewhere (tests/support/needs.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from saml_middleware.devidp.idp import DEFAULT_TENANT_ID

from ..support.needs import CHROMIUM, find_program, unavailable
from ..support.servers import CLI, free_port, server

pytestmark = pytest.mark.needs("playwright", "chromium")

ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The demo app's and the dev IdP's base URLs, on different sites."""
    port, idp_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("browser-demo") / "log.txt"
    args = [
        *CLI, "demo", "--port", str(port), "--idp-port", str(idp_port),
        "--public-host", "localhost", "--idp-public-host", "127.0.0.1",
    ]  # fmt: skip
    with server(args, f"http://127.0.0.1:{idp_port}/", log):
        yield f"http://localhost:{port}", f"http://127.0.0.1:{idp_port}"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import Error, sync_playwright

    binary = find_program(*CHROMIUM)
    manager = sync_playwright()
    playwright = manager.start()
    try:
        try:
            browser = playwright.chromium.launch(executable_path=binary, headless=True, args=ARGS)
        except Error as exc:
            unavailable(f"chromium did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    """A fresh browser profile (own cookie jar) per test."""
    ctx = chromium.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


def _at_idp(page: Any, idp: str) -> None:
    page.wait_for_url(f"{idp}/{DEFAULT_TENANT_ID}/saml2?**")
    assert "Pick an account" in page.content()


def _pick(page: Any, who: str = "B.Simon") -> None:
    page.get_by_role("button", name=re.compile(re.escape(who))).click()


def test_login_lands_on_the_deep_linked_page(sites: tuple[str, str], context: Any) -> None:
    app, idp = sites
    page = context.new_page()
    set_cookies: list[str] = []
    page.on("response", lambda r: set_cookies.extend(filter(None, [r.header_value("set-cookie")])))
    page.goto(f"{app}/api/me?view=deep-link")
    _at_idp(page, idp)
    # the per-login cookie, as sent on plain http: no SameSite attribute, so Chromium's default applies
    sent = [c for c in set_cookies if c.startswith("saml_login_")]
    assert len(sent) == 1 and "samesite" not in sent[0].lower() and "Path=/saml/acs" in sent[0], sent
    pending = [c for c in context.cookies() if c["name"].startswith("saml_login_")]
    assert len(pending) == 1 and pending[0]["domain"] == "localhost", context.cookies()
    _pick(page)  # the IdP page (127.0.0.1) auto-POSTs to the ACS (localhost): a cross-site POST
    page.wait_for_url(f"{app}/api/me?view=deep-link")  # only the login cookie knew this page
    me = page.evaluate("JSON.parse(document.body.innerText)")
    assert me["authenticated"] is True and me["email"] == "b.simon@contoso.com"
    assert not [c for c in context.cookies() if c["name"].startswith("saml_login_")]  # used up
    page.goto(f"{app}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, B.Simon"


def test_two_tabs_log_in_at_once_and_each_lands_on_its_own_page(sites: tuple[str, str], context: Any) -> None:
    app, idp = sites
    first, second = context.new_page(), context.new_page()
    first.goto(f"{app}/?tab=first")
    second.goto(f"{app}/api/me?tab=second")
    _at_idp(first, idp)
    _at_idp(second, idp)  # both logins are pending now, each with its own cookie
    _pick(second)
    second.wait_for_url(f"{app}/api/me?tab=second")
    assert second.evaluate("JSON.parse(document.body.innerText)")["email"] == "b.simon@contoso.com"
    _pick(first)
    first.wait_for_url(f"{app}/?tab=first")
    assert first.get_by_role("heading", level=1).inner_text() == "Hello, B.Simon"


def test_after_signing_out_the_app_asks_for_login_again(sites: tuple[str, str], context: Any) -> None:
    app, idp = sites
    page = context.new_page()
    page.goto(f"{app}/")
    _at_idp(page, idp)
    _pick(page, "Adele Vance")
    page.wait_for_url(f"{app}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Adele Vance"
    page.get_by_role("button", name="Sign out").click()
    # the LogoutRequest goes to the dev IdP, whose LogoutResponse comes back to /saml/sls
    page.wait_for_url(f"{app}/saml/sls?**")
    assert page.get_by_role("heading", level=1).inner_text() == "You are signed out"
    assert not [c for c in context.cookies() if c["name"] == "saml_session"]
    page.goto(f"{app}/api/me")
    _at_idp(page, idp)


def test_idp_initiated_login_from_my_apps(sites: tuple[str, str], context: Any) -> None:
    app, idp = sites
    page = context.new_page()
    page.goto(f"{idp}/")
    page.get_by_role("link", name="B.Simon").click()
    page.wait_for_url(f"{app}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, B.Simon"


# -- the HTTP-POST binding: `demo --sso-binding post`, a dev IdP listing HTTP-POST only ---------------


@pytest.fixture(scope="module")
def post_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    port, idp_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("browser-post-demo") / "log.txt"
    args = [
        *CLI, "demo", "--port", str(port), "--idp-port", str(idp_port), "--sso-binding", "post",
        "--public-host", "localhost", "--idp-public-host", "127.0.0.1",
    ]  # fmt: skip
    with server(args, f"http://127.0.0.1:{idp_port}/", log):
        yield f"http://localhost:{port}", f"http://127.0.0.1:{idp_port}"


def test_post_binding_page_submits_itself_under_its_csp(post_sites: tuple[str, str], context: Any) -> None:
    """Chromium runs the page's one script (allowed by its CSP hash) and reports no violation."""
    app, idp = post_sites
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    posted: list[str] = []
    page.on("request", lambda r: posted.extend([r.url] if r.method == "POST" else []))
    page.goto(f"{app}/api/me?view=post-binding")
    page.wait_for_url(f"{idp}/{DEFAULT_TENANT_ID}/saml2")  # POSTed there: no query string
    assert "Pick an account" in page.content()
    assert posted[0] == f"{idp}/{DEFAULT_TENANT_ID}/saml2"
    assert not [m for m in console if "Content Security Policy" in m], console
    _pick(page)
    page.wait_for_url(f"{app}/api/me?view=post-binding")
    assert page.evaluate("JSON.parse(document.body.innerText)")["email"] == "b.simon@contoso.com"


def test_post_binding_page_without_javascript_has_a_continue_button(
    post_sites: tuple[str, str], chromium: Any
) -> None:
    app, idp = post_sites
    ctx = chromium.new_context(java_script_enabled=False)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        page.goto(f"{app}/")
        assert page.url == f"{app}/"  # nothing ran: the page waits for the user
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(f"{idp}/{DEFAULT_TENANT_ID}/saml2")
        assert "Pick an account" in page.content()
    finally:
        ctx.close()
