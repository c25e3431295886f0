"""Single logout through both adapters with the dev IdP: SP-initiated and IdP-initiated, cookie and
server sessions, Redirect-binding signatures (Entra's lower-case percent-encoding included)."""

from __future__ import annotations

import base64
import logging
import zlib
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.devidp import generate_keypair
from saml_middleware.devidp.logout import logout_request, logout_response, redirect_url
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

from ..support.harness import APP, Seen, asgi_app, wsgi_app

EMAIL = "b.simon@contoso.com"
SLS = f"{APP}/saml/sls"


def _local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _message(url: str, param: str) -> bytes:
    query = parse_qs(urlsplit(url).query)
    return zlib.decompress(base64.b64decode(query[param][0]), -15)


def _verify_redirect_signature(url: str, param: str, cert_pem: str) -> None:
    raw = dict(p.split("=", 1) for p in urlsplit(url).query.split("&"))
    signed = "&".join(f"{n}={raw[n]}" for n in (param, "RelayState", "SigAlg") if n in raw)
    key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    signature = base64.b64decode(unquote_plus(raw["Signature"]))
    key.verify(signature, signed.encode(), padding.PKCS1v15(), hashes.SHA256())


def _refused(response: Any, caplog: Any, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert "Reference:" in response.text
    records = [r for r in caplog.records if getattr(r, "saml_reason", None)]
    assert [r.saml_reason for r in records][-1] == reason


@pytest.fixture
def build(adapter, clock, settings_factory):
    """``build(server=False, **settings)`` -> (app, session store or None)."""

    def make(server: bool = False, **overrides: Any) -> tuple[Any, Any]:
        seen = Seen()
        options: dict[str, Any] = {"clock": clock}
        store = None
        if server and "store_url" not in overrides:
            store = MemorySessionStore(clock=clock)
            options.update(replay=MemoryReplayCache(clock=clock), session_store=store)
        if server:
            overrides["session_store"] = "server"
        settings = settings_factory(**overrides)
        if adapter == "asgi":
            return SAMLMiddleware(asgi_app(seen), settings=settings, **options), store
        return SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, **options), store

    return make


def _sp_logout(browser) -> Any:
    """Log in, then sign out from the app: return the 303 to the IdP's SLO."""
    browser.login()
    token_url = browser.get("/").json()["logout_url"]
    out = browser.app.get(token_url)
    assert out.status_code == 303, out.text
    assert out.headers["location"].startswith(browser.idp.slo_url + "?")
    return out


def test_sp_initiated_round_trip(build, browser_factory, idp) -> None:
    sp_key, sp_cert = generate_keypair("test SP")
    app, _ = build(sp_key=sp_key, sp_cert=sp_cert)
    browser = browser_factory(app)
    out = _sp_logout(browser)
    request_xml = _message(out.headers["location"], "SAMLRequest")
    assert b"LogoutRequest" in request_xml and f">{EMAIL}</".encode() in request_xml
    assert b'Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"' in request_xml
    assert b"SessionIndex>_" in request_xml
    _verify_redirect_signature(out.headers["location"], "SAMLRequest", sp_cert)
    assert browser.get("/").status_code == 302  # the local session ended at once
    at_idp = browser.idp_client.get(_local(out.headers["location"]))
    assert at_idp.status_code == 302 and at_idp.headers["location"].startswith(SLS + "?")
    back = browser.app.get(_local(at_idp.headers["location"]))
    assert back.status_code == 200 and "signed out" in back.text
    cleared = " ".join(back.headers.get_list("set-cookie"))
    assert "saml_logout_" in cleared and "Max-Age=0" in cleared
    assert browser.get("/").status_code == 302
    again = browser.app.get(_local(at_idp.headers["location"]))
    assert again.status_code == 400  # the pending logout is consumed once


def test_post_logout_goes_to_the_idp_too(build, browser_factory) -> None:
    app, _ = build()
    browser = browser_factory(app)
    browser.login()
    out = browser.app.post("/saml/logout")
    assert out.status_code == 303 and "SAMLRequest=" in out.headers["location"]


