"""Connections' setup pages mounted over a gate, for deployments (and tests) that serve them
beside an existing :class:`~saml_middleware.gate.Gate`.

``{PREFIX}/c/{id}/setup...`` goes to :class:`~.connection_setup.ConnectionSetup`; a POST to
``{PREFIX}/c/{id}/acs`` goes to its test sign-in first (:meth:`ConnectionSetup.consume_test`)
and, when it is no test of that browser's, on to the gate; everything else is the gate's.

.. code-block:: python

    middleware = SAMLMiddleware(app, settings=settings)
    middleware.gate = WithConnectionSetup(middleware.gate, ConnectionSetup(settings, registry))
"""

from __future__ import annotations

from typing import Any

from ..http import HTTPRequest, HTTPResponse
from .acs import Resolver, run_here
from .connection_setup import ConnectionSetup
from .gate import Gate

__all__ = ["WithConnectionSetup"]


class WithConnectionSetup:
    """``gate`` with ``setup``'s paths in front; every other attribute is the gate's own.

    :param gate: the gate that serves everything else.
    :param setup: the setup pages and test sign-ins.
    """

    def __init__(self, gate: Gate, setup: ConnectionSetup) -> None:
        self._gate = gate
        self.setup = setup

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gate, name)

    def is_endpoint(self, path: str) -> bool:
        return (
            self.setup.handles(path)
            or self.setup.test.connection_of_acs(path) is not None
            or self._gate.is_endpoint(path)
        )

    def max_body_for(self, path: str) -> int:
        """The larger cap of the setup pages (metadata uploads) on their paths, the gate's elsewhere."""
        return self.setup.max_body_for(path) or self._gate.max_body_for(path)

    def handle_endpoint(self, request: HTTPRequest, resolve: Resolver = run_here) -> HTTPResponse:
        if self.setup.handles(request.path):
            return self.setup(request, resolve)
        if request.method == "POST":
            tested = self.setup.consume_test(request, resolve)
            if tested is not None:
                return tested
        return self._gate.handle_endpoint(request, resolve)
