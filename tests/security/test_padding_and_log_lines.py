"""Two classes a review found after the hostile-input work, each over both adapters:

* an address padded with Unicode white space (no-break, ideographic, line separator, hair
  space...) is not the unpadded address: only XML's own white space is trimmed, so such a
  NameID is no e-mail at all (``no_email``), never the listed ``ceo@contoso.com``;
* text an attacker controls in the unsigned parts of a response (a ``StatusMessage`` beside a
  signed assertion) reaches the refusal log only escaped: no forged second line.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from saml_middleware.user import normalize_email

from .helpers import EVIL, Flow, name_id, q

PADDING = ["\u3000", "\u00a0", "\u2028", "\u200a", "\u0085", "\u2003"]
EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


@pytest.mark.parametrize("space", PADDING, ids=[f"U+{ord(c):04X}" for c in PADDING])
def test_a_name_id_padded_with_unicode_space_is_no_address(
    start_flow: Callable[..., Flow], space: str
) -> None:
    flow = start_flow()

    def pad(root: etree._Element) -> None:  # the NameID and the e-mail claim alike
        name_id(root).text = space + EVIL + space
        for attribute in root.iter(q("saml", "Attribute")):
            if attribute.get("Name") == EMAIL_CLAIM:
                for value in attribute.iter(q("saml", "AttributeValue")):
                    value.text = space + EVIL

    response = flow.post(flow.issue("assertion", mutate=pad))
    assert response.status_code == 403  # genuine, but names nobody
    assert [r.saml_reason for r in flow.records("refusal")] == ["no_email"]  # type: ignore[attr-defined]
    assert flow.browser.get("/").status_code != 200  # nobody signed in, least of all the CEO


def test_xml_white_space_around_an_address_is_still_trimmed(start_flow: Callable[..., Flow]) -> None:
    flow = start_flow()

    def pad(root: etree._Element) -> None:
        name_id(root).text = "\n\t " + EVIL + " \r\n"

    assert flow.post(flow.issue("assertion", mutate=pad)).status_code == 303
    assert flow.browser.get("/").json()["user"] == EVIL


def test_normalize_email_trims_only_xml_white_space() -> None:
    assert normalize_email(" \tCEO@Contoso.com\r\n") == "ceo@contoso.com"
    assert normalize_email("\u00a0ceo@contoso.com") != normalize_email("ceo@contoso.com")


def test_a_status_message_cannot_forge_a_log_line(start_flow: Callable[..., Flow]) -> None:
    flow = start_flow()
    root = flow.issue("assertion")  # only the assertion is signed: the Status is anyone's to write
    code = root.find(f"{q('samlp', 'Status')}/{q('samlp', 'StatusCode')}")
    assert code is not None
    code.set("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
    message = etree.SubElement(code.getparent(), q("samlp", "StatusMessage"))
    message.text = "x\n2026-12-02 INFO saml_middleware SAML login accepted email=ceo@contoso.com"
    assert flow.post(root).status_code == 400
    (record,) = flow.records("refusal")
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line
    assert "\\n2026-12-02 INFO" in line  # still there for the operator, escaped
