"""``xs:dateTime`` with a zone offset (``+02:00``, ``-05:30``) is the instant it names.

The dev IdP writes UTC (``...Z``) like Entra ID, but other IdPs write local time with an offset.
An offset read with the wrong sign, or its minutes ignored, moves every validity window by hours:
a fresh response is refused, or a stale one accepted. Both adapters, a real login each time.
"""

from __future__ import annotations

import datetime

import pytest
from lxml import etree

from saml_middleware.errors import ResponseRejected
from saml_middleware.protocol.checks import parse_instant

from ..support.harness import START
from .helpers import Flow

_TIMES = ("IssueInstant", "NotBefore", "NotOnOrAfter", "SessionNotOnOrAfter", "AuthnInstant")


def _rewrite_instants(offset: datetime.timedelta, *, shift_wall_clock: bool = True) -> object:
    """Rewrite every instant of the response in the zone ``offset``. With ``shift_wall_clock``
    the local time is moved by the offset (the same instant); without, the UTC wall-clock time is
    kept and only labelled with the offset (an instant ``offset`` earlier)."""
    zone = datetime.timezone(offset)

    def mutate(root: etree._Element) -> None:
        for el in root.iter(etree.Element):
            for name in _TIMES:
                value = el.get(name)
                if value is None:
                    continue
                utc = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
                local = utc.astimezone(zone) if shift_wall_clock else utc.replace(tzinfo=zone)
                el.set(name, local.isoformat(timespec="milliseconds"))

    return mutate


@pytest.mark.parametrize(
    "offset",
    [
        datetime.timedelta(hours=2),
        datetime.timedelta(hours=-5, minutes=-30),
        datetime.timedelta(hours=5, minutes=45),
        datetime.timedelta(hours=14),
        datetime.timedelta(0),
    ],
    ids=["+02:00", "-05:30", "+05:45", "+14:00", "+00:00"],
)
def test_a_response_in_local_time_with_an_offset_is_accepted(flow: Flow, offset: datetime.timedelta) -> None:
    root = flow.issue("assertion", mutate=_rewrite_instants(offset))  # type: ignore[arg-type]
    assert b'Z"' not in etree.tostring(root)
    flow.accepted(flow.post(root))


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        (datetime.timedelta(hours=2), "expired"),  # the UTC time labelled +02:00 is 2 hours ago
        (datetime.timedelta(hours=-2), "not_yet_valid"),  # ... labelled -02:00 is 2 hours ahead
    ],
    ids=["+02:00-two-hours-old", "-02:00-two-hours-ahead"],
)
def test_an_offset_moves_the_instant(flow: Flow, label: datetime.timedelta, reason: str) -> None:
    mutate = _rewrite_instants(label, shift_wall_clock=False)
    flow.refused(flow.post(flow.issue("assertion", mutate=mutate)), reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-15T15:06:40Z", 1_750_000_000.0),
        ("2025-06-15T15:06:40", 1_750_000_000.0),  # no zone: UTC
        ("2025-06-15T17:06:40+02:00", 1_750_000_000.0),
        ("2025-06-15T09:36:40-05:30", 1_750_000_000.0),
        ("2025-06-15T20:51:40+05:45", 1_750_000_000.0),
        ("2025-06-15T15:06:40.250Z", 1_750_000_000.25),
        ("2025-06-15T17:06:40.5+02:00", 1_750_000_000.5),
        (" 2025-06-15T15:06:40Z\n", 1_750_000_000.0),
        ("1970-01-01T00:00:00Z", 0.0),
    ],
)
def test_parse_instant_reads_the_instant_named(text: str, expected: float) -> None:
    assert START == 1_750_000_000.0
    assert parse_instant(text, "IssueInstant") == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "2025-06-15",
        "2025-06-15T15:06:40+0200",
        "2025-06-15T15:06:40 Z",
        "2025-06-15T15:06:40Zjunk",
        "x2025-06-15T15:06:40Z",
        "2025-13-15T15:06:40Z",
        "9999-99-99T99:99:99Z",
    ],
)
def test_parse_instant_refuses_what_is_not_an_xs_datetime(text: str | None) -> None:
    with pytest.raises(ResponseRejected) as refused:
        parse_instant(text, "IssueInstant")
    assert refused.value.reason == "malformed_response"
    assert "IssueInstant" in str(refused.value)
