"""Helpers of the security mutation suite: a login to attack, XML mutations, and one refusal check.

Every case starts a real login through the browser (so the login cookie and the opaque
RelayState are real), takes the dev IdP's freshly signed response, mutates it with lxml, posts
it to the ACS, and calls :meth:`Flow.refused`, which asserts everything SECURITY.md demands of
a refusal at once: the exact 4xx status of the reason code, exactly one ``refusal`` log record
with that reason, a generic page with the reference, no session cookie, the wrapped app never
called, and the browser still not signed in afterwards.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree

from saml_middleware.devidp import DevIdP
from saml_middleware.devidp.signer import sign_element
from saml_middleware.errors import REASONS

from ..support.harness import Browser, Seen

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
EMAIL = "b.simon@contoso.com"
EVIL = "ceo@contoso.com"
ACS_URL = "http://app.test/saml/acs"
SP_ENTITY_ID = "http://app.test/saml/metadata"
SIGN_MODES = ("assertion", "response", "both")
SignMode = Literal["assertion", "response", "both"]
SESSION_COOKIES = ("saml_session=", "__Host-saml_session=")

Mutation = Callable[[etree._Element], None]
#: run a case through the single env IdP and through a connection (``acme``: contoso.com,
#: its host app.test, the same IdP): ``@CONNECTION_TOO`` on a test taking ``flow``
CONNECTION_TOO = pytest.mark.parametrize("flow", ["env", "connection"], indirect=True)


# -- XML -----------------------------------------------------------------------------------------
def q(prefix: str, local: str) -> str:
    """Clark notation: ``q("saml", "Assertion")``."""
    return f"{{{NS[prefix]}}}{local}"


def parse(xml: bytes) -> etree._Element:
    """Parse trusted test XML (our own output), keeping whitespace, comments and PIs."""
    return etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes without an XML declaration, as the dev IdP sends them."""
    return etree.tostring(root, encoding="utf-8", xml_declaration=False)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def assertion_of(root: etree._Element) -> etree._Element:
    found = root.find(q("saml", "Assertion"))
    assert found is not None, "no Assertion child"
    return found


def signature_of(element: etree._Element) -> etree._Element:
    """The ``ds:Signature`` that is a direct child of ``element``."""
    found = element.find(q("ds", "Signature"))
    assert found is not None, f"{element.tag} has no direct ds:Signature"
    return found


