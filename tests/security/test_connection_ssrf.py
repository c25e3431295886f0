"""A connection's metadata URL (typed by a customer on the setup page, or through the API) is
fetched through the SSRF guard every time: when its gate is first built and at every refresh
(DNS may have changed since the URL was saved: rebinding). Inside addresses, redirects there and
``http://`` are never fetched; that connection's sign-in answers 503 with a log line naming the
refusal, and the other connections keep working. A real https server on loopback (allowed only
with ``SAML_SETUP_ALLOW_PRIVATE_METADATA``) serves the metadata."""

from __future__ import annotations

import functools
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from saml_middleware.connections.safefetch import fetch_public_metadata

from ..support.harness import Clock
from ..support.metadataserver import MetadataServer
from ..support.tenants import TenantBrowser, Tenants

MakeApp = Callable[..., tuple[Any, Any, Tenants]]
NewBrowser = Callable[[Any, Tenants], TenantBrowser]
#: what the test's DNS answers (anything else does not resolve)
NAMES = {"localhost": "127.0.0.1", "metadata.test": "169.254.169.254", "intranet.test": "10.0.0.7"}


def resolver(table: dict[str, str]) -> Callable[..., list[tuple[Any, ...]]]:
    def resolve(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host.replace(".", "").isdigit():  # an address in the URL: itself, as getaddrinfo answers
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]

    return resolve


@pytest.fixture
def servers(tmp_path: Path, idp_keys: tuple[str, str], clock: Clock) -> Iterator[dict[str, MetadataServer]]:
    """IdP A's metadata over https, and the same over plain http, both on loopback."""
    from saml_middleware.devidp import DevIdP

    from ..support.tenants import IDP_A, TENANT_A

    metadata = DevIdP(IDP_A, tenant_id=TENANT_A, key_pem=idp_keys[0], cert_pem=idp_keys[1]).metadata_xml()
    (tmp_path / "https").mkdir()
    (tmp_path / "http").mkdir()
    made = {
        "https": MetadataServer(metadata, tmp_path / "https"),
        "http": MetadataServer(metadata, tmp_path / "http", tls=False),
    }
    yield made
    for server in made.values():
        server.close()


def app_with_acme_at(
    make_tenant_app: MakeApp, server: MetadataServer, url: str, *, allow_private: bool, **names: str
) -> tuple[Any, Tenants]:
    """Two connections; acme's IdP given by ``url`` (fetched with the test's DNS and trust)."""
    fetch = functools.partial(
        fetch_public_metadata,
        context=server.trust,
        resolve=resolver({**NAMES, **names}),
        allow_private=allow_private,
    )
    app, _, tenants = make_tenant_app(gate={"fetch": fetch}, setup_allow_private_metadata=allow_private)
    tenants.update("acme", idp_metadata="", idp_metadata_url=url)
    return app, tenants


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("connection acme:")]


@pytest.mark.parametrize(
    ("url", "allow_private", "why"),
    [
        ("https://localhost:{https}/md", False, "127.0.0.1 is a loopback address"),
        ("https://metadata.test:{https}/md", True, "169.254.169.254 is a link-local address"),
        ("https://intranet.test:{https}/md", False, "10.0.0.7 is a private address"),
        ("https://localhost:{https}/inside", True, "169.254.169.254 is a link-local address"),  # redirect
        ("http://localhost:{http}/md", True, "must start with https://"),
    ],
    ids=["loopback", "cloud-metadata", "private", "redirect-inside", "plain-http"],
)
def test_an_inside_metadata_url_is_never_fetched_and_only_its_connection_is_down(
    make_tenant_app: MakeApp,
    tenant_browser: NewBrowser,
    servers: dict[str, MetadataServer],
    caplog: pytest.LogCaptureFixture,
    url: str,
    allow_private: bool,
    why: str,
) -> None:
    https, http = servers["https"], servers["http"]
    target = url.format(https=https.port, http=http.port)
    app, tenants = app_with_acme_at(make_tenant_app, https, target, allow_private=allow_private)
    browser = tenant_browser(app, tenants)
    with caplog.at_level(logging.INFO, logger="saml_middleware"):
        answer = browser.get("/saml/login?email=b.simon@contoso.com")
        assert answer.status_code == 503 and "not working at the moment" in answer.text
        assert browser.get("/saml/c/acme/login").status_code == 503
    lines = refusals(caplog)  # one per attempt: a failed gate is not kept, the next request retries
    assert len(lines) == 2 and all("could not be set up" in line and why in line for line in lines)
    # nothing fetched: at most the redirect itself, never its inside target, never plain http
    assert http.hits == [] and set(https.hits) <= {"/inside"}
    # the other connection is not affected
    signed_in = browser.login(browser.get("/saml/login?email=kim@fabrikam.com"), "kim@fabrikam.com")
    assert signed_in.status_code == 303
    assert browser.get("/").json()["connection"] == "beta"


