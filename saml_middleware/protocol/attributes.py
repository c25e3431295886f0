"""The assertion's attributes as ``name -> values``, refusing the repetitions that are ambiguous.

SAML core 2.7.3.1 names an attribute by its ``Name`` and ``NameFormat``. Keycloak's role list
sends one ``Attribute`` element per role, all with the same Name and NameFormat: those are
one multi-valued attribute and their values are joined, in document order. Refused
(``duplicate_attribute``), because reading them would mean picking one:

- the same Name twice with different NameFormats (two different attributes under one name);
- the same Name twice when it is one the identity is read from (an e-mail claim,
  ``SAML_EMAIL_ATTRIBUTE``, ``SAML_USER_ID_ATTRIBUTE``): which element would win?
- a FriendlyName shared by attributes of different Names, when it is such an identity name.

A FriendlyName is an extra key only where no attribute has that Name. An ``Attribute`` without
a ``Name`` (or with an empty one), which core 2.7.3.1 does not allow, is refused
(``malformed_response``) rather than filed under some made-up name.
"""

from __future__ import annotations

from collections.abc import Collection

from lxml import etree

from ..errors import ResponseRejected
from ..user import XML_SPACE
from .xml import q

__all__ = ["read_attributes"]

_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"


def _text(el: etree._Element) -> str:
    """The whole text of ``el``, stripped (as ``identity.py`` reads the NameID): ``itertext``
    skips comments but keeps the text after them."""
    return "".join(str(t) for t in el.itertext()).strip(XML_SPACE)


def read_attributes(assertion: etree._Element, identity_names: Collection[str]) -> dict[str, list[str]]:
    """``Name -> values`` (and ``FriendlyName -> values``) of every AttributeStatement.

    :param identity_names: attribute names whose single value decides who the user is.
    :raises ResponseRejected: ``duplicate_attribute`` or ``malformed_response`` (an Attribute
        without a Name), see the module docstring.
    """
    attributes: dict[str, list[str]] = {}
    formats: dict[str, str] = {}
    friendly: dict[str, set[str]] = {}
    path = f"{q('saml', 'AttributeStatement')}/{q('saml', 'Attribute')}"
    for attr in assertion.iterfind(path):
        name = attr.get("Name")
        if not name:  # core 2.7.3.1: Name is required; a nameless value is nobody's claim
            raise ResponseRejected("malformed_response", "an Attribute without a Name")
        name_format = attr.get("NameFormat") or _UNSPECIFIED
        values = [_text(v) for v in attr.findall(q("saml", "AttributeValue"))]
        if name in attributes:
            if formats[name] != name_format:
                raise ResponseRejected(
                    "duplicate_attribute",
                    f"attribute {name!r} appears with NameFormat {formats[name]!r} and {name_format!r}",
                )
            if name in identity_names:
                raise ResponseRejected("duplicate_attribute", f"attribute {name!r} appears twice")
        attributes.setdefault(name, []).extend(values)
        formats.setdefault(name, name_format)
        label = attr.get("FriendlyName")
        if label:
            friendly.setdefault(label, set()).add(name)
    for label, names in friendly.items():
        if label in attributes:
            continue  # a Name always wins over a FriendlyName
        if len(names) > 1:
            if label in identity_names:
                raise ResponseRejected(
                    "duplicate_attribute", f"FriendlyName {label!r} names {len(names)} attributes"
                )
            continue
        attributes[label] = list(attributes[next(iter(names))])
    return attributes
