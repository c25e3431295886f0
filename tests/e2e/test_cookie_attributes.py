"""The cookies' names and attributes as a browser reads them (parsed, never matched as substrings).

A browser enforces what the attributes say: ``__Host-`` pins the session cookie to this host (a
sibling subdomain cannot plant one), ``Secure`` keeps it off plain http, ``HttpOnly`` keeps it away
from scripts, ``Max-Age`` ends it. Each case drives a real login through both adapters and reads
every ``Set-Cookie`` header attribute by attribute; ``"Secure" in header`` would be satisfied by
the ``__Secure-`` prefix alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.devidp import DevIdP

from ..support.harness import HTML, IDP, Browser, Clock, Seen, asgi_app, client_for, wsgi_app

HTTPS_APP = "https://app.test"


@dataclass(frozen=True)
class SetCookie:
    """One ``Set-Cookie`` header, split as RFC 6265 section 5.2 reads it."""

    name: str
    value: str
    attributes: dict[str, str]  # lower-case attribute name -> value ("" for a flag)

    @classmethod
    def parse(cls, header: str) -> SetCookie:
        pair, *rest = header.split(";")
        name, _, value = pair.partition("=")
        attributes: dict[str, str] = {}
        for item in rest:
            key, _, val = item.strip().partition("=")
            attributes[key.strip().lower()] = val.strip()
        return cls(name.strip(), value.strip(), attributes)

    @property
    def secure(self) -> bool:
        return "secure" in self.attributes

    @property
    def deletes(self) -> bool:
        return self.attributes.get("max-age") == "0"


def set_cookies(response: httpx.Response) -> list[SetCookie]:
    return [SetCookie.parse(h) for h in response.headers.get_list("set-cookie")]


@pytest.fixture
def https_app(adapter: str, clock: Clock, settings_factory: Callable[..., Any]) -> tuple[Any, Seen]:
    """The wrapped app behind ``https://app.test`` (``SAML_BASE_URL`` is https)."""
    settings = settings_factory(base_url=HTTPS_APP)
    seen = Seen()
    if adapter == "asgi":
        return SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock), seen
    return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock), seen


@pytest.fixture
def https_idp(idp: DevIdP, clock: Clock) -> DevIdP:
    """The dev IdP (same keys) answering to the https ACS."""
    return DevIdP(
        IDP,
        key_pem=idp.key_pem,
        cert_pem=idp.cert_pem,
        clock=clock,
        sp_acs_url=f"{HTTPS_APP}/saml/acs",
        sp_entity_id=f"{HTTPS_APP}/saml/metadata",
    )


@pytest.fixture
def https_browser(
    https_app: tuple[Any, Seen],
    https_idp: DevIdP,
    adapter: str,
    clients: list[httpx.Client],
    browser_factory: Callable[..., Browser],
) -> Callable[[], Browser]:
    def make() -> Browser:
        browser = browser_factory(https_app[0], https_idp)
        browser.app.close()
        browser.app = client_for(https_app[0], adapter, HTTPS_APP)
        clients.append(browser.app)
        return browser

    return make


def test_https_login_cookie_is_secure_host_only_to_the_acs_and_short_lived(https_browser) -> None:
    redirect = https_browser().start("/")
    cookies = set_cookies(redirect)
    (login,) = [c for c in cookies if c.name.startswith("__Secure-saml_login_")]
    # besides it only the small index of pending logins (at most 5 per browser), host-only too
    assert [c.name for c in cookies if c is not login] == ["__Host-saml_logins"]
    assert login.secure, "a login cookie without Secure would travel over plain http"
    assert "httponly" in login.attributes
    assert login.attributes["path"] == "/saml/acs"
    assert login.attributes["samesite"] == "None"
    assert login.attributes["max-age"] == "600" and "expires" not in login.attributes
    assert "domain" not in login.attributes


