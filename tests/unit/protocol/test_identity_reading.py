"""Who a verified assertion says the user is: which e-mail wins, which domains and ids are required,
and which names and attributes the app receives (:class:`IdentityReader`, as the ACS calls it)."""

from __future__ import annotations

import unicodedata

import pytest
from lxml import etree

from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.identity import ENTRA_ALIASES, IdentityReader

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
ISSUER = "https://sts.windows.net/tenant/"
EMAIL_CLAIM = ENTRA_ALIASES["email"]
UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
OBJECT_ID = ENTRA_ALIASES["object_id"]
Attr = tuple[str, list[str]] | tuple[str, list[str], str]


def assertion(
    name_id: str | None = "ann@contoso.com",
    attributes: tuple[Attr, ...] = (),
    *,
    name_id_format: str | None = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    session_index: str | None = "_session",
) -> etree._Element:
    root = etree.Element(f"{{{SAML}}}Assertion", nsmap={"saml": SAML})
    subject = etree.SubElement(root, f"{{{SAML}}}Subject")
    if name_id is not None:
        el = etree.SubElement(subject, f"{{{SAML}}}NameID")
        el.text = name_id
        if name_id_format is not None:
            el.set("Format", name_id_format)
    if session_index is not None:
        etree.SubElement(root, f"{{{SAML}}}AuthnStatement", SessionIndex=session_index)
    statement = etree.SubElement(root, f"{{{SAML}}}AttributeStatement")
    for item in attributes:
        attr = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name=item[0])
        if len(item) == 3:
            attr.set("FriendlyName", item[2])
        for value in item[1]:
            etree.SubElement(attr, f"{{{SAML}}}AttributeValue").text = value
    return root


def refused(reader: IdentityReader, element: etree._Element) -> ResponseRejected:
    with pytest.raises(ResponseRejected) as caught:
        reader(element, ISSUER)
    return caught.value


def test_the_user_carries_the_assertion_fields() -> None:
    user = IdentityReader()(assertion(), ISSUER)
    assert user.email == "ann@contoso.com" and user.name_id == "ann@contoso.com"
    assert user.issuer == ISSUER and user.session_index == "_session"
    assert user.name_id_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert user.display_name == "ann@contoso.com"  # nothing better given
    bare = IdentityReader()(assertion(name_id_format=None, session_index=None), ISSUER)
    assert bare.name_id_format == "" and bare.session_index is None


@pytest.mark.parametrize(
    ("attributes", "display"),
    [
        ((("http://schemas.microsoft.com/identity/claims/displayname", ["Ann Lee"]),), "Ann Lee"),
        (((ENTRA_ALIASES["given_name"], ["Ann"]), (ENTRA_ALIASES["surname"], ["Lee"])), "Ann Lee"),
        (((ENTRA_ALIASES["surname"], ["Lee"]),), "Lee"),
        (((ENTRA_ALIASES["name"], ["ann.lee"]),), "ann.lee"),
        (((ENTRA_ALIASES["name"], ["ann.lee"]), (ENTRA_ALIASES["given_name"], ["Ann"])), "Ann"),
        (((ENTRA_ALIASES["display_name"], [""]), (ENTRA_ALIASES["name"], ["ann.lee"])), "ann.lee"),
    ],
)
def test_display_name_prefers_the_display_claim_then_given_and_surname_then_name(
    attributes: tuple[Attr, ...], display: str
) -> None:
    assert IdentityReader()(assertion(attributes=attributes), ISSUER).display_name == display


def test_attributes_keep_every_value_and_gain_aliases_and_friendly_names() -> None:
    user = IdentityReader(attribute_map={"dept": "urn:oid:2.5.4.11"})(
        assertion(
            attributes=(
                (ENTRA_ALIASES["groups"], ["g1", "g2"]),
                (ENTRA_ALIASES["groups"], ["g3"]),  # a second Attribute with the same Name extends it
                ("urn:oid:2.5.4.11", ["Sales"], "ou"),
                ("givenName", ["Explicit"]),
                ("urn:oid:2.5.4.42", ["Ann"], "givenName"),  # a FriendlyName never replaces an attribute
                ("roles", ["mine"]),  # an alias key sent by the IdP itself is not overwritten
                (ENTRA_ALIASES["roles"], ["Admin"]),
            )
        ),
        ISSUER,
    )
    assert user.attributes[ENTRA_ALIASES["groups"]] == ["g1", "g2", "g3"]
    assert user.attributes["groups"] == ["g1", "g2", "g3"]
    assert user.attributes["ou"] == ["Sales"] and user.attributes["dept"] == ["Sales"]
    assert user.attributes["givenName"] == ["Explicit"] and user.attributes["urn:oid:2.5.4.42"] == ["Ann"]
    assert user.attributes["roles"] == ["mine"]
    assert "given_name" not in user.attributes and "" not in user.attributes


def test_an_address_name_id_wins_over_the_claims() -> None:
    user = IdentityReader()(assertion(attributes=((EMAIL_CLAIM, ["other@contoso.com"]),)), ISSUER)
    assert user.email == "ann@contoso.com"


@pytest.mark.parametrize("marker", ["#EXT#", "#ext#"])
def test_a_guest_upn_name_id_gives_way_to_the_email_claim(marker: str) -> None:
    guest = f"ann_fabrikam.com{marker}@contoso.onmicrosoft.com"
    user = IdentityReader()(assertion(guest, ((EMAIL_CLAIM, ["ann@fabrikam.com"]),)), ISSUER)
    assert user.email == "ann@fabrikam.com" and user.name_id == guest
    alone = IdentityReader()(assertion(guest), ISSUER)
    assert alone.email == guest  # no claim: the UPN is still the only address there is