def test_without_an_idp_slo_url_logout_stays_local(build, browser_factory, idp) -> None:
    manual = {"idp_metadata": "", "idp_sso_url": idp.sso_url, "idp_entity_id": idp.entity_id}
    app, _ = build(idp_cert=(idp.cert_pem,), **manual)
    browser = browser_factory(app)
    browser.login()
    out = browser.app.post("/saml/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/saml/logout")
    app2, _ = build(idp_cert=(idp.cert_pem,), idp_slo_url=idp.slo_url, **manual)
    browser2 = browser_factory(app2)
    browser2.login()
    assert browser2.app.post("/saml/logout").headers["location"].startswith(idp.slo_url + "?")


def _pending(browser) -> tuple[str, str]:
    """An SP-initiated logout in flight: (its request ID, the RelayState)."""
    out = _sp_logout(browser)
    ident = _message(out.headers["location"], "SAMLRequest").split(b'ID="', 1)[1].split(b'"', 1)[0]
    relay = parse_qs(urlsplit(out.headers["location"]).query)["RelayState"][0]
    return ident.decode(), relay


@pytest.mark.parametrize("forgery", ["other_key", "unsigned", "wrong_in_response_to", "tampered"])
def test_bad_logout_responses_are_refused(build, browser_factory, idp, clock, caplog, forgery) -> None:
    app, _ = build()
    browser = browser_factory(app)
    ident, relay = _pending(browser)
    xml = logout_response(
        issuer=idp.entity_id,
        destination=SLS,
        in_response_to="_someone_else" if forgery == "wrong_in_response_to" else ident,
        now=clock(),
        new_id="_resp1",
    )
    key = {"other_key": generate_keypair("attacker")[0], "unsigned": None}.get(forgery, idp.key_pem)
    url = redirect_url(SLS, "SAMLResponse", xml, relay, key)
    if forgery == "tampered":
        url = url.replace("RelayState=", "RelayState=x", 1)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    response = browser.app.get(_local(url))
    reason = {
        "other_key": "signature_invalid",
        "unsigned": "logout_unsigned",
        "wrong_in_response_to": "logout_in_response_to",
        "tampered": "signature_invalid",
    }[forgery]
    _refused(response, caplog, reason)


def test_idp_initiated_logout_ends_every_server_session(build, browser_factory, idp) -> None:
    app, store = build(server=True)
    laptop, phone = browser_factory(app), browser_factory(app)
    laptop.login()
    phone.login()
    assert len(store) == 2
    start = phone.idp_client.get(f"/{idp.tenant_id}/saml2/logout?email={EMAIL}")
    assert start.status_code == 302 and start.headers["location"].startswith(SLS + "?SAMLRequest=")
    answered = phone.app.get(_local(start.headers["location"]))
    assert answered.status_code == 302, answered.text
    location = answered.headers["location"]
    assert location.startswith(idp.slo_url + "?SAMLResponse=")
    response_xml = _message(location, "SAMLResponse")
    assert b"status:Success" in response_xml and b"InResponseTo=" in response_xml
    assert "saml_session=;" in " ".join(answered.headers.get_list("set-cookie"))
    assert len(store) == 0
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302
    assert phone.idp_client.get(_local(location)).status_code == 200  # the IdP takes the answer
    replayed = phone.app.get(_local(start.headers["location"]))
    assert replayed.status_code == 400


def test_session_index_limits_what_idp_initiated_logout_ends(build, browser_factory, idp) -> None:
    app, store = build(server=True)
    laptop, phone = browser_factory(app), browser_factory(app)
    laptop.login()
    phone.login()
    from saml_middleware.sessions.record import decode_record

    sid, (_, record, _) = next(iter(store._records.items()))
    session = decode_record(sid, record)  # records are compressed (sessions/record.py)
    assert session is not None and session.user.session_index
    index = session.user.session_index
    assert phone.app.get(_local(idp.logout_request_url(EMAIL, "_not_a_session"))).status_code == 302
    assert len(store) == 2
    assert phone.app.get(_local(idp.logout_request_url(EMAIL, index))).status_code == 302
    assert len(store) == 1


def test_idp_initiated_logout_clears_this_browsers_cookie_session(build, browser_factory, idp) -> None:
    app, _ = build()
    browser = browser_factory(app)
    browser.login()
    answered = browser.app.get(_local(idp.logout_request_url(EMAIL)))
    assert answered.status_code == 302
    assert "Max-Age=0" in " ".join(answered.headers.get_list("set-cookie"))
    assert browser.get("/").status_code == 302


