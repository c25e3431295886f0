"""The customer admin's side of a connection's setup page, over real HTTP: an app wrapped by the
middleware with the setup pages mounted (``WithConnectionSetup``), a browser with its own
cookie jar, and the dev IdP as the customer's Entra tenant."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import httpx

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.connections import Connection, ConnectionRegistry, MemoryRegistry
from saml_middleware.connections.setuplink import issue_setup_link
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.connection_setup import ConnectionSetup
from saml_middleware.gate.setup_routes import WithConnectionSetup
from saml_middleware.ops.audit import AuditEvent
from saml_middleware.stores import MemoryReplayCache

from .asgiclient import asgi_client
from .harness import APP, IDP, Browser, Clock, Seen, asgi_app, client_for, wsgi_app

__all__ = ["KEY", "SetupSite", "csrf_of", "pem_body_only", "registry_of_two"]

KEY = "setup-secret-key-0123456789abcdef"


def registry_of_two() -> MemoryRegistry:
    """acme (contoso.com, the dev IdP's users) and beta (fabrikam.com), both disabled, no IdP yet."""
    return MemoryRegistry(
        [
            Connection("acme", name="Acme Corp", enabled=False, domains=("contoso.com",)),
            Connection("beta", name="Beta Ltd", enabled=False, domains=("fabrikam.com",)),
        ]
    )


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return unescape(found[1])


def pem_body_only(pem: str) -> str:
    """Entra's Certificate (Base64) as some admins paste it: the base64 lines, no armour."""
    return "\n".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


class SetupSite:
    """One deployment (``APP``) serving connections' setup pages, and one admin's browser.

    :param adapter: ``"asgi"`` or ``"wsgi"``.
    :param fetch: how metadata URLs are fetched (default: the SSRF-safe fetcher).
    """

    def __init__(
        self,
        adapter: str,
        idp: DevIdP,
        clock: Clock,
        registry: ConnectionRegistry | None = None,
        *,
        fetch: Callable[[str], bytes] | None = None,
        **settings: Any,
    ) -> None:
        self.idp = idp
        self.clock = clock
        self.registry = registry if registry is not None else registry_of_two()
        self.settings = Settings(base_url=APP, secret_key=(KEY,), **settings)
        self.audited: list[AuditEvent] = []
        self.seen = Seen()
        replay = MemoryReplayCache(clock=clock)
        self.setup = ConnectionSetup(
            self.settings, self.registry, clock=clock, replay=replay, audit=self.audited.append, fetch=fetch
        )
        middleware: Any
        if adapter == "asgi":
            middleware = SAMLMiddleware(
                asgi_app(self.seen), settings=self.settings, clock=clock, replay=replay
            )
        else:
            middleware = SAMLWSGIMiddleware(
                wsgi_app(self.seen), settings=self.settings, clock=clock, replay=replay
            )
        middleware.gate = WithConnectionSetup(middleware.gate, self.setup)
        self.app = middleware
        self.client = client_for(middleware, adapter)
        self.idp_client = asgi_client(idp.app, IDP)
        self.browser = Browser(self.client, self.idp_client, idp)

    def close(self) -> None:
        self.client.close()
        self.idp_client.close()

    def link(self, connection_id: str = "acme") -> str:
        return issue_setup_link(self.settings, connection_id, now=self.clock())

    def open(self, connection_id: str = "acme") -> str:
        """Open a fresh setup link; return the page's HTML (the token has left the URL)."""
        url = urlsplit(self.link(connection_id))
        opened = self.client.get(f"{url.path}?{url.query}")
        assert opened.status_code == 303, opened.text
        assert opened.headers["location"] == f"/saml/c/{connection_id}/setup"
        page = self.client.get(opened.headers["location"])
        assert page.status_code == 200, page.text
        return page.text

    def post_idp(self, connection_id: str = "acme", *, files: Any = None, **fields: str) -> httpx.Response:
        return self.client.post(f"/saml/c/{connection_id}/setup/idp", data=fields, files=files)

    def paste(self, csrf: str, cert_text: str, connection_id: str = "acme") -> httpx.Response:
        return self.post_idp(
            connection_id,
            csrf=csrf,
            source="manual",
            sso_url=self.idp.sso_url,
            idp_entity_id=self.idp.entity_id,
            certificate=cert_text,
        )

    def test_sign_in(self, csrf: str, email: str = "b.simon@contoso.com") -> httpx.Response:
        """Test sign-in: to the IdP, pick ``email``, post the response to the connection's ACS."""
        started = self.client.get("/saml/c/acme/setup/test", params={"csrf": csrf})
        assert started.status_code == 302, started.text
        action, fields = self.browser.idp_form(started, email)
        assert urlsplit(action).path == "/saml/c/acme/acs"
        return self.browser.post_acs(action, fields)