def test_a_loopback_metadata_url_works_with_the_operator_setting(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, servers: dict[str, MetadataServer]
) -> None:
    https = servers["https"]
    app, tenants = app_with_acme_at(make_tenant_app, https, https.url("/hop"), allow_private=True)
    browser = tenant_browser(app, tenants)
    signed_in = browser.login(browser.get("/saml/login?email=b.simon@contoso.com"), "b.simon@contoso.com")
    assert signed_in.status_code == 303, signed_in.text
    seen = browser.get("/").json()
    assert (seen["user"], seen["connection"]) == ("b.simon@contoso.com", "acme")
    assert https.hits == ["/hop", "/md"]  # the redirect followed, once vetted


def test_a_refresh_is_vetted_again_when_the_name_now_points_inside(
    make_tenant_app: MakeApp,
    tenant_browser: NewBrowser,
    servers: dict[str, MetadataServer],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DNS rebinding: the name passed when the gate was built, then answers the cloud metadata address."""
    https = servers["https"]
    table = dict(NAMES)
    fetch = functools.partial(
        fetch_public_metadata, context=https.trust, resolve=resolver(table), allow_private=True
    )
    app, _, tenants = make_tenant_app(gate={"fetch": fetch}, setup_allow_private_metadata=True)
    tenants.update("acme", idp_metadata="", idp_metadata_url=https.url("/md"))
    browser = tenant_browser(app, tenants)
    assert browser.login(browser.get("/saml/c/acme/login"), "b.simon@contoso.com").status_code == 303
    assert https.hits == ["/md"]
    table["localhost"] = "169.254.169.254"  # the attacker's DNS now answers inside
    clock.advance(86400 + 1)  # SAML_IDP_METADATA_REFRESH
    with caplog.at_level(logging.INFO, logger="saml_middleware"):
        other = tenant_browser(app, tenants)  # the refresh runs when a login starts
        assert other.login(other.get("/saml/c/acme/login"), "b.simon@contoso.com").status_code == 303
    assert https.hits == ["/md"]  # never fetched again; the last good metadata kept
    (warning,) = [r.getMessage() for r in caplog.records if "refresh from" in r.getMessage()]
    assert warning.startswith("connection acme: refresh from https://localhost:")
    assert "169.254.169.254 is a link-local address" in warning


def test_the_operator_setting_is_what_lets_a_connection_reach_loopback(
    make_tenant_app: MakeApp,
    tenant_browser: NewBrowser,
    servers: dict[str, MetadataServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The default fetch (no injection): without the setting the address is refused; with it the
    address passes and TLS is still verified (the test server's certificate is not a system CA's)."""
    url = servers["https"].url("/md")
    with caplog.at_level(logging.INFO, logger="saml_middleware"):
        for allowed, why in ((False, "127.0.0.1 is a loopback address"), (True, "TLS failed")):
            app, _, tenants = make_tenant_app(setup_allow_private_metadata=allowed)
            tenants.update("acme", idp_metadata="", idp_metadata_url=url)
            browser = tenant_browser(app, tenants)
            assert browser.get("/saml/c/acme/login").status_code == 503
            assert why in refusals(caplog)[-1]
    assert servers["https"].hits == []  # the TLS handshake failed before any request


def test_a_failing_metadata_url_is_tried_again_only_after_a_pause(
    make_tenant_app: MakeApp,
    tenant_browser: NewBrowser,
    servers: dict[str, MetadataServer],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dead customer IdP costs one fetch per 30 s, not one per sign-in (each would hold a worker
    thread up to the fetch's time-out); a fixed record is tried at once."""
    https = servers["https"]
    app, tenants = app_with_acme_at(make_tenant_app, https, https.url("/nothing"), allow_private=True)
    browser = tenant_browser(app, tenants)
    with caplog.at_level(logging.INFO, logger="saml_middleware"):
        for _ in range(3):
            assert browser.get("/saml/c/acme/login").status_code == 503
    assert https.hits == ["/nothing"]  # one fetch: the next sign-ins answer from that failure
    lines = refusals(caplog)
    assert len(lines) == 3 and "failed 0 s ago" in lines[-1]  # still one log line per refusal
    clock.advance(31)
    assert browser.get("/saml/c/acme/login").status_code == 503
    assert https.hits == ["/nothing", "/nothing"]
    tenants.update("acme", idp_metadata_url=https.url("/md"))  # its admin fixes the URL
    assert browser.get("/saml/c/acme/login").status_code == 302
    assert https.hits[-1] == "/md"
