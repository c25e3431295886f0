"""``saml-middleware proxy`` with ``SAML_JWT=rs256``: the upstream gets ``X-Remote-Jwt`` and
verifies it against ``/saml/jwks.json`` fetched over real HTTP (PyJWT's own JWKS client)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import jwt
import pytest

from saml_middleware.devidp import generate_keypair

from ..support.servers import CLI, ECHO, free_port, login, server, sp_env


@pytest.fixture(scope="module")
def jwt_proxy(dev_idp: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("proxy-jwt")
    key, cert = generate_keypair("proxy JWT test SP")
    (tmp / "sp.key").write_text(key)
    (tmp / "sp.crt").write_text(cert)
    port, upstream_port = free_port(), free_port()
    base, upstream = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{upstream_port}"
    env = sp_env(
        base, dev_idp, SAML_JWT="rs256", SAML_SP_KEY=str(tmp / "sp.key"), SAML_SP_CERT=str(tmp / "sp.crt")
    )
    proxy = [*CLI, "proxy", upstream, "--port", str(port)]
    with (
        server([sys.executable, str(ECHO), str(upstream_port)], f"{upstream}/", tmp / "echo.txt"),
        server(proxy, f"{base}/saml/health", tmp / "log.txt", env=env),
    ):
        yield base, upstream


def test_the_upstream_gets_a_token_it_can_verify(jwt_proxy: tuple[str, str]) -> None:
    base, upstream = jwt_proxy
    with httpx.Client(base_url=base) as browser:
        login(browser, f"{base}/report")
        forged = jwt.encode({"email": "admin@contoso.com"}, "x" * 32, algorithm="HS256")
        seen = browser.get("/report", headers={"X-Remote-Jwt": forged, "X_Remote_Jwt": forged}).json()
    token = seen["headers"]["x-remote-jwt"]
    assert token != forged  # the client's never reaches the upstream
    key = jwt.PyJWKClient(f"{base}/saml/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=upstream, issuer=base)
    assert claims["email"] == seen["headers"]["x-remote-user"] == "b.simon@contoso.com"
    assert claims["groups"] == ["5f3c1a9e-8b2d-4c7a-9e01-aa11bb22cc01"]
    with pytest.raises(jwt.InvalidAudienceError):  # minted for this upstream, not another service
        jwt.decode(token, key.key, algorithms=["RS256"], audience="http://other.internal")


def test_jwks_is_public_and_holds_no_private_part(jwt_proxy: tuple[str, str]) -> None:
    base, _ = jwt_proxy
    response = httpx.get(f"{base}/saml/jwks.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and not {"d", "p", "q"} & set(key)
