"""SAML_IDP_METADATA_URL kept fresh: Entra's certificate rollover without a restart.

The metadata is served by a real local HTTP server; the refresh is driven by
the injected clock (it runs in the worker thread of a login or ACS request),
so no test waits for a background thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lxml import etree

from saml_middleware import ConfigError
from saml_middleware.devidp import DevIdP, generate_keypair
from saml_middleware.devidp.signer import XmlSigner, cert_base64

from ..support.harness import APP, IDP, Clock, tenant_idp

_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
_DS = "http://www.w3.org/2000/09/xmldsig#"
DAY = 86400


@dataclass
class MetadataServer:
    """What the metadata URL serves now, and how often it was fetched."""

    url: str = ""
    body: bytes = b""
    status: int = 200
    fetches: list[str] = field(default_factory=list)


@pytest.fixture
def served() -> Iterator[MetadataServer]:
    state = MetadataServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches.append(self.path)
            self.send_response(state.status)
            self.send_header("content-type", "application/xml")
            self.send_header("content-length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tenant/federationmetadata/2007-06/federationmetadata.xml"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def new_keys() -> tuple[str, str]:
    return generate_keypair("test IdP, next certificate")


@pytest.fixture
def rekeyed_idp(clock: Clock, new_keys: tuple[str, str]) -> DevIdP:
    """The same tenant after its new certificate was made active."""
    return tenant_idp(new_keys, clock)


def metadata_listing(signed_by: DevIdP, *certs: str, signer: XmlSigner | None = None) -> bytes:
    """``signed_by``'s metadata with the IDPSSODescriptor listing ``certs``, as Entra's during a rollover."""
    root = etree.fromstring(signed_by.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    root.remove(root.find(f"{{{_DS}}}Signature"))
    descriptor = root.find(f"{{{_MD}}}IDPSSODescriptor")
    for old in descriptor.findall(f"{{{_MD}}}KeyDescriptor"):
        descriptor.remove(old)
    for i, pem in enumerate(certs):
        kd = etree.Element(f"{{{_MD}}}KeyDescriptor", use="signing")
        x509 = etree.SubElement(etree.SubElement(kd, f"{{{_DS}}}KeyInfo"), f"{{{_DS}}}X509Data")
        etree.SubElement(x509, f"{{{_DS}}}X509Certificate").text = cert_base64(pem)
        descriptor.insert(i, kd)
    (signer or XmlSigner(signed_by.key_pem, signed_by.cert_pem)).sign(root)
    return b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root)


def test_entra_certificate_rollover_on_schedule(make_app, browser_factory, idp, rekeyed_idp, served, clock):
    """New certificate added (metadata lists both), then made active (only the new one): no restart."""
    served.body = idp.metadata_xml()
    app, _ = make_app(idp_metadata="", idp_metadata_url=served.url)
    assert len(served.fetches) == 1
    assert browser_factory(app).login().status_code == 303

    # Entra: SAML Certificates > New certificate. The metadata lists both; the old one still signs.
    served.body = metadata_listing(idp, idp.cert_pem, rekeyed_idp.cert_pem)
    clock.advance(DAY - 1)
    assert browser_factory(app).login().status_code == 303
    assert len(served.fetches) == 1  # not due yet
    clock.advance(1)
    assert browser_factory(app).login().status_code == 303
    assert len(served.fetches) == 2  # refreshed when the login started

    # "Make certificate active": responses are now signed with the new key, already trusted.
    assert browser_factory(app, rekeyed_idp).login().status_code == 303
    served.body = metadata_listing(rekeyed_idp, rekeyed_idp.cert_pem)
    clock.advance(DAY)
    assert browser_factory(app, rekeyed_idp).login().status_code == 303
    assert len(served.fetches) == 3
    # The old certificate is gone from the metadata, so it is no longer trusted.
    assert browser_factory(app).login().status_code == 400


def test_response_signed_with_an_unknown_key_triggers_one_refresh_a_minute(
    make_app, browser_factory, idp, rekeyed_idp, served, clock, caplog
):
    served.body = idp.metadata_xml()
    app, _ = make_app(idp_metadata="", idp_metadata_url=served.url)
    # The new certificate is made active before the periodic refresh saw it.
    served.body = metadata_listing(rekeyed_idp, rekeyed_idp.cert_pem)
    caplog.set_level(logging.INFO, logger="saml_middleware")
    assert browser_factory(app, rekeyed_idp).login().status_code == 303
    assert len(served.fetches) == 2
    assert any(getattr(r, "saml_event", None) == "metadata_refreshed" for r in caplog.records)

    # Another unknown key within the minute: no second fetch, refused.
    third_key, third_cert = generate_keypair("test IdP, third certificate")
    third = DevIdP(IDP, key_pem=third_key, cert_pem=third_cert, clock=clock, sp_acs_url=f"{APP}/saml/acs")
    served.body = metadata_listing(third, third_cert)
    clock.advance(59)
    assert browser_factory(app, third).login().status_code == 400
    assert len(served.fetches) == 2
    clock.advance(1)
    assert browser_factory(app, third).login().status_code == 303
    assert len(served.fetches) == 3


@pytest.mark.parametrize("failure", ["http_500", "garbage", "no_sso"])
def test_failed_refresh_keeps_the_last_good_copy(
    make_app, browser_factory, idp, served, clock, caplog, failure
):
    served.body = idp.metadata_xml()
    app, _ = make_app(idp_metadata="", idp_metadata_url=served.url)
    if failure == "http_500":
        served.status = 500
    elif failure == "garbage":
        served.body = b"<html>maintenance</html>"
    else:
        served.body = served.body.replace(b"SingleSignOnService", b"SomethingElse")
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    clock.advance(DAY)
    assert browser_factory(app).login().status_code == 303
    assert len(served.fetches) == 2
    warnings = [r for r in caplog.records if getattr(r, "saml_event", None) == "metadata_refresh_failed"]
    assert len(warnings) == 1 and "keeping the last good metadata" in warnings[0].getMessage()
    # retried after five minutes, not at every login
    assert browser_factory(app).login().status_code == 303
    assert len(served.fetches) == 2
    clock.advance(300)
    served.status, served.body = 200, idp.metadata_xml()
    assert browser_factory(app).login().status_code == 303
    assert len(served.fetches) == 3


def test_metadata_signature_is_checked_with_the_metadata_cert(
    make_app, browser_factory, idp, rekeyed_idp, served, clock, caplog
):
    served.body = idp.metadata_xml()
    app, _ = make_app(idp_metadata="", idp_metadata_url=served.url, idp_metadata_cert=(idp.cert_pem,))
    assert browser_factory(app).login().status_code == 303

    # Someone serves metadata listing their own key, signed by that key: refused, last good copy kept.
    served.body = metadata_listing(rekeyed_idp, rekeyed_idp.cert_pem)
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    clock.advance(DAY)
    assert browser_factory(app, rekeyed_idp).login().status_code == 400
    assert any("metadata signature does not verify" in r.getMessage() for r in caplog.records)
    assert browser_factory(app).login().status_code == 303

    # Signed by the metadata signing certificate: accepted.
    served.body = metadata_listing(
        rekeyed_idp, idp.cert_pem, rekeyed_idp.cert_pem, signer=XmlSigner(idp.key_pem, idp.cert_pem)
    )
    clock.advance(60)
    assert browser_factory(app, rekeyed_idp).login().status_code == 303


def test_unsigned_or_wrongly_signed_metadata_is_refused_at_start(settings_factory, idp, rekeyed_idp, served):
    from saml_middleware.gate.metadata_refresh import load_idp

    served.body = metadata_listing(rekeyed_idp, rekeyed_idp.cert_pem)
    settings = settings_factory(
        idp_metadata="", idp_metadata_url=served.url, idp_metadata_cert=(idp.cert_pem,)
    )
    with pytest.raises(ConfigError, match="SAML_IDP_METADATA_URL: the metadata signature does not verify"):
        load_idp(settings)
    unsigned = etree.fromstring(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    unsigned.remove(unsigned.find(f"{{{_DS}}}Signature"))
    served.body = etree.tostring(unsigned)
    with pytest.raises(ConfigError, match="carries no signature"):
        load_idp(settings)
    served.body = idp.metadata_xml()
    assert load_idp(settings).entity_id == idp.entity_id


@pytest.mark.parametrize("allow_sha1", [False, True])
def test_metadata_signed_with_rsa_sha1_needs_saml_allow_sha1(
    settings_factory, idp, served, allow_sha1
) -> None:
    """Metadata an older IdP still signs with RSA-SHA1 is refused at start as a weak algorithm, as
    its responses would be; with ``SAML_ALLOW_SHA1`` the same metadata loads."""
    from saml_middleware.gate.metadata_refresh import load_idp

    root = etree.fromstring(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    root.remove(root.find(f"{{{_DS}}}Signature"))
    XmlSigner(idp.key_pem, idp.cert_pem).sign(root, algorithm="sha1")
    served.body = b'<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root)
    settings = settings_factory(
        idp_metadata="", idp_metadata_url=served.url, idp_metadata_cert=(idp.cert_pem,), allow_sha1=allow_sha1
    )
    if allow_sha1:
        assert load_idp(settings).entity_id == idp.entity_id
    else:
        with pytest.raises(ConfigError, match=r"the metadata signature does not verify: signature .*sha1"):
            load_idp(settings)


def test_metadata_cert_setting_takes_several_pems(idp, rekeyed_idp) -> None:
    from saml_middleware import Settings

    settings = Settings.from_env(
        {
            "SAML_BASE_URL": APP,
            "SAML_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "SAML_IDP_METADATA_URL": "https://login.microsoftonline.com/t/federationmetadata/2007-06/fm.xml",
            "SAML_IDP_METADATA_CERT": idp.cert_pem + "\n" + rekeyed_idp.cert_pem,
        }
    )
    assert len(settings.idp_metadata_cert) == 2
    with pytest.raises(ConfigError, match="SAML_IDP_METADATA_CERT"):
        Settings.from_env(
            {
                "SAML_BASE_URL": APP,
                "SAML_SECRET_KEY": "test-secret-key-0123456789abcdef",
                "SAML_IDP_METADATA_URL": "https://example.com/md.xml",
                "SAML_IDP_METADATA_CERT": "not a certificate",
            }
        )
