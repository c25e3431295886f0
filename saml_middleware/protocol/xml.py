"""Hardened XML parsing and the SAML namespaces.

One parser configuration for everything that reads untrusted XML: no DTD, no
entity expansion, no network, no processing instructions, bounded depth.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ..errors import ResponseRejected

__all__ = ["MAX_DEPTH", "NS", "check_depth_and_pis", "parse_untrusted", "q"]

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}

#: SAML responses are shallow (about 8 levels); attribute values may nest a
#: NameID. Anything deeper than this is an attack or a mistake.
MAX_DEPTH = 32


def q(prefix: str, local: str) -> str:
    """Clark notation: ``q("saml", "Assertion")`` -> ``{urn:...:assertion}Assertion``."""
    return f"{{{NS[prefix]}}}{local}"


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
    remove_comments=False,
    remove_pis=False,
    collect_ids=False,
)


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse ``data`` or raise :class:`ResponseRejected`.

    Refuses (each with its own reason code): a DOCTYPE (``dtd_forbidden``),
    processing instructions anywhere (``processing_instruction``), nesting
    deeper than :data:`MAX_DEPTH` (``too_deep``), a declared encoding other
    than UTF-8 (``bad_encoding``), and anything not well-formed
    (``malformed_xml``).
    """
    head = data[:200].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<?xml"):
        decl = head.split(b"?>", 1)[0].lower()
        if b"encoding" in decl and b"utf-8" not in decl and b"utf8" not in decl:
            raise ResponseRejected("bad_encoding", "XML declares an encoding other than UTF-8")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ResponseRejected("dtd_forbidden", "DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ResponseRejected("malformed_xml", f"XML syntax error: {exc}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ResponseRejected("dtd_forbidden", "a DOCTYPE was present")
    if root.getprevious() is not None or root.getnext() is not None:
        # comments or PIs outside the root element
        for sib in (*root.itersiblings(preceding=True), *root.itersiblings()):
            if isinstance(sib, etree._ProcessingInstruction):
                raise ResponseRejected("processing_instruction", "processing instruction at top level")
    check_depth_and_pis(root)
    return root


def check_depth_and_pis(root: etree._Element) -> None:
    """Refuse processing instructions and nesting deeper than :data:`MAX_DEPTH` below ``root``."""
    depth = 0
    for event, el in etree.iterwalk(root, events=("start", "end", "pi")):
        if event == "start":
            depth += 1
            if depth > MAX_DEPTH:
                raise ResponseRejected("too_deep", f"XML nesting deeper than {MAX_DEPTH}")
        elif event == "end":
            depth -= 1
        else:
            raise ResponseRejected("processing_instruction", f"processing instruction {el.target!r}")
