"""What the adapters (asgi.py, wsgi.py, serve/) ask of a gate: :class:`RequestGate`.

Two gates answer it: :class:`~saml_middleware.gate.Gate` (one IdP, from ``SAML_*``) and
:class:`~saml_middleware.gate.tenants.TenantGate` (many connections, one per customer).
:func:`open_gate` picks one; adapters never branch on which.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..config import Settings
from ..connections import ConnectionLookup, RefreshingLookup, open_lookup
from ..errors import StoreUnavailable
from ..http import HTTPRequest, HTTPResponse
from ..sessions import Session, SessionManager
from ..user import SAMLUser
from .access_guard import GateAccess
from .acs import Resolver, run_here
from .identity_headers import IdentityHeaders
from .probes import Probes

__all__ = ["RequestGate", "open_gate"]


class RequestGate(Protocol):
    """The decisions an adapter needs, per request (see :class:`~saml_middleware.gate.Gate`)."""

    settings: Settings
    configured: bool
    authenticate_blocks: bool
    identity_headers: IdentityHeaders
    #: the session manager (one for the whole site)
    sessions: SessionManager

    @property
    def access(self) -> GateAccess:
        """Who may reach what once signed in (access_guard.py)."""

    #: epoch seconds (tests freeze it)
    clock: Callable[[], float]
    #: ``{prefix}/health``, answered on the event loop by ASGI (``probes.health``)
    health_path: str
    probes: Probes
    #: the start of a cookie session kept in the store (reading it does I/O), or ``None``
    stored_marker: bytes | None

    def is_endpoint(self, path: str) -> bool: ...

    def is_public(self, path: str) -> bool: ...

    def max_body_for(self, path: str) -> int: ...

    def passes_through(self, host: str | None) -> bool: ...

    def session(
        self, cookie_header_value: str | bytes | None, host: str | None = None
    ) -> tuple[Session, str | None] | None: ...

    def authenticate(self, cookies: str | bytes | Mapping[str, str] | None) -> SAMLUser | None: ...

    def logout_url(self, session: Session) -> str: ...

    def challenge(self, request: HTTPRequest) -> HTTPResponse: ...

    def unavailable(self, request: HTTPRequest, error: StoreUnavailable) -> HTTPResponse: ...

    def handle_endpoint(self, request: HTTPRequest, resolve: Resolver = run_here) -> HTTPResponse: ...


def open_gate(
    settings: Settings, connections: ConnectionLookup | None = None, **gate_options: Any
) -> RequestGate:
    """The gate for ``settings``: many tenants when ``connections`` is given (or
    ``SAML_CONNECTIONS`` is set), else the single env IdP.

    :param connections: where connections are looked up (an injected lookup wins over
        ``SAML_CONNECTIONS``).
    :param gate_options: passed to the gate (``clock=``, ``token=``, ``directory=``, ``replay=``;
        ``setup=`` and ``pool_size=`` with connections).
    :raises ConfigError: ``SAML_CONNECTIONS`` is set but cannot be opened here.
    """
    from .gate import Gate

    if connections is None and settings.connections:
        connections = open_lookup(settings)  # the registry named by SAML_CONNECTIONS
    if connections is None:
        return Gate(settings, **gate_options)
    from .connection_setup import ConnectionSetup
    from .tenants import TenantGate

    if "setup" not in gate_options and isinstance(connections, RefreshingLookup):
        # the customer admins' self-service pages write to the same registry
        clock, token = gate_options.get("clock", time.time), gate_options.get("token", secrets.token_urlsafe)
        gate_options["setup"] = ConnectionSetup(settings, connections.registry, clock=clock, token=token)
    return TenantGate(settings, connections, **gate_options)
