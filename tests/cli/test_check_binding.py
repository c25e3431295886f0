"""``saml-middleware check`` says how AuthnRequests travel (``SAML_AUTHN_REQUEST_BINDING``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saml_middleware.cli import main

from ..support.interop import INTEROP


def test_check_prints_redirect_for_an_idp_offering_it(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert (
        "AuthnRequest binding:      HTTP-Redirect (SAML_AUTHN_REQUEST_BINDING=auto)"
        in capsys.readouterr().out
    )


def test_check_prints_post_for_google_workspace_metadata(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google's metadata lists HTTP-POST only: accepted (it was refused before), POST chosen."""
    monkeypatch.setenv("SAML_IDP_METADATA_FILE", str(INTEROP / "11_google_crewjam_IDPMetadata.xml"))
    main(["check"])  # its 2016 certificate has expired: the exit status says so, not the binding
    out = capsys.readouterr().out
    assert "Login URL:                 https://accounts.google.com/o/saml2/idp?idpid=C02dfl1r1" in out
    assert (
        "AuthnRequest binding:      HTTP-POST (SAML_AUTHN_REQUEST_BINDING=auto: "
        "the IdP lists no HTTP-Redirect login endpoint)"
    ) in out


def test_check_refuses_redirect_forced_on_post_only_metadata(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAML_IDP_METADATA_FILE", str(INTEROP / "16_onelogin_crewjam_IDPMetadata.xml"))
    monkeypatch.setenv("SAML_AUTHN_REQUEST_BINDING", "redirect")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "SAML_AUTHN_REQUEST_BINDING=redirect, but the IDPSSODescriptor has no HTTP-Redirect" in err
