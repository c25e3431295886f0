"""``TenantGate.access``: each session is judged by the access rules of its own connection.

A connection's rules (``allowed_groups``, ``allowed_roles``, ``access_rules`` in its settings,
or the deployment's ``SAML_*`` values it inherits) live in the ``AccessGuard`` of its own
``Gate`` (:mod:`.tenantpool`): per request, one connection lookup and one pool lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..access import ALLOW, Decision
from ..connections import ConnectionLookup
from ..http import HTTPRequest, HTTPResponse
from ..sessions import Session
from ..user import SAMLUser
from .access_guard import AccessGuard
from .tenantpool import GatePool

__all__ = ["TenantAccess"]


class TenantAccess:
    """The :class:`~saml_middleware.gate.access_guard.GateAccess` of a deployment with connections.

    :param pool: the per-connection gates.
    :param connections: where a session's connection is found.
    """

    #: connections may each have rules: adapters always ask (a connection without any answers ALLOW)
    active = True
    methods_matter = True

    def __init__(self, pool: GatePool, connections: ConnectionLookup) -> None:
        self.pool = pool
        self.connections = connections

    def _guard(self, user: SAMLUser) -> AccessGuard | None:
        conn = self.connections.get(user.connection)
        if conn is None:  # the session check refuses such a session before it gets here
            return None
        guard = self.pool.gate(conn).access
        return guard if guard.active else None

    def decide(
        self, method: str, path: str, user: SAMLUser, now: float, overrides: Sequence[str] = ()
    ) -> Decision:
        guard = self._guard(user)
        return ALLOW if guard is None else guard.decide(method, path, user, now, overrides)

    def respond(self, request: HTTPRequest, decision: Decision, session: Session) -> HTTPResponse:
        guard = self._guard(session.user)
        if guard is None:  # the connection went away between decide and respond
            return HTTPResponse.json(403, {"error": "forbidden", "reason": "forbidden"})
        return guard.respond(request, decision, session)

    def audit(self, request: HTTPRequest | None, decision: Decision, user: SAMLUser) -> None:
        guard = self._guard(user)
        if guard is not None:
            guard.audit(request, decision, user)

    def forward(self, request: HTTPRequest, method: str, path: str, session: Session) -> HTTPResponse | None:
        guard = self._guard(session.user)
        return None if guard is None else guard.forward(request, method, path, session)