def drop(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def strip_signatures(root: etree._Element) -> None:
    """Remove every ``ds:Signature`` in the document."""
    for sig in list(root.iter(q("ds", "Signature"))):
        drop(sig)


def sign(
    root: etree._Element,
    mode: SignMode,
    key_pem: str,
    cert_pem: str,
    algorithm: Literal["sha256", "sha1"] = "sha256",
) -> None:
    """Remove the existing signatures, then sign like the dev IdP: the Assertion first, then the Response."""
    strip_signatures(root)
    if mode in ("assertion", "both"):
        sign_element(assertion_of(root), key_pem, cert_pem, algorithm=algorithm)
    if mode in ("response", "both"):
        sign_element(root, key_pem, cert_pem, algorithm=algorithm)


def target_signature(root: etree._Element, mode: SignMode) -> etree._Element:
    """The signature a per-mode mutation attacks: the Response's when it is signed, else the Assertion's.

    In ``both`` mode this leaves the Assertion's signature valid, so the case also proves that
    a broken Response signature is not ignored because another signature verifies.
    """
    return signature_of(root if mode in ("response", "both") else assertion_of(root))


def evilize(element: etree._Element, new: str = EVIL) -> None:
    """Replace the victim's e-mail by ``new`` in every text, tail and attribute under ``element``."""
    for node in element.iter():
        if node.text and EMAIL in node.text:
            node.text = node.text.replace(EMAIL, new)
        if node.tail and EMAIL in node.tail:
            node.tail = node.tail.replace(EMAIL, new)
        for name, value in node.attrib.items():
            if EMAIL in str(value):
                node.set(name, str(value).replace(EMAIL, new))


def unsigned_copy(element: etree._Element) -> etree._Element:
    """A deep copy of ``element`` without its own direct ``ds:Signature``."""
    clone = copy.deepcopy(element)
    sig = clone.find(q("ds", "Signature"))
    if sig is not None:
        clone.remove(sig)
    return clone


def name_id(root: etree._Element) -> etree._Element:
    found = root.find(f"{q('saml', 'Assertion')}/{q('saml', 'Subject')}/{q('saml', 'NameID')}")
    assert found is not None
    return found


def sha256_digest(element: etree._Element) -> str:
    """The DigestValue an enveloped, exclusive-c14n Reference to ``element`` would carry."""
    data = etree.tostring(unsigned_copy(element), method="c14n", exclusive=True, with_comments=False)
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


# -- XML Signature Wrapping, as SAML Raider (helpers/XSWHelpers.java) applies them ----------------
EVIL_RESPONSE_ID = "_evil_response_ID"
EVIL_ASSERTION_ID = "_evil_assertion_ID"


def xsw1(root: etree._Element) -> None:
    """Response signed. The Response becomes the evil one (new ID); an unsigned copy of the
    original Response is appended inside the original Signature, which stays on the evil one."""
    clone = unsigned_copy(root)
    evilize(root)
    signature_of(root).append(clone)
    root.set("ID", EVIL_RESPONSE_ID)


def xsw2(root: etree._Element) -> None:
    """Response signed. As XSW1, but the original copy sits just before the Signature (detached)."""
    clone = unsigned_copy(root)
    evilize(root)
    signature_of(root).addprevious(clone)
    root.set("ID", EVIL_RESPONSE_ID)


def evil_copy(assertion: etree._Element) -> etree._Element:
    evil = unsigned_copy(assertion)
    evilize(evil)
    evil.set("ID", EVIL_ASSERTION_ID)
    return evil


def xsw3(root: etree._Element) -> None:
    """Assertion signed. An unsigned evil Assertion (new ID) inserted before the signed original."""
    assertion = assertion_of(root)
    assertion.addprevious(evil_copy(assertion))


def xsw4(root: etree._Element) -> None:
    """Assertion signed. An unsigned evil Assertion appended to the Response wraps the signed original."""
    assertion = assertion_of(root)
    evil = evil_copy(assertion)
    root.append(evil)
    evil.append(assertion)


def xsw5(root: etree._Element) -> None:
    """Assertion signed. The original becomes evil (new ID) and keeps its Signature; an unsigned
    copy of the original is appended as the Response's last child."""
    assertion = assertion_of(root)
    original = unsigned_copy(assertion)
    evilize(assertion)
    root.append(original)
    assertion.set("ID", EVIL_ASSERTION_ID)


def xsw6(root: etree._Element) -> None:
    """Assertion signed. As XSW5, but the original copy goes inside the evil Assertion's Signature."""
    assertion = assertion_of(root)
    signature = signature_of(assertion)
    original = unsigned_copy(assertion)
    evilize(assertion)
    signature.append(original)
    assertion.set("ID", EVIL_ASSERTION_ID)


def xsw7(root: etree._Element) -> None:
    """Assertion signed. An ``Extensions`` element before the signed original holds an unsigned evil copy."""
    assertion = assertion_of(root)
    extensions = etree.Element("Extensions")
    assertion.addprevious(extensions)
    evil = unsigned_copy(assertion)
    evilize(evil)
    extensions.append(evil)


def xsw8(root: etree._Element) -> None:
    """Assertion signed. The original becomes evil (same ID, Signature kept); an unsigned copy of
    the original sits in an ``Object`` appended to that Signature."""
    assertion = assertion_of(root)
    signature = signature_of(assertion)
    original = unsigned_copy(assertion)
    evilize(assertion)
    holder = etree.SubElement(signature, "Object")
    holder.append(original)


def xsw_wrapper_after(root: etree._Element) -> None:
    """Assertion signed (SAML Raider's XSW9, CVE-2019-3465 style). The Assertion in place becomes evil
    (new ID, the original Signature kept) and a ``Wrapper`` appended after it holds the signed original."""
    assertion = assertion_of(root)
    original = copy.deepcopy(assertion)
    evilize(assertion)
    assertion.set("ID", EVIL_ASSERTION_ID)
    wrapper = etree.SubElement(root, "Wrapper")
    wrapper.append(original)


def xsw10(root: etree._Element) -> None:
    """Assertion signed (SAML Raider's XSW10). The Assertion's Signature is copied to the Response
    after its Issuer with a ``ds:Object`` holding the signed original; the Assertion in place loses
    its Signature, gets a new ID and the evil content."""
    assertion = assertion_of(root)
    signature = signature_of(assertion)
    moved = copy.deepcopy(signature)
    holder = etree.SubElement(moved, q("ds", "Object"))
    holder.append(copy.deepcopy(assertion))
    root.find(q("saml", "Issuer")).addnext(moved)  # type: ignore[union-attr]
    assertion.remove(signature)
    assertion.set("ID", assertion.get("ID", "") + "ffff")
    evilize(assertion)


# -- HTTP ----------------------------------------------------------------------------------------
def session_cookies_set(response: httpx.Response) -> list[str]:
    """``Set-Cookie`` headers that set (not delete) a session cookie."""
    found = []
    for cookie in response.headers.get_list("set-cookie"):
        if not cookie.startswith(SESSION_COOKIES):
            continue
        value = cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
        if value and "max-age=0" not in cookie.lower():
            found.append(cookie)
    return found


@dataclass
class Flow:
    """One login started by a real browser, at the moment the IdP's auto-post form is in hand."""

    browser: Browser
    seen: Seen
    caplog: pytest.LogCaptureFixture
    idp: DevIdP
    action: str
    fields: dict[str, str]
    new_browser: Callable[[], Browser]
    #: where the login was started: the single env IdP, or connection ``acme`` (CONNECTION_TOO)
    acs_url: str = ACS_URL
    sp_entity_id: str = SP_ENTITY_ID

    @property
    def xml(self) -> bytes:
        """The signed XML the IdP returned (Assertion signed, as Entra's default)."""
        return base64.b64decode(self.fields["SAMLResponse"])

    def tree(self) -> etree._Element:
        return parse(self.xml)

    @property
    def request_id(self) -> str:
        irt = self.tree().get("InResponseTo")
        assert irt, "the original response names no request"
        return irt

    def issue(
        self,
        mode: SignMode = "assertion",
        *,
        mutate: Mutation | None = None,
        algorithm: Literal["sha256", "sha1"] = "sha256",
        keys: tuple[str, str] | None = None,
        in_response_to: str | Literal["login"] | None = "login",
    ) -> etree._Element:
        """A fresh response for this login signed in ``mode``.

        With ``mutate``, the tree is mutated *before* signing (its signatures are removed and it
        is signed again with the IdP key, or with ``keys`` = (key PEM, cert PEM)).
        """
        xml = self.idp.issue_response(
            EMAIL,
            acs_url=self.acs_url,
            audience=self.sp_entity_id,
            in_response_to=self.request_id if in_response_to == "login" else in_response_to,
            sign=mode,
            algorithm=algorithm,
        )
        root = parse(xml)
        if mutate is not None or keys is not None:
            strip_signatures(root)
            if mutate is not None:
                mutate(root)
            key_pem, cert_pem = keys or (self.idp.key_pem, self.idp.cert_pem)
            sign(root, mode, key_pem, cert_pem, algorithm)
        return root

    def post(
        self,
        response: etree._Element | bytes | str,
        *,
        browser: Browser | None = None,
        **fields: str,
    ) -> httpx.Response:
        """POST ``response`` (a tree, XML bytes, or the raw form value) with this login's RelayState."""
        if isinstance(response, etree._Element):
            value = b64(serialize(response))
        elif isinstance(response, bytes):
            value = b64(response)
        else:
            value = response
        self.caplog.clear()
        return (browser or self.browser).post_acs(
            self.action, {**self.fields, "SAMLResponse": value, **fields}
        )

    def sign_out(self) -> None:
        """End this browser's session (after a positive step) and forget what the app saw."""
        assert self.browser.app.post("/saml/logout").status_code == 303
        assert self.browser.get("/").status_code == 302
        self.seen.calls.clear()

    def request(self, method: str, **kwargs: Any) -> httpx.Response:
        """A raw request to the ACS from this browser (its cookies sent), e.g. ``data=``, ``content=``."""
        self.caplog.clear()
        return self.browser.app.request(method, urlsplit(self.action).path, **kwargs)

    def records(self, event: str) -> list[logging.LogRecord]:
        return [r for r in self.caplog.records if getattr(r, "saml_event", None) == event]

    def refused(self, response: httpx.Response, reason: str, *, browser: Browser | None = None) -> None:
        """Assert every property of a refusal with ``reason``; see the module docstring."""
        status = REASONS[reason][0]
        refusals = self.records("refusal")
        seen_reasons = [(r.saml_reason, r.getMessage()) for r in refusals]  # type: ignore[attr-defined]
        assert 400 <= status < 500
        assert response.status_code == status, (response.status_code, seen_reasons)
        assert [r.saml_reason for r in refusals] == [reason], seen_reasons  # type: ignore[attr-defined]
        assert self.records("login") == []
        assert session_cookies_set(response) == [], response.headers.get_list("set-cookie")
        assert "Reference:" in response.text and refusals[0].saml_ref in response.text  # type: ignore[attr-defined]
        assert EVIL not in response.text and "Traceback" not in response.text
        assert self.seen.calls == []
        assert (browser or self.browser).get("/").status_code == 302
        assert self.seen.calls == []

    def accepted(
        self,
        response: httpx.Response,
        *,
        email: str = EMAIL,
        location: str = "/",
        browser: Browser | None = None,
    ) -> None:
        """Positive control: a 303 to ``location``, one session cookie, the app sees ``email``."""
        refusals = [(r.saml_reason, r.getMessage()) for r in self.records("refusal")]  # type: ignore[attr-defined]
        assert response.status_code == 303, (response.status_code, refusals)
        assert response.headers["location"] == location
        assert len(session_cookies_set(response)) == 1
        assert refusals == []
        page = (browser or self.browser).get("/")
        assert page.status_code == 200 and page.json()["user"] == email
