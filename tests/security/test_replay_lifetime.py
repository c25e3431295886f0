"""A replayed assertion stays refused for as long as it would otherwise be accepted.

The replay cache may forget an assertion only once the assertion is refused as too old anyway
(IssueInstant more than ``SAML_RESPONSE_MAX_AGE`` + ``SAML_CLOCK_SKEW`` ago). These cases capture
the whole POST (body and login cookie), let it succeed once, move the frozen clock, and replay it:
up to the last instant at which the response is still young enough it must be refused as
``replayed``; from then on it is refused as ``expired``. Never is it a second login.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from lxml import etree

from saml_middleware.devidp.responses import format_instant
from saml_middleware.stores import MemoryReplayCache

from ..support.harness import Clock
from .helpers import Flow, b64, q, serialize

MAX_AGE = 300  # SAML_RESPONSE_MAX_AGE's default
SKEW = 180  # SAML_CLOCK_SKEW's default


@pytest.fixture(params=["default-cache", "injected-cache"])
def captured(request: pytest.FixtureRequest, start_flow: Callable[..., Flow], clock: Clock) -> Flow:
    """A login accepted once, signed out, and the browser's cookies put back as they were before."""
    if request.param == "default-cache":
        flow = start_flow()
    else:
        flow = start_flow(replay=MemoryReplayCache(clock=clock))
    cookies = httpx.Cookies(flow.browser.app.cookies)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.sign_out()
    flow.browser.app.cookies = cookies
    return flow


@pytest.mark.parametrize("later", [1, 2, 60, MAX_AGE, MAX_AGE + SKEW - 1])
def test_replay_is_refused_while_the_response_is_still_young_enough(
    captured: Flow, clock: Clock, later: int
) -> None:
    clock.advance(later)
    captured.refused(captured.post(captured.fields["SAMLResponse"]), "replayed")


def test_replay_after_the_response_is_too_old_is_refused_as_expired(captured: Flow, clock: Clock) -> None:
    clock.advance(MAX_AGE + SKEW)
    captured.refused(captured.post(captured.fields["SAMLResponse"]), "expired")


def test_a_longer_lived_assertion_is_remembered_as_long(
    start_flow: Callable[..., Flow], clock: Clock
) -> None:
    """``SAML_RESPONSE_MAX_AGE=3600`` and an IdP whose SubjectConfirmationData lasts an hour: a replay
    50 minutes later is still refused as a replay, not accepted."""
    flow = start_flow(response_max_age=3600)
    hour = format_instant(clock.now + 3600)

    def for_an_hour(root: etree._Element) -> None:
        for data in root.iter(q("saml", "SubjectConfirmationData")):
            data.set("NotOnOrAfter", hour)

    posted = b64(serialize(flow.issue(mutate=for_an_hour)))
    cookies = httpx.Cookies(flow.browser.app.cookies)
    flow.accepted(flow.post(posted))
    flow.sign_out()
    flow.browser.app.cookies = cookies
    clock.advance(3000)
    flow.refused(flow.post(posted), "replayed")
