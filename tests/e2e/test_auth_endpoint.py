"""``/saml/auth`` for nginx ``auth_request``, and the identity headers, through both adapters."""

from __future__ import annotations

import pytest

from saml_middleware import SAMLUser
from saml_middleware.errors import ConfigError
from saml_middleware.gate.identity_headers import IdentityHeaders, attribute_header


def test_auth_answers_401_without_a_session(make_app, browser_factory) -> None:
    app, seen = make_app()
    browser = browser_factory(app)
    response = browser.get("/saml/auth")
    assert response.status_code == 401 and response.content == b""
    assert "x-remote-user" not in response.headers and "location" not in response.headers
    assert seen.calls == []


def test_auth_answers_202_with_the_identity_headers(make_app, browser_factory) -> None:
    app, seen = make_app(header_attributes=("given_name", "groups", "missing"))
    browser = browser_factory(app)
    browser.login()
    response = browser.get("/saml/auth", headers={"X-Remote-User": "admin"})
    assert response.status_code == 202
    assert response.headers["x-remote-user"] == "b.simon@contoso.com"
    assert response.headers["x-remote-email"] == "b.simon@contoso.com"
    assert response.headers["x-remote-name"] == "B.Simon"
    assert response.headers["x-remote-attr-given-name"] == "B."
    assert response.headers["x-remote-attr-groups"] == "5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"
    assert "x-remote-attr-missing" not in response.headers
    assert seen.calls == []  # the app is never asked


def test_auth_header_names_are_settable(make_app, browser_factory) -> None:
    app, _ = make_app(header_user="X-Forwarded-User", header_name="X-Forwarded-Name")
    browser = browser_factory(app)
    browser.login()
    response = browser.get("/saml/auth")
    assert response.status_code == 202
    assert response.headers["x-forwarded-user"] == "b.simon@contoso.com"
    assert response.headers["x-forwarded-name"] == "B.Simon"
    assert "x-remote-user" not in response.headers


def test_auth_refuses_an_expired_session(make_app, browser_factory, clock) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    browser.login()
    clock.advance(3601)
    assert browser.get("/saml/auth").status_code == 401


def test_header_settings_are_validated(settings_factory) -> None:
    with pytest.raises(ConfigError) as info:
        IdentityHeaders(settings_factory(header_user="X Remote\nUser", header_attributes=("__",)))
    assert "SAML_HEADER_USER" in str(info.value) and "SAML_HEADER_ATTRIBUTES" in str(info.value)


def test_header_values_and_stripping(idp) -> None:
    from saml_middleware import Settings

    settings = Settings.from_env(
        {
            "SAML_BASE_URL": "http://app.test",
            "SAML_SECRET_KEY": "test-secret-key-0123456789",
            "SAML_HEADER_EMAIL": "X-Mail",
            "SAML_HEADER_ATTRIBUTES": "country, http://schemas.example/claims/department",
        },
        idp_metadata=idp.metadata_xml().decode(),
    )
    headers = IdentityHeaders(settings)
    user = SAMLUser("jose@example.com", "jose@example.com", "Jos\u00e9\r\nX-Evil: 1", {"country": ["FR"]})
    out = dict(headers.for_user(user))
    assert out["X-Remote-Name"].encode("latin-1").decode("utf-8") == "Jos\u00e9X-Evil: 1"
    assert out["X-Mail"] == "jose@example.com" and out["X-Remote-Attr-Country"] == "FR"
    assert attribute_header("http://schemas.example/claims/department") == "X-Remote-Attr-Department"
    pairs = [(b"X-REMOTE-user", b"admin"), (b"x-mail", b"a"), (b"x-remote-attr-x", b"y"), (b"accept", b"*/*")]
    assert headers.strip(pairs) == [(b"accept", b"*/*")]
