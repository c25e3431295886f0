"""SAML core's envelope: the values every Response and Assertion must carry, and xs:dateTime.

SAML core 3.2.2 and 2.3.3 require ``Version="2.0"``, an ``ID`` of type ``xs:ID`` (an NCName)
and an ``IssueInstant`` (``xs:dateTime``) on both the Response and the Assertion, and allow
at most one ``Issuer`` / ``Status`` / ``Subject`` / ``Conditions`` where the schema says so. A
second one would be ignored by the reader (``find`` takes the first), so it is refused.
Every refusal here is ``envelope``; see ``docs/security.md``.
"""

from __future__ import annotations

import calendar
import datetime
import re

from lxml import etree

from ..errors import ResponseRejected
from .xml import q

__all__ = ["NCNAME", "check_envelope", "parse_instant"]

_INSTANT = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(?:(Z)|([+-])(\d\d):(\d\d))?\Z", re.ASCII
)
#: xs:NCName, as far as IDs in the wild need: a letter or ``_`` first, then letters, digits,
#: ``_``, ``-``, ``.`` (Unicode letters included); no colon, no space.
NCNAME = re.compile(r"[^\W\d][\w.\-\u00b7]*\Z")
_SINGLE = {
    "Response": ("saml:Issuer", "samlp:Status"),
    "Assertion": ("saml:Issuer", "saml:Subject", "saml:Conditions"),
}


def parse_instant(value: str | None, what: str, reason: str = "malformed_response") -> float:
    """An ``xs:dateTime`` as seconds since the epoch.

    UTC when no zone is given (SAML core 1.3.3 asks for UTC). An offset is honoured:
    ``12:00:00+02:00`` is 10:00 UTC. The date and time must exist (no 31 February, no
    minute 60); ``24:00:00`` is the next midnight, as XML Schema defines it.

    :param reason: the refusal's reason code when ``value`` is missing or invalid.
    :raises ResponseRejected: with ``reason``.
    """
    m = _INSTANT.match((value or "").strip())
    if m is None:
        raise ResponseRejected(reason, f"{what} is missing or not an xs:dateTime: {value!r}")
    y, mo, d, h, mi, s, frac, _, sign, zh, zm = m.groups()
    midnight = (h, mi, s) == ("24", "00", "00") and not (frac or "").strip(".0")
    try:
        moment = datetime.datetime(int(y), int(mo), int(d), 0 if midnight else int(h), int(mi), int(s))
        if sign is not None and (int(zh) > 14 or int(zm) > 59 or (int(zh) == 14 and int(zm))):
            raise ValueError("time-zone offset out of range")
    except ValueError:
        raise ResponseRejected(reason, f"{what} is not a valid xs:dateTime: {value!r}") from None
    ts = float(calendar.timegm(moment.timetuple())) + (86400 if midnight else 0)
    if frac:
        ts += float("0" + frac)
    if sign is not None:  # local time = UTC + offset, so UTC = local time - offset
        ts -= (1 if sign == "+" else -1) * (int(zh) * 3600 + int(zm) * 60)
    return ts


def check_envelope(response: etree._Element, assertion: etree._Element) -> None:
    """Version, ID and IssueInstant of the Response and the Assertion; single elements single.

    :raises ResponseRejected: ``envelope``, naming the element and the value.
    """
    for where, el in (("Response", response), ("Assertion", assertion)):
        version = el.get("Version")
        if version != "2.0":
            raise ResponseRejected("envelope", f"{where} Version is {version!r}, not '2.0'")
        ident = el.get("ID")
        if not ident or not NCNAME.match(ident):
            raise ResponseRejected("envelope", f"{where} ID {ident!r} is missing or not an xs:ID (NCName)")
        parse_instant(el.get("IssueInstant"), f"{where} IssueInstant", "envelope")
        for name in _SINGLE[where]:
            prefix, local = name.split(":")
            count = len(el.findall(q(prefix, local)))
            if count > 1:
                raise ResponseRejected("envelope", f"{count} {name} elements in the {where}, at most 1")
