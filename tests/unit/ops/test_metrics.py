"""``ops/metrics.py`` without a middleware: what each audited event counts, and the gauges
computed at scrape time from the injected clock, in a registry of each ``Metrics`` own."""

from __future__ import annotations

import re

import pytest
from cryptography import x509

from saml_middleware.ops.audit import AuditEvent
from saml_middleware.ops.metrics import Metrics
from saml_middleware.protocol.keys import generate_keypair

from ...support.harness import START, Clock


@pytest.fixture(scope="module")
def cert() -> str:
    return generate_keypair("metrics test IdP")[1]


def scrape(metrics: Metrics) -> dict[str, float]:
    """The exposition's samples: ``{'name{labels}': value}``, comments left out."""
    response = metrics.exposition()
    assert response.status == 200
    lines = bytes(response.body).decode().splitlines()
    return {
        name: float(value)
        for name, _, value in (ln.rpartition(" ") for ln in lines if not ln.startswith("#"))
    }


def test_every_audited_event_counts_once_by_result_and_reason(cert: str) -> None:
    clock = Clock()
    metrics = Metrics(certificates=lambda: ([cert], ""), active_sessions=lambda: None, clock=clock)
    for event in (
        AuditEvent("login", START, email="b.simon@contoso.com", duration=0.02),
        AuditEvent("login", START, email="a@contoso.com", duration=0.03),
        AuditEvent("refusal", START, reason="signature_invalid", duration=0.01),
        AuditEvent("refusal", START, reason="store_unavailable"),
        AuditEvent("logout", START),
    ):
        metrics.record(event)
    seen = scrape(metrics)
    assert seen['saml_logins_total{reason="",result="accepted"}'] == 2
    assert seen['saml_logins_total{reason="signature_invalid",result="refused"}'] == 1
    assert seen['saml_logins_total{reason="store_unavailable",result="refused"}'] == 1
    assert seen["saml_store_errors_total"] == 1  # a store outage is also a store error
    assert seen["saml_logouts_total"] == 1
    assert seen["saml_acs_duration_seconds_count"] == 3  # only events that carried a duration
    assert seen['saml_acs_duration_seconds_bucket{le="0.025"}'] == 2
    assert "saml_active_sessions" not in seen  # unknown (cookie sessions): not reported as 0


def test_gauges_follow_the_clock_at_scrape_time(cert: str) -> None:
    clock, sessions = Clock(), [3]
    metrics = Metrics(certificates=lambda: ([cert], cert), active_sessions=lambda: sessions[0], clock=clock)
    not_after = x509.load_pem_x509_certificate(cert.encode()).not_valid_after_utc.timestamp()
    clock.advance(90)
    sessions[0] = 5
    seen = scrape(metrics)
    assert seen["saml_idp_metadata_age_seconds"] == 90  # as old as the process without a refresher
    assert seen["saml_active_sessions"] == 5
    expiry = {k: v for k, v in seen.items() if k.startswith("saml_certificate_expiry_days{")}
    roles = sorted(m[1] for k in expiry if (m := re.search(r'role="(\w+)"', k)))
    assert roles == ["idp", "sp"]
    assert all(v == round((not_after - clock.now) / 86400, 3) for v in expiry.values())


def test_metadata_age_counts_from_the_last_successful_refresh(cert: str) -> None:
    clock = Clock()
    metrics = Metrics(
        certificates=lambda: ([cert], ""),
        active_sessions=lambda: None,
        clock=clock,
        metadata_state=lambda: (START + 30, 2),
    )
    clock.advance(100)
    seen = scrape(metrics)
    assert seen["saml_idp_metadata_age_seconds"] == 70
    assert seen["saml_idp_metadata_refresh_failures_total"] == 2


def test_two_metrics_never_share_a_counter(cert: str) -> None:
    first, second = (
        Metrics(certificates=lambda: ([cert], ""), active_sessions=lambda: None, clock=Clock())
        for _ in range(2)
    )
    first.record(AuditEvent("logout", START))
    assert scrape(first)["saml_logouts_total"] == 1
    assert scrape(second)["saml_logouts_total"] == 0
