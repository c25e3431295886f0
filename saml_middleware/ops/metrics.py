"""Prometheus metrics, served at ``{SAML_PATH_PREFIX}/metrics``.

Each :class:`~saml_middleware.gate.Gate` has its own ``CollectorRegistry``
(not prometheus-client's global one), so several middlewares in one process,
and the tests, never collide. Access: ``Authorization: Bearer
$SAML_METRICS_TOKEN`` when the token is set, else loopback clients only.
Every metric is documented in ``docs/operations.md``.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..http import HTTPRequest, HTTPResponse
from .audit import AuditEvent
from .expiry import certificate_statuses

__all__ = ["Metrics", "metrics_access"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Gauges(Collector):
    """The values computed at scrape time: metadata age, certificate expiry, active sessions."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: collecting at registration would read the store and the certificates."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        m = self.m
        now = m.clock()
        loaded_at, failures = m.metadata_state()
        yield GaugeMetricFamily(
            "saml_idp_metadata_age_seconds",
            "Seconds since the IdP metadata in use was last loaded successfully",
            value=max(now - (loaded_at if loaded_at is not None else m.idp_loaded_at), 0.0),
        )
        yield CounterMetricFamily(
            "saml_idp_metadata_refresh_failures",
            "IdP metadata refreshes (SAML_IDP_METADATA_URL) that failed; the last good copy was kept",
            value=failures,
        )
        expiry = GaugeMetricFamily(
            "saml_certificate_expiry_days",
            "Days until a certificate expires (negative: expired)",
            labels=["role", "subject", "sha256"],
        )
        idp_certs, sp_cert = m.certificates()
        for status in certificate_statuses(idp_certs, sp_cert, now):
            expiry.add_metric([status.role, status.subject, status.sha256], round(status.days_left, 3))
        yield expiry
        active = m.active_sessions()
        if active is not None:
            yield GaugeMetricFamily(
                "saml_active_sessions", "Live server-side sessions in this process's store", value=active
            )


class Metrics:
    """The middleware's metrics in a registry of their own.

    :param certificates: returns ``(idp_certificates, sp_certificate)``.
    :param active_sessions: returns the number of live sessions, or ``None`` when unknown.
    :param metadata_state: returns ``(last successful metadata load, refresh failures)``; the load
        time is ``None`` without ``SAML_IDP_METADATA_URL``: the metadata is as old as the process.
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        *,
        certificates: Callable[[], tuple[Iterable[str], str]],
        active_sessions: Callable[[], int | None],
        clock: Callable[[], float],
        metadata_state: Callable[[], tuple[float | None, int]] = lambda: (None, 0),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.certificates = certificates
        self.active_sessions = active_sessions
        self.metadata_state = metadata_state
        self.clock = clock
        #: when the metadata in use was loaded, without a refresher (it never changes then)
        self.idp_loaded_at = clock()
        self.logins = Counter(
            "saml_logins", "Logins at the ACS by result and reason code", ["result", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self.acs_seconds = Histogram(
            "saml_acs_duration_seconds", "Time spent handling a POST to the ACS",
            buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.connection_logins = Counter(
            "saml_connection_logins", "Logins at a connection's ACS by connection, result and reason code",
            ["connection", "result", "reason"], registry=self.registry,
        )  # fmt: skip
        self.logouts = Counter("saml_logouts", "Local logouts", registry=self.registry)
        self.store_errors = Counter(
            "saml_store_errors", "Replay cache / session store operations that failed", registry=self.registry
        )
        self.registry.register(_Gauges(self))

    def record(self, event: AuditEvent) -> None:
        """Count one audited event."""
        if event.event in ("login", "refusal") and event.connection:
            result = "accepted" if event.event == "login" else "refused"
            self.connection_logins.labels(event.connection, result, event.reason or "").inc()
        if event.event == "login":
            self.logins.labels("accepted", "").inc()
        elif event.event == "refusal":
            self.logins.labels("refused", event.reason or "").inc()
            if event.reason == "store_unavailable":
                self.store_errors.inc()
        elif event.event == "logout":
            self.logouts.inc()
        if event.duration is not None:
            self.acs_seconds.observe(event.duration)

    def exposition(self) -> HTTPResponse:
        """The Prometheus text format of every metric."""
        headers = [("content-type", CONTENT_TYPE_LATEST), ("cache-control", "no-store")]
        return HTTPResponse(200, headers, generate_latest(self.registry))


def _is_loopback(client: str | None) -> bool:
    try:
        return client is not None and ipaddress.ip_address(client.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def metrics_access(request: HTTPRequest, token: str) -> HTTPResponse | None:
    """``None`` when ``request`` may read the metrics, else the 401/403 to answer.

    With ``token``: a matching ``Authorization: Bearer`` header (constant-time
    compare), else 401 (missing) or 403 (wrong). Without: loopback clients only.
    """
    headers: dict[str, Any] = {"www-authenticate": 'Bearer realm="saml-metrics"'}
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return HTTPResponse.json(401, {"error": "metrics_token_required"}, headers)
        if not secrets.compare_digest(given.strip().encode(), token.encode()):
            return HTTPResponse.json(403, {"error": "forbidden"})
        return None
    if _is_loopback(request.client):
        return None
    detail = "loopback only: set SAML_METRICS_TOKEN for remote access"
    return HTTPResponse.json(403, {"error": "forbidden", "detail": detail})