def test_https_session_cookie_has_the_host_prefix_and_secure_attribute(https_browser, https_app) -> None:
    browser = https_browser()
    done = browser.login("/")
    assert done.status_code == 303
    cookies = {c.name: c for c in set_cookies(done)}
    session = cookies["__Host-saml_session"]  # exactly this name: the prefix is what browsers enforce
    assert session.value and not session.deletes
    assert session.secure and "httponly" in session.attributes
    assert session.attributes["path"] == "/" and "domain" not in session.attributes
    assert session.attributes["samesite"] == "Lax"
    assert session.attributes["max-age"] == "28800"  # SAML_SESSION_MAX_AGE, no longer
    assert "expires" not in session.attributes  # an Expires would be read by browsers ignoring Max-Age
    (consumed,) = [c for c in cookies.values() if c.name.startswith("__Secure-saml_login_")]
    assert consumed.deletes and consumed.secure and consumed.attributes["path"] == "/saml/acs"
    assert consumed.attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert not any(c.name == "saml_session" for c in cookies.values())
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"


def test_https_sign_out_deletes_the_host_prefixed_cookie(https_browser) -> None:
    browser = https_browser()
    assert browser.login("/").status_code == 303
    out = browser.app.post("/saml/logout")
    assert out.status_code == 303
    (cleared,) = [c for c in set_cookies(out) if "saml_session" in c.name]
    assert cleared.name == "__Host-saml_session"  # a deletion under another name deletes nothing
    assert cleared.deletes and cleared.secure and cleared.attributes["path"] == "/"
    assert cleared.attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"  # for browsers without Max-Age
    assert browser.get("/").status_code == 302


def test_http_session_cookie_is_not_marked_secure(make_app, browser_factory) -> None:
    """On plain http a Secure cookie would be dropped by the browser: a login loop."""
    app, _ = make_app()
    browser = browser_factory(app)
    done = browser.login("/")
    (session,) = [c for c in set_cookies(done) if c.name == "saml_session"]
    assert not session.secure and "httponly" in session.attributes
    assert session.attributes["max-age"] == "28800"


def _session_value(browser: Browser) -> tuple[str, str]:
    done = browser.login("/")
    assert done.status_code == 303
    (session,) = [c for c in set_cookies(done) if c.name.endswith("saml_session") and not c.deletes]
    return session.name, session.value


@pytest.mark.parametrize("prefix", ["X", "a", "_", "-", "%"])
def test_a_look_alike_cookie_name_is_not_read_as_the_session(
    https_browser, https_app, adapter, clients, prefix: str
) -> None:
    """Fixation: a sibling subdomain can set ``X__Host-saml_session`` (no prefix rules apply to it)."""
    name, value = _session_value(https_browser())
    assert name == "__Host-saml_session"
    app, seen = https_app
    fresh = client_for(app, adapter, HTTPS_APP)
    clients.append(fresh)
    seen.calls.clear()
    planted = fresh.get("/", headers={**HTML, "cookie": f"other=1; {prefix}{name}={value}"})
    assert planted.status_code == 302 and seen.calls == []
    first = fresh.get("/", headers={**HTML, "cookie": f"{prefix}{name}={value}"})
    assert first.status_code == 302 and seen.calls == []
    for honest in (f"other=1; {name}={value}", f"{name}={value}; later=2; last=3"):
        page = fresh.get("/", headers={**HTML, "cookie": honest})
        assert page.status_code == 200 and page.json()["user"] == "b.simon@contoso.com", honest


def test_the_http_cookie_name_is_not_matched_inside_a_longer_name(
    make_app, browser_factory, adapter, clients
):
    """On http the session is ``saml_session``: ``__Host-saml_session`` or ``xsaml_session`` is not it."""
    app, seen = make_app()
    name, value = _session_value(browser_factory(app))
    assert name == "saml_session"
    fresh = client_for(app, adapter)
    clients.append(fresh)
    seen.calls.clear()
    for planted in (f"__Host-saml_session={value}", f"xsaml_session={value}", f"a=1;xsaml_session={value}"):
        assert fresh.get("/", headers={**HTML, "cookie": planted}).status_code == 302, planted
    assert seen.calls == []
    quoted = fresh.get("/", headers={**HTML, "cookie": f'a=1;saml_session="{value}"; b=2'})
    assert quoted.status_code == 200 and quoted.json()["user"] == "b.simon@contoso.com"
    # two cookies of the name (a parent path's and this one's): the first sent, the most specific, counts
    first = fresh.get("/", headers={**HTML, "cookie": f"saml_session={value}; saml_session=stale"})
    assert first.status_code == 200
    stale = fresh.get("/", headers={**HTML, "cookie": f"saml_session=stale; saml_session={value}"})
    assert stale.status_code == 302