def test_entra_lower_case_percent_encoding_verifies(build, browser_factory, idp) -> None:
    app, store = build(server=True)
    browser = browser_factory(app)
    browser.login()
    url = idp.logout_request_url(EMAIL, lowercase=True)
    assert "%3a" in url and "%3A" not in url
    assert browser.app.get(_local(url)).status_code == 302
    assert len(store) == 0


@pytest.mark.parametrize("problem", ["unsigned", "sha1", "wrong_issuer", "wrong_destination", "expired"])
def test_bad_logout_requests_are_refused(build, browser_factory, idp, clock, caplog, problem) -> None:
    app, store = build(server=True)
    browser = browser_factory(app)
    browser.login()
    xml = logout_request(
        issuer="https://evil.example.com/" if problem == "wrong_issuer" else idp.entity_id,
        destination=f"{APP}/elsewhere" if problem == "wrong_destination" else SLS,
        name_id=EMAIL,
        session_index=None,
        now=clock() - (3600 if problem == "expired" else 0),
        new_id="_req1",
    )
    key = None if problem == "unsigned" else idp.key_pem
    url = redirect_url(
        SLS, "SAMLRequest", xml, None, key, algorithm="sha1" if problem == "sha1" else "sha256"
    )
    caplog.set_level(logging.INFO, logger="saml_middleware")
    reason = {
        "unsigned": "logout_unsigned",
        "sha1": "weak_algorithm",
        "wrong_issuer": "issuer",
        "wrong_destination": "destination",
        "expired": "expired",
    }[problem]
    _refused(browser.app.get(_local(url)), caplog, reason)
    assert len(store) == 1 and browser.get("/").status_code == 200


def test_garbage_at_the_sls_is_a_400_never_a_500(build, browser_factory) -> None:
    app, _ = build()
    browser = browser_factory(app)
    for target in (
        "/saml/sls",
        "/saml/sls?SAMLRequest=%%%",
        "/saml/sls?SAMLResponse=abc&Signature=x&SigAlg=y",
    ):
        assert browser.app.get(target).status_code == 400
    posted = browser.app.post("/saml/sls", data={"SAMLRequest": base64.b64encode(b"<x/>").decode()})
    assert posted.status_code == 400


def test_sp_metadata_advertises_the_sls(build, browser_factory) -> None:
    app, _ = build()
    xml = browser_factory(app).app.get("/saml/metadata").text
    assert "SingleLogoutService" in xml and f'Location="{SLS}"' in xml and "HTTP-Redirect" in xml


# -- Redis ----------------------------------------------------------------------------------
@pytest.mark.needs("redis-server")
def test_idp_initiated_logout_with_redis_sessions(build, browser_factory, idp, redis_server) -> None:
    redis_server.flush()
    app, _ = build(server=True, store_url=redis_server.url)
    laptop, phone = browser_factory(app), browser_factory(app)
    laptop.login()
    phone.login()
    assert laptop.get("/").status_code == 200
    answered = phone.app.get(_local(idp.logout_request_url(EMAIL)))
    assert answered.status_code == 302 and "SAMLResponse=" in answered.headers["location"]
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302


@pytest.mark.parametrize("signed", [True, False])
def test_logout_request_on_the_post_binding(build, browser_factory, idp, clock, caplog, signed) -> None:
    from lxml import etree

    from saml_middleware.devidp.signer import XmlSigner

    app, store = build(server=True)
    browser = browser_factory(app)
    browser.login()
    xml = logout_request(
        issuer=idp.entity_id, destination=SLS, name_id=EMAIL, session_index=None, now=clock(), new_id="_p1"
    )
    if signed:
        root = etree.fromstring(xml)
        XmlSigner(idp.key_pem, idp.cert_pem).sign(root)
        xml = etree.tostring(root)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    answered = browser.app.post("/saml/sls", data={"SAMLRequest": base64.b64encode(xml).decode()})
    if signed:
        assert answered.status_code == 302 and len(store) == 0
    else:
        _refused(answered, caplog, "logout_unsigned")
        assert len(store) == 1
