"""The hardened parser's limits hold whatever the document's shape and whatever the process set.

Nesting is measured as the real depth at every element (closing a leaf does not reset it), the cap
is exactly :data:`~saml_middleware.xmlparse.MAX_DEPTH`, and ``parse_untrusted`` keeps its own
parser configuration even when the application (or a library it imports) changed lxml's default
parser to a permissive one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree

from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.xml import MAX_DEPTH, check_depth_and_pis, parse_untrusted

from .helpers import Flow, q, serialize

EVIL = "{urn:example:evil}n"


def _chain(parent: etree._Element, length: int) -> etree._Element:
    node = parent
    for _ in range(length):
        node = etree.SubElement(node, EVIL)
    return node


def _depth_after_a_closed_leaf(levels: int) -> etree._Element:
    """``samlp:Extensions`` holding ``levels`` nested elements, then (inside the deepest) an empty
    leaf followed by ``levels`` more: the leaf closes half-way down."""
    extensions = etree.Element(q("samlp", "Extensions"))
    middle = _chain(extensions, levels)
    etree.SubElement(middle, EVIL)  # the leaf, closed before going deeper
    _chain(middle, levels)
    return extensions


def test_depth_keeps_counting_after_a_deep_leaf_is_closed(flow: Flow) -> None:
    root = flow.tree()
    root.find(q("saml", "Issuer")).addnext(_depth_after_a_closed_leaf(20))  # type: ignore[union-attr]
    flow.refused(flow.post(serialize(root)), "too_deep")


def test_depth_keeps_counting_after_many_siblings_close(flow: Flow) -> None:
    root = flow.tree()
    extensions = etree.Element(q("samlp", "Extensions"))
    node = extensions
    for _ in range(40):  # every level has a closed sibling before the next one opens
        etree.SubElement(node, EVIL)
        node = etree.SubElement(node, EVIL)
    root.find(q("saml", "Issuer")).addnext(extensions)  # type: ignore[union-attr]
    flow.refused(flow.post(serialize(root)), "too_deep")


def _document(depth: int, *, leaves: bool = False) -> etree._Element:
    root = etree.Element("root")
    node = root
    for _ in range(depth - 1):
        if leaves:
            etree.SubElement(node, "leaf")
        node = etree.SubElement(node, "n")
    return root


@pytest.mark.parametrize("leaves", [False, True])
def test_the_cap_is_exactly_max_depth(leaves: bool) -> None:
    check_depth_and_pis(_document(MAX_DEPTH, leaves=leaves))
    with pytest.raises(ResponseRejected) as refused:
        check_depth_and_pis(_document(MAX_DEPTH + 1, leaves=leaves))
    assert refused.value.reason == "too_deep"
    assert parse_untrusted(etree.tostring(_document(MAX_DEPTH, leaves=leaves))).tag == "root"
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(etree.tostring(_document(MAX_DEPTH + 1, leaves=leaves)))
    assert refused.value.reason == "too_deep"


def test_a_processing_instruction_deep_inside_is_refused_after_closed_elements() -> None:
    root = _document(5, leaves=True)
    root[0].append(etree.ProcessingInstruction("evil", "x"))
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(etree.tostring(root))
    assert refused.value.reason == "processing_instruction"


@pytest.fixture
def permissive_default_parser() -> Iterator[None]:
    """lxml's default parser replaced by one with every protection off, as some libraries do."""
    etree.set_default_parser(
        etree.XMLParser(huge_tree=True, resolve_entities=True, load_dtd=True, no_network=False)
    )
    try:
        yield
    finally:
        etree.set_default_parser()


def test_a_permissive_default_parser_does_not_weaken_parse_untrusted(permissive_default_parser) -> None:
    huge_text = b"<r>" + b"a" * 10_100_000 + b"</r>"  # over libxml2's 10 MB text node limit
    assert len(etree.fromstring(huge_text)) == 0  # the default parser now takes it
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(huge_text)
    assert refused.value.reason == "malformed_xml"


def test_a_utf16_doctype_hidden_from_the_byte_check_is_refused() -> None:
    """``<!DOCTYPE`` in UTF-16 is not the bytes ``<!DOCTYPE``: the parsed document is checked too."""
    data = '<!DOCTYPE r [<!ENTITY x "evil">]><r>&x;</r>'.encode("utf-16")
    assert b"<!DOCTYPE" not in data and b"<!ENTITY" not in data
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(data)
    assert refused.value.reason == "dtd_forbidden"


@pytest.mark.parametrize(
    "prolog",
    [
        b"",
        b'<?xml version="1.0"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b"<?xml version='1.0' encoding='utf8'?>",
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\n',
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
    ],
)
def test_a_utf8_declaration_is_accepted(prolog: bytes) -> None:
    assert parse_untrusted(prolog + b"<r><a>caf\xc3\xa9</a></r>").findtext("a") == "caf\u00e9"


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0" encoding="ISO-8859-1"?>',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="ISO-8859-1"?>',
        b' <?xml version="1.0" encoding="UTF-7"?>',
    ],
)
def test_another_declared_encoding_is_refused(prolog: bytes) -> None:
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(prolog + b"<r><a>x</a></r>")
    assert refused.value.reason == "bad_encoding"


def test_only_the_declaration_decides_the_encoding_verdict() -> None:
    """A processing instruction after a declaration without an encoding is refused as such."""
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(b'<?xml version="1.0"?><r/><?x encoding="latin1"?>')
    assert refused.value.reason == "processing_instruction"


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_processing_instruction_beside_the_root_is_refused(where: str) -> None:
    pi = b'<?xml-stylesheet href="http://evil.example/x.xsl"?>'
    data = pi + b"<r/>" if where == "before" else b"<r/>" + pi
    with pytest.raises(ResponseRejected) as refused:
        parse_untrusted(data)
    assert refused.value.reason == "processing_instruction"
    assert parse_untrusted(b"<!-- a comment --><r/><!-- another -->").tag == "r"