@pytest.mark.parametrize(
    ("attributes", "email"),
    [
        (((EMAIL_CLAIM, ["a@x.org"]), ("mail", ["b@x.org"]), ("upn", ["c@x.org"])), "a@x.org"),
        ((("upn", ["c@x.org"]), ("mail", ["b@x.org"])), "b@x.org"),
        ((("email", ["d@x.org"]), ("upn", ["c@x.org"])), "d@x.org"),
        ((("urn:oid:0.9.2342.19200300.100.1.3", ["e@x.org"]), ("upn", ["c@x.org"])), "e@x.org"),
        (((UPN_CLAIM, ["f@x.org"]),), "f@x.org"),
        ((("mail", ["not an address", "g@x.org"]), ("upn", ["c@x.org"])), "c@x.org"),  # first value only
    ],
)
def test_without_an_address_name_id_the_claims_are_tried_in_order(
    attributes: tuple[Attr, ...], email: str
) -> None:
    persistent = "AAAAAAAAAAAAAAAAAAAAAEPuc3pXnD0"
    assert IdentityReader()(assertion(persistent, attributes), ISSUER).email == email


def test_email_attribute_nameid_reads_the_name_id_only() -> None:
    reader = IdentityReader(email_attribute="NameID")
    assert (
        reader(assertion("ann@contoso.com", ((EMAIL_CLAIM, ["x@y.org"]),)), ISSUER).email == "ann@contoso.com"
    )
    error = refused(reader, assertion("persistent-id", ((EMAIL_CLAIM, ["x@y.org"]),)))
    assert error.reason == "no_email" and "NameID" in str(error)


@pytest.mark.parametrize("setting", ["email", EMAIL_CLAIM])
def test_email_attribute_by_alias_or_claim_name(setting: str) -> None:
    reader = IdentityReader(email_attribute=setting)
    element = assertion("ann@contoso.com", ((EMAIL_CLAIM, ["first@x.org", "second@x.org"]),))
    assert reader(element, ISSUER).email == "first@x.org"
    error = refused(reader, assertion("ann@contoso.com"))
    assert error.reason == "no_email" and setting in str(error)


@pytest.mark.parametrize(
    "value",
    [
        "ann",
        "ann@",
        "@contoso.com",
        "a b@contoso.com",
        "a@b@contoso.com",
        "<ann@contoso.com>",
        "ann\t@contoso.com",
        "",
    ],
)
def test_what_is_not_an_address_is_no_email(value: str) -> None:
    error = refused(IdentityReader(), assertion(value))
    assert error.reason == "no_email"
    assert "NameID or the e-mail claims" in str(error)


def test_an_address_is_trimmed_and_read_in_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "jos\u00e9@contoso.com")
    assert nfd != "jos\u00e9@contoso.com"
    user = IdentityReader()(assertion(f"  {nfd}\n"), ISSUER)
    assert user.email == "jos\u00e9@contoso.com"


def test_a_comment_inside_the_name_id_does_not_cut_the_address() -> None:
    element = assertion("placeholder")
    name_id = element.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    assert name_id is not None
    name_id.text = "ann@evil.example"
    name_id.append(etree.Comment("x"))
    name_id[0].tail = ".contoso.com"
    assert IdentityReader()(element, ISSUER).email == "ann@evil.example.contoso.com"


def test_allowed_domains_are_compared_without_case() -> None:
    reader = IdentityReader(allowed_domains=("contoso.com",))
    assert reader(assertion("ann@CONTOSO.com"), ISSUER).email.lower() == "ann@contoso.com"
    error = refused(reader, assertion("ann@fabrikam.com"))
    assert error.reason == "domain_not_allowed" and error.email == "ann@fabrikam.com"
    error = refused(reader, assertion("ann@contoso.com.evil.example"))
    assert error.reason == "domain_not_allowed"
    assert IdentityReader()(assertion("ann@fabrikam.com"), ISSUER).email == "ann@fabrikam.com"  # none set


@pytest.mark.parametrize("setting", ["object_id", OBJECT_ID])
def test_a_required_user_id_must_have_a_first_value(setting: str) -> None:
    reader = IdentityReader(user_id_attribute=setting)
    assert reader(assertion(attributes=((OBJECT_ID, ["oid-1"]),)), ISSUER).attributes[OBJECT_ID] == ["oid-1"]
    for values in ([], [" "], ["", "oid-2"]):
        error = refused(reader, assertion(attributes=((OBJECT_ID, values),)))
        assert error.reason == "no_user_id" and error.email == "ann@contoso.com" and setting in str(error)
    assert refused(reader, assertion()).reason == "no_user_id"


def test_an_attribute_without_values_is_kept_empty_and_skipped_for_names() -> None:
    user = IdentityReader()(
        assertion(attributes=((ENTRA_ALIASES["display_name"], []), (ENTRA_ALIASES["given_name"], ["Ann"]))),
        ISSUER,
    )
    assert user.attributes[ENTRA_ALIASES["display_name"]] == [] and user.display_name == "Ann"


def test_an_assertion_without_a_name_id_takes_the_address_from_the_claims() -> None:
    user = IdentityReader()(assertion(None, ((EMAIL_CLAIM, ["ann@contoso.com"]),)), ISSUER)
    assert (user.email, user.name_id, user.name_id_format) == ("ann@contoso.com", "", "")
    assert refused(IdentityReader(), assertion(None)).reason == "name_id"  # nothing names the user at all
