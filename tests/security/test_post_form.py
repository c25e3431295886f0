"""The page that sends an AuthnRequest on the HTTP-POST binding (``gate/postform.py``): its one
inline script is the one the CSP hash allows, nothing else can run, nothing the browser sent is
reflected, every value is escaped, and the form goes only to the IdP's login URL."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from html.parser import HTMLParser

import httpx
import pytest

from saml_middleware.devidp import auto_post_form_fields
from saml_middleware.gate.postform import post_form

from ..support.harness import AdapterFactory, Browser

HOSTILE_SSO = 'https://idp.example/sso?a="><script>alert(1)</script>&b=<img src=x onerror=alert(2)>'


class _Page(HTMLParser):
    """Every script and style body, every attribute, and the elements in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag in ("script", "style"):
            self._open = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script":
            self.scripts[-1] += data
        elif self._open == "style":
            self.styles[-1] += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    directives = [d.split() for d in response.headers["content-security-policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def _check_page(response: httpx.Response) -> _Page:
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    page = _parse(response.text)
    policy = _policy(response)
    # exactly one inline script, allowed by its exact hash; nothing else may run or load
    assert len(page.scripts) == 1 and policy["script-src"] == [_sha256(page.scripts[0])]
    assert len(page.styles) == 1 and policy["style-src"] == [_sha256(page.styles[0])]
    assert policy["default-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and response.headers["x-frame-options"] == "DENY"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert not [name for name, _ in page.attributes if name.startswith("on")]  # no event handlers
    assert not [v for _, v in page.attributes if v.strip().lower().startswith(("javascript:", "data:"))]
    assert page.tags.count("form") == 1 and "noscript" in page.tags and "base" not in page.tags
    return page


@pytest.fixture
def post_browser(make_app: AdapterFactory, browser_factory: Callable[..., Browser]) -> Callable[..., Browser]:
    def make(**settings: object) -> Browser:
        return browser_factory(make_app(authn_request_binding="post", **settings)[0])

    return make


def test_the_csp_hash_is_the_inline_script_and_nothing_is_reflected(
    post_browser: Callable[..., Browser],
) -> None:
    browser = post_browser()
    hostile = '/x"><script>alert(1)</script><img src=x onerror=alert(2)>'
    response = browser.app.get(hostile, headers={"accept": "text/html"})
    page = _check_page(response)
    assert page.scripts == ["document.forms[0].submit();"]
    assert "alert" not in response.text and "onerror" not in response.text  # the path lives in the cookie
    action, fields = auto_post_form_fields(response.text)
    assert action == browser.idp.sso_url
    assert set(fields) == {"SAMLRequest", "RelayState"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", fields["RelayState"])  # our random key, never a URL
    assert base64.b64decode(fields["SAMLRequest"], validate=True).startswith(b"<ns0:AuthnRequest")


def test_a_hostile_login_url_is_escaped_and_still_the_only_target(
    post_browser: Callable[..., Browser], idp_keys: tuple[str, str]
) -> None:
    """Configuration is trusted, but even a login URL full of markup stays one attribute value."""
    browser = post_browser(
        idp_metadata="",
        idp_sso_url=HOSTILE_SSO,
        idp_entity_id="https://idp.example",
        idp_cert=(idp_keys[1],),
    )
    response = browser.app.get("/", headers={"accept": "text/html"})
    page = _check_page(response)
    assert [v for n, v in page.attributes if n == "action"] == [HOSTILE_SSO]
    assert "<script>alert" not in response.text and "<img" not in response.text


def test_the_form_never_targets_a_script_url() -> None:
    with pytest.raises(ValueError, match="not an http"):
        post_form("javascript:alert(1)", {"SAMLRequest": "PHg+"})
