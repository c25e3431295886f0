"""Shared fixtures: the dev IdP, a frozen clock, both adapters, a browser that logs in, real
servers; and the ``needs`` marker (tests/support/needs.py). What is not a fixture lives in
tests/support/ (harness.py: the tenant, the wrapped apps, the Browser)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.devidp import DevIdP

from .support.asgiclient import asgi_client
from .support.harness import (
    APP,
    IDP,
    SECRET,
    AdapterFactory,
    Browser,
    Clock,
    Seen,
    asgi_app,
    client_for,
    tenant_idp,
    wsgi_app,
)
from .support.needs import missing, unavailable
from .support.postgres import PostgresServer
from .support.redisserver import RedisServer
from .support.servers import CLI, free_port, server
from .support.tenants import IDP_A, IDP_B, TenantBrowser, Tenants, Visits, tenant_asgi_app, tenant_wsgi_app

#: fixtures that start a real program: a test using one needs it (added to its ``needs`` marker)
FIXTURE_NEEDS = {"redis_server": "redis-server", "postgres_server": "postgresql"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, program in FIXTURE_NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.needs(program))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture runs: every program of every ``needs`` marker is here, or skip/fail."""
    for mark in item.iter_markers("needs"):
        for requirement in mark.args:
            reason = missing(requirement)
            if reason is not None:
                unavailable(reason)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def idp_keys() -> tuple[str, str]:
    from saml_middleware.devidp import generate_keypair

    return generate_keypair("test IdP")


@pytest.fixture
def idp(clock: Clock, idp_keys: tuple[str, str]) -> DevIdP:
    return tenant_idp(idp_keys, clock)


@pytest.fixture
def settings_factory(idp: DevIdP) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "base_url": APP,
            "secret_key": ("test-secret-key-0123456789abcdef",),
            "idp_metadata": idp.metadata_xml().decode("utf-8"),
            "public_paths": ("/public",),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_app(adapter: str, clock: Clock, settings_factory: Callable[..., Settings]) -> AdapterFactory:
    """Build the wrapped app for the current adapter: ``make_app(**settings) -> (app, seen)``."""

    def make(directory: Any = None, **overrides: Any) -> tuple[Any, Seen]:
        seen = Seen()
        settings = settings_factory(**overrides)
        options: dict[str, Any] = {"clock": clock}
        if directory is not None:
            options["directory"] = directory
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, **options), seen
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, **options), seen

    return make


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    """Clients to close at teardown (an ASGI client owns an event-loop thread)."""
    made: list[httpx.Client] = []
    yield made
    for c in made:
        c.close()


@pytest.fixture
def browser_factory(adapter: str, idp: DevIdP, clients: list[httpx.Client]) -> Callable[..., Browser]:
    """``browser_factory(app, idp=None)``: a new browser (own cookie jar) for ``app``."""

    def make(app: Any, other_idp: DevIdP | None = None) -> Browser:
        the_idp = other_idp or idp
        app_client = client_for(app, adapter)
        idp_client = asgi_client(the_idp.app, IDP)
        clients.extend([app_client, idp_client])
        return Browser(app_client, idp_client, the_idp)

    return make


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, idp: DevIdP, tmp_path: Path) -> Path:
    """A clean ``SAML_*`` environment for commands: base URL, secret key, the dev IdP's metadata file."""
    for name in list(os.environ):
        if name.startswith("SAML_"):
            monkeypatch.delenv(name)
    metadata = tmp_path / "FederationMetadata.xml"
    metadata.write_bytes(idp.metadata_xml())
    monkeypatch.setenv("SAML_BASE_URL", "http://app.test")
    monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAML_IDP_METADATA_FILE", str(metadata))
    return tmp_path


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, one per test module (fails under CI=true if absent)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster on a free loopback port for the session (fails under CI=true if absent)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://...`` of a new, empty database (one per test)."""
    return postgres_server.database()


@pytest.fixture(scope="session")
def dev_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``saml-middleware dev-idp`` on a free port for the whole session; yields its metadata URL."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("dev-idp")
    args = [*CLI, "dev-idp", "--idp-port", str(port), "--public-host", "127.0.0.1", "--key-dir", str(tmp)]
    with server(args, f"http://127.0.0.1:{port}/", tmp / "log.txt"):
        banner = (tmp / "log.txt").read_text()
        yield next(w for w in banner.split() if w.endswith("federationmetadata.xml"))


# -- many tenants (tests/support/tenants.py) --------------------------------------------------
@pytest.fixture(scope="session")
def second_idp_keys() -> tuple[str, str]:
    """The key pair of a second customer's IdP (Fabrikam's tenant)."""
    from saml_middleware.devidp import generate_keypair

    return generate_keypair("second tenant IdP")


@pytest.fixture
def make_tenant_app(
    adapter: str, clock: Clock, idp_keys: tuple[str, str], second_idp_keys: tuple[str, str]
) -> Callable[..., tuple[Any, Visits, Tenants]]:
    """``make_tenant_app(hosts=False, connections={}, **settings) -> (app, visits, tenants)``: the
    current adapter over two connections (acme: contoso.com at IdP A; beta: fabrikam.com at IdP B)."""

    def make(
        *, hosts: bool = False, connections: dict[str, Any] | None = None, gate: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> tuple[Any, Visits, Tenants]:  # fmt: skip
        tenants = Tenants.make(idp_keys, second_idp_keys, clock, hosts=hosts, **(connections or {}))
        settings = Settings(base_url=APP, secret_key=("test-secret-key-0123456789abcdef",), **overrides)
        options: dict[str, Any] = {"clock": clock, "connections": tenants.lookup, **(gate or {})}
        visits = Visits()
        if adapter == "asgi":
            return SAMLMiddleware(tenant_asgi_app(visits), settings=settings, **options), visits, tenants
        return SAMLWSGIMiddleware(tenant_wsgi_app(visits), settings=settings, **options), visits, tenants

    return make


@pytest.fixture
def tenant_browser(adapter: str, clients: list[httpx.Client]) -> Callable[[Any, Tenants], TenantBrowser]:
    """``tenant_browser(app, tenants)``: a new browser (own cookie jar) for ``app`` and both IdPs."""

    def make(app: Any, tenants: Tenants) -> TenantBrowser:
        made = [
            client_for(app, adapter),
            asgi_client(tenants.idp_a.app, IDP_A),
            asgi_client(tenants.idp_b.app, IDP_B),
        ]
        clients.extend(made)
        return TenantBrowser(made[0], [(tenants.idp_a, made[1]), (tenants.idp_b, made[2])])

    return make
