"""``X-Remote-Jwt`` and ``/saml/jwks.json``, verified by an independent implementation (PyJWT)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from saml_middleware import SAMLUser, Settings
from saml_middleware.devidp import generate_keypair
from saml_middleware.errors import ConfigError
from saml_middleware.gate.upstream_jwt import GROUPS_CLAIM, ROLES_CLAIM, UpstreamJWT

TRAEFIK = {"X-Forwarded-Uri": "/reports", "X-Forwarded-Host": "app.test", "accept": "text/html"}
SECRET = "an-hs256-secret-of-at-least-32-bytes!"


@pytest.fixture(scope="module")
def sp_keys() -> tuple[str, str]:
    return generate_keypair("test SP, JWT")


@pytest.fixture
def real_time(clock) -> None:
    """PyJWT checks exp/nbf against the real clock: run the frozen one at the real time."""
    clock.now = time.time()


def _rsa_key(jwks: dict[str, Any], token: str) -> Any:
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.PyJWKSet.from_dict(jwks)[kid].key


@pytest.mark.usefixtures("real_time")
def test_rs256_token_verifies_against_the_published_jwks(make_app, browser_factory, sp_keys) -> None:
    app, _ = make_app(jwt="rs256", sp_key=sp_keys[0], sp_cert=sp_keys[1])
    browser = browser_factory(app)
    browser.login(email="megan.bowen@contoso.com")
    jwks = browser.get("/saml/jwks.json").json()
    assert [k["alg"] for k in jwks["keys"]] == ["RS256"] and "d" not in jwks["keys"][0]
    response = browser.get("/saml/auth", headers=TRAEFIK)
    assert response.status_code == 200
    token = response.headers["x-remote-jwt"]
    claims = jwt.decode(
        token,
        _rsa_key(jwks, token),
        algorithms=["RS256"],
        audience="http://app.test",
        issuer="http://app.test",
    )
    assert claims["sub"] == claims["email"] == "megan.bowen@contoso.com"
    assert claims["groups"] == ["9a8b7c6d-5e4f-4a3b-8c2d-bb22cc33dd02"] and claims["roles"] == ["Admin"]
    assert claims["name"] == response.headers["x-remote-name"]
    assert claims["exp"] - claims["iat"] == 60 and claims["nbf"] == claims["iat"]
    assert "tenant" not in claims  # single IdP: no tenant
    # the nginx mode carries it too
    assert browser.get("/saml/auth").headers["x-remote-jwt"].count(".") == 2


@pytest.mark.usefixtures("real_time")
def test_a_token_for_another_audience_or_an_old_one_is_refused(make_app, browser_factory, clock) -> None:
    app, _ = make_app(jwt="hs256", jwt_secret=SECRET, jwt_audience="https://api.example.com", jwt_ttl=30)
    browser = browser_factory(app)
    assert browser.get("/saml/jwks.json").json() == {"keys": []}  # a shared secret is never published
    clock.now = time.time() - 40  # a session, and a token issued 40 s ago (lifetime 30 s)
    browser.login()
    old = browser.get("/saml/auth", headers=TRAEFIK).headers["x-remote-jwt"]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(old, SECRET, algorithms=["HS256"], audience="https://api.example.com")
    clock.now = time.time()
    fresh = browser.get("/saml/auth", headers=TRAEFIK).headers["x-remote-jwt"]
    claims = jwt.decode(fresh, SECRET, algorithms=["HS256"], audience="https://api.example.com")
    assert claims["email"] == "b.simon@contoso.com"
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(fresh, SECRET, algorithms=["HS256"], audience="http://app.test")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(fresh, "another-secret-of-at-least-32-bytes!!", algorithms=["HS256"], audience="x")


def test_off_by_default_no_header_and_no_jwks(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    assert browser.get("/saml/jwks.json").status_code == 404
    browser.login()
    assert "x-remote-jwt" not in browser.get("/saml/auth", headers=TRAEFIK).headers


@pytest.mark.usefixtures("real_time")
def test_a_client_sent_token_never_passes_for_the_real_one(make_app, browser_factory) -> None:
    app, _ = make_app(jwt="hs256", jwt_secret=SECRET)
    browser = browser_factory(app)
    browser.login()
    forged = jwt.encode({"email": "admin@contoso.com"}, "x" * 32, algorithm="HS256")
    response = browser.get("/saml/auth", headers={**TRAEFIK, "X-Remote-Jwt": forged})
    assert response.headers.get_list("x-remote-jwt") != [forged]
    assert jwt.decode(
        response.headers["x-remote-jwt"], SECRET, algorithms=["HS256"], audience="http://app.test"
    )


def test_rollover_publishes_the_next_key_before_it_signs(settings_factory, sp_keys) -> None:
    upcoming = generate_keypair("test SP, next")
    settings = settings_factory(
        jwt="rs256", sp_key=sp_keys[0], sp_cert=sp_keys[1], sp_key_next=upcoming[0], sp_cert_next=upcoming[1]
    )
    signer = UpstreamJWT(settings, audience="http://app.test", clock=time.time)
    jwks = signer.jwks()
    assert len(jwks["keys"]) == 2 and len({k["kid"] for k in jwks["keys"]}) == 2
    user = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", "B. Simon", {ROLES_CLAIM: ["Reader"]})
    token = signer.token(user)
    claims = jwt.decode(token, _rsa_key(jwks, token), algorithms=["RS256"], audience="http://app.test")
    assert claims["roles"] == ["Reader"] and claims["groups"] == []
    assert jwt.get_unverified_header(token)["kid"] == jwks["keys"][0]["kid"]  # the current key signs


def test_a_token_is_reused_for_seconds_then_renewed(settings_factory, clock) -> None:
    signer = UpstreamJWT(settings_factory(jwt="hs256", jwt_secret=SECRET), audience="a", clock=clock)
    email = "b.simon@contoso.com"
    user = SAMLUser(email, email, "", {GROUPS_CLAIM: ["g1"]}, tenant="contoso")
    first = signer.token(user)
    clock.advance(4)
    assert signer.token(user) == first  # one signature for a burst of requests
    clock.advance(2)
    renewed = signer.token(user)
    assert renewed != first
    claims = jwt.decode(renewed, SECRET, algorithms=["HS256"], audience="a", options={"verify_exp": False})
    assert claims["iat"] == int(clock.now) and claims["tenant"] == "contoso" and claims["groups"] == ["g1"]
    other = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", "", {GROUPS_CLAIM: ["g2"]})
    assert signer.token(other) != renewed  # other claims never get it
    # the same identity in a new object, as a server session is read back from the store
    again = SAMLUser(email, email, "", {GROUPS_CLAIM: ["g1"]}, tenant="contoso")
    assert signer.token(again) == renewed


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"jwt": "RS512"}, "SAML_JWT must be off, rs256 or hs256"),
        ({"jwt": "rs256"}, "SAML_JWT=rs256 signs with the SP key"),
        ({"jwt": "hs256", "jwt_secret": "short"}, "SAML_JWT_SECRET of at least 32 bytes"),
        ({"jwt": "hs256", "jwt_secret": SECRET, "jwt_ttl": 86400}, "SAML_JWT_TTL must be between"),
    ],
)
def test_jwt_settings_are_validated(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(base_url="http://app.test", secret_key=("k" * 32,), **values)
    assert expected in str(info.value)


def test_the_secret_is_masked_and_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "SAML_BASE_URL": "http://app.test",
            "SAML_SECRET_KEY": "k" * 32,
            "SAML_JWT": "hs256",
            "SAML_JWT_SECRET": SECRET,
            "SAML_JWT_TTL": "15",
        }
    )
    assert settings.jwt_ttl == 15 and SECRET not in repr(settings)
