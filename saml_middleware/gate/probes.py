"""``{prefix}/health`` (liveness) and ``{prefix}/ready`` (readiness), for load balancers and Kubernetes.

* ``/health``: 200 whenever the process runs. It never touches the store or a worker thread:
  the ASGI adapter answers it on the event loop (:meth:`Probes.health`), so a hung Redis cannot
  make every instance fail its liveness probe at once and be restarted for nothing.
* ``/ready``: 200 when the store answers ``PING`` and takes a namespaced ``SET NX``/``DEL``
  within its deadline (0.5 s), else 503 ``{"status": "unavailable", "reason": ...}``, with
  the reason codes of :data:`saml_middleware.stores.ready.REASONS`; the detail (addresses) goes
  to the log only, at most once every 10 seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..http import HTTPRequest, HTTPResponse
from ..pages import page
from ..stores.ready import Readiness

__all__ = ["Probes", "StoreOutage", "store_down"]

logger = logging.getLogger("saml_middleware")


class Probes:
    """The two probe endpoints.

    :param readiness: the store's probe (:attr:`saml_middleware.stores.Stores.ready`).
    :param clock: epoch seconds (log throttling).
    """

    def __init__(self, readiness: Callable[[], Readiness], clock: Callable[[], float] = time.time) -> None:
        self.readiness = readiness
        self.clock = clock
        self._logged = 0.0

    def health(self, request: HTTPRequest | None = None, resolve: object = None) -> HTTPResponse:
        """Liveness: always 200 ``{"status": "ok"}``, cheap, no I/O."""
        return HTTPResponse.json(200, {"status": "ok"})

    def ready(self, request: HTTPRequest | None = None, resolve: object = None) -> HTTPResponse:
        """Readiness: 200 ``{"status": "ready"}`` or 503 with a ``reason``."""
        result = self.readiness()
        if not result.ok:
            now = self.clock()
            if now - self._logged >= 10:
                self._logged = now
                logger.error("SAML store not ready reason=%s: %s", result.reason, result.detail)
        headers = {} if result.ok else {"retry-after": "5"}
        return HTTPResponse.json(200 if result.ok else 503, result.as_json(), headers)


def store_down(request: HTTPRequest) -> HTTPResponse:
    """503 while the session store is down: an HTML page for browsers, JSON otherwise."""
    if "text/html" in request.headers.get("accept", ""):
        body = page("Temporarily unavailable", "Sign-in is unavailable. Please try again in a minute.")
        response = HTTPResponse.html(503, body)
        response.headers.append(("retry-after", "5"))
        return response
    return HTTPResponse.json(503, {"error": "store_unavailable"}, {"retry-after": "5"})


class StoreOutage:
    """``gate.unavailable(request, error)``: :func:`store_down` while the session store is down,
    logged at most once every 10 seconds so an outage does not flood the log.

    :param counted: counts each 503 (the ``store_errors`` metric).
    :param clock: epoch seconds.
    """

    def __init__(self, counted: Callable[[], None], clock: Callable[[], float]) -> None:
        self.counted = counted
        self.clock = clock
        self._logged = 0.0

    def __call__(self, request: HTTPRequest, error: Exception) -> HTTPResponse:
        self.counted()
        now = self.clock()
        if now - self._logged >= 10:
            self._logged = now
            logger.error("SAML session store unavailable (answering 503): %s", error)
        return store_down(request)
