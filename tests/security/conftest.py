"""Fixtures of the mutation suite: a started login, on the ``adapter``-parametrised app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.connections import Connection, ConnectionIndex
from saml_middleware.devidp import DevIdP
from saml_middleware.stores import ReplayCache

from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app, wsgi_app
from .helpers import Flow


@pytest.fixture
def start_flow(
    make_app: Callable[..., Any],
    browser_factory: Callable[..., Browser],
    idp: DevIdP,
    caplog: pytest.LogCaptureFixture,
    adapter: str,
    clock: Clock,
    settings_factory: Callable[..., Any],
) -> Callable[..., Flow]:
    """``start_flow(path="/", next_path=None, replay=None, real_clock=False, **settings)``.

    Builds the app (with ``make_app``, the frozen clock injected), starts a login (by asking for
    ``path``, or through ``/saml/login?next=<next_path>``) and stops at the IdP's auto-post form.
    ``replay`` hands the middleware that replay cache; ``real_clock`` injects no clock at all (the
    production wiring) and uses a dev IdP on real time with the same keys.
    """
    caplog.set_level(logging.INFO, logger="saml_middleware")

    def build(
        *, replay: ReplayCache | None, real_clock: bool, connection: bool = False, **settings: Any
    ) -> tuple[Any, Seen]:
        seen = Seen()
        options: dict[str, Any] = {"settings": settings_factory(**settings)}
        if not real_clock:
            options["clock"] = clock
        if replay is not None:
            options["replay"] = replay
        if connection:  # the same IdP, as connection acme on this host
            metadata = idp.metadata_xml().decode()
            acme = Connection("acme", domains=("contoso.com",), hosts=("app.test",), idp_metadata=metadata)
            options["connections"] = ConnectionIndex([acme])
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), **options), seen
        return SAMLWSGIMiddleware(wsgi_app(seen), **options), seen

    def start(
        path: str = "/",
        *,
        next_path: str | None = None,
        replay: ReplayCache | None = None,
        real_clock: bool = False,
        connection: bool = False,
        **settings: Any,
    ) -> Flow:
        if replay is None and not real_clock and not connection:
            app, seen = make_app(**settings)
        else:
            app, seen = build(replay=replay, real_clock=real_clock, connection=connection, **settings)
        the_idp = idp
        if real_clock:  # the production wiring: no clock injected anywhere, the same IdP keys
            the_idp = DevIdP(
                IDP,
                key_pem=idp.key_pem,
                cert_pem=idp.cert_pem,
                sp_acs_url=f"{APP}/saml/acs",
                sp_entity_id=f"{APP}/saml/metadata",
            )
        browser = browser_factory(app, the_idp)
        if next_path is None:
            redirect = browser.start(path)
        else:
            redirect = browser.app.get("/saml/login", params={"next": next_path})
            assert redirect.status_code == 302, redirect.text
        action, fields = browser.idp_form(redirect)
        flow = Flow(browser, seen, caplog, the_idp, action, fields, lambda: browser_factory(app, the_idp))
        if connection:
            flow.acs_url, flow.sp_entity_id = f"{APP}/saml/c/acme/acs", f"{APP}/saml/c/acme/metadata"
            assert action == flow.acs_url
        return flow

    return start


@pytest.fixture
def flow(start_flow: Callable[..., Flow], request: pytest.FixtureRequest) -> Flow:
    """A login to ``/`` with the default settings, the IdP's signed response in hand; through
    connection ``acme`` when parametrised so (``CONNECTION_TOO`` in helpers.py)."""
    return start_flow(connection=getattr(request, "param", "env") == "connection")
