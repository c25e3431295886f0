"""Certificate expiry: `saml-middleware check` warns at 30 days and fails at 7; the running gate
logs the warning once a day (frozen clock, certificates generated with short validity)."""

from __future__ import annotations

import datetime
import logging
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from saml_middleware.cli import main
from saml_middleware.gate.gate import Gate
from saml_middleware.http import HTTPRequest
from saml_middleware.ops.expiry import certificate_statuses
from saml_middleware.protocol.keys import self_signed

from ..support.harness import APP, START

SECRET = "test-secret-key-0123456789abcdef"
DAY = 86400.0


def make_cert(cn: str, expires_at: float) -> tuple[str, str]:
    """``(key_pem, cert_pem)`` valid from a year before ``expires_at`` until then."""
    end = datetime.datetime.fromtimestamp(expires_at, datetime.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return self_signed(key, cn, end - datetime.timedelta(days=365), end)


@pytest.fixture
def manual_idp(monkeypatch: pytest.MonkeyPatch):
    """Configure a manual IdP whose certificate expires ``days`` from now; returns the setter."""

    def configure(idp_days: float, sp_days: float | None = None) -> None:
        monkeypatch.setenv("SAML_BASE_URL", APP)
        monkeypatch.setenv("SAML_SECRET_KEY", SECRET)
        monkeypatch.setenv("SAML_IDP_SSO_URL", "https://idp.example/sso")
        monkeypatch.setenv("SAML_IDP_ENTITY_ID", "https://idp.example/")
        monkeypatch.setenv("SAML_IDP_CERT", make_cert("Expiring IdP", time.time() + idp_days * DAY)[1])
        if sp_days is not None:
            key, cert = make_cert("Our SP", time.time() + sp_days * DAY)
            monkeypatch.setenv("SAML_SP_KEY", key)
            monkeypatch.setenv("SAML_SP_CERT", cert)

    return configure


def test_check_passes_quietly_with_a_long_lived_certificate(manual_idp, capsys, monkeypatch) -> None:
    manual_idp(400)
    monkeypatch.setenv("SAML_BASE_URL", "https://app.example.com")  # http://app.test is itself a warning
    assert main(["check"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_check_warns_30_days_before_an_idp_certificate_expires(manual_idp, capsys) -> None:
    manual_idp(20)
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    assert "warning: IdP signing certificate CN=Expiring IdP expires on " in err
    assert "(in 20 days)" in err


def test_check_fails_7_days_before_the_sp_certificate_expires(manual_idp, capsys) -> None:
    manual_idp(400, sp_days=5)
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    expected = datetime.datetime.fromtimestamp(time.time() + 5 * DAY, datetime.timezone.utc)
    assert "error: SP certificate (SAML_SP_CERT) CN=Our SP expires on " + expected.strftime("%Y-%m-%d") in err
    assert "IdP signing" not in err


def test_check_fails_for_an_expired_idp_certificate(manual_idp, capsys) -> None:
    manual_idp(-1)
    assert main(["check"]) == 1
    assert "IdP signing certificate CN=Expiring IdP expired on " in capsys.readouterr().err


def test_statuses_by_level_at_a_frozen_time() -> None:
    idp = make_cert("idp", START + 29.5 * DAY)[1]
    sp = make_cert("sp", START + 6 * DAY)[1]
    ok = make_cert("ok", START + 31 * DAY)[1]
    levels = [(s.role, s.level) for s in certificate_statuses([idp, ok], sp, START)]
    assert levels == [("idp", "warning"), ("idp", "ok"), ("sp", "fail")]


def test_running_gate_logs_the_warning_once_a_day(settings_factory, clock, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    cert = make_cert("Soon IdP", START + 10 * DAY)[1]
    settings = settings_factory(
        idp_metadata="",
        idp_sso_url="https://idp.example/sso",
        idp_entity_id="https://idp.example/",
        idp_cert=(cert,),
    )
    gate = Gate(settings, clock=clock)

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if "certificate expiring" in r.getMessage()]

    assert warnings() == ["SAML certificate expiring: IdP signing certificate CN=Soon IdP expires on "
                          + "2025-06-25 15:06 UTC (in 10 days)"]  # fmt: skip
    # the check rides on requests that are not the per-request cookie check: an anonymous
    # request, a login, the ACS (authenticated requests stay a dictionary hit)
    anonymous = HTTPRequest("GET", "/api", headers={"accept": "application/json"})
    for _ in range(3):
        assert gate.challenge(anonymous).status == 401
    clock.advance(DAY - 1)
    gate.handle_endpoint(HTTPRequest("GET", "/saml/health"))
    assert len(warnings()) == 1
    clock.advance(1)
    gate.challenge(anonymous)
    assert len(warnings()) == 2 and warnings()[1].endswith("(in 9 days)")
