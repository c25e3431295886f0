"""Replay, response theft between browsers, and return paths (open redirects), through both adapters.

Replay (SECURITY.md point 7): the same response posted again, with or without the login cookie it
came with, in the same or in another browser; a response made for browser A posted from browser
B; a second response for a login request already consumed; an IdP-initiated response replayed.

Return paths (point 9): ``//host``, ``/\\host``, schemes, ``javascript:``, percent-encoded
slashes and backslashes (once and twice), and CR/LF header injection, through
``/saml/login?next=``, through the deep link that starts a login, and through a forged RelayState
that is a URL. After the login the Location must be exactly ``/``; it never leaves the site.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import httpx
import pytest

from saml_middleware.stores import MemoryReplayCache

from ..support.harness import Clock
from .helpers import CONNECTION_TOO, EMAIL, Flow, b64, serialize


def _copy_cookies(flow: Flow) -> httpx.Cookies:
    return httpx.Cookies(flow.browser.app.cookies)


# -- replay --------------------------------------------------------------------------------------
@CONNECTION_TOO
def test_replay_in_the_same_browser_after_sign_out(flow: Flow) -> None:
    """The back button on a shared computer: the login cookie was consumed by the first use."""
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.sign_out()
    flow.refused(flow.post(flow.fields["SAMLResponse"]), "in_response_to")


@pytest.fixture(
    params=[
        "real-clock",
        "frozen-clock",  # regression: the default cache runs on the Gate's clock
        "frozen-clock-injected-cache",  # regression: an empty injected cache is used, not replaced
    ]
)
def replay_flow(
    request: pytest.FixtureRequest, start_flow: Callable[..., Flow], clock: Clock
) -> Callable[..., Flow]:
    """``start_flow`` as deployed (no clock injected: real time everywhere), as the harness builds it
    (frozen clock, default cache), or with a replay cache on the same frozen clock injected."""
    if request.param == "real-clock":
        return functools.partial(start_flow, real_clock=True)
    if request.param == "frozen-clock":
        return start_flow
    return lambda **settings: start_flow(replay=MemoryReplayCache(clock=clock), **settings)


def test_captured_post_replayed_with_its_login_cookie(replay_flow) -> None:
    """The whole request captured (body and login cookie) and sent again: the assertion ID is burnt."""
    flow = replay_flow()
    captured = _copy_cookies(flow)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.sign_out()
    flow.browser.app.cookies = captured
    flow.refused(flow.post(flow.fields["SAMLResponse"]), "replayed")


@CONNECTION_TOO
def test_replay_in_a_second_browser(flow: Flow) -> None:
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.seen.calls.clear()
    other = flow.new_browser()
    flow.refused(flow.post(flow.fields["SAMLResponse"], browser=other), "in_response_to", browser=other)


def test_replay_in_a_second_browser_with_the_stolen_login_cookie(replay_flow) -> None:
    flow = replay_flow()
    captured = _copy_cookies(flow)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.seen.calls.clear()
    other = flow.new_browser()
    other.app.cookies = captured
    flow.refused(flow.post(flow.fields["SAMLResponse"], browser=other), "replayed", browser=other)


@CONNECTION_TOO
def test_response_for_browser_a_posted_from_browser_b(flow: Flow) -> None:
    """Login CSRF / a stolen response: B never started this login. A's own login still works after."""
    other = flow.new_browser()
    flow.refused(flow.post(flow.fields["SAMLResponse"], browser=other), "in_response_to", browser=other)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))


def test_second_response_for_a_consumed_login_request(replay_flow) -> None:
    """A fresh, validly signed assertion for a login request already used (login cookie kept)."""
    flow = replay_flow()
    captured = _copy_cookies(flow)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]))
    flow.sign_out()
    flow.browser.app.cookies = captured
    flow.refused(flow.post(flow.issue("assertion")), "in_response_to")


def test_idp_initiated_response_replayed(replay_flow) -> None:
    flow = replay_flow(allow_idp_initiated=True)
    unsolicited = b64(serialize(flow.issue("assertion", in_response_to=None)))
    flow.caplog.clear()
    flow.accepted(flow.browser.post_acs(flow.action, {"SAMLResponse": unsolicited}))
    flow.sign_out()
    flow.caplog.clear()
    flow.refused(flow.browser.post_acs(flow.action, {"SAMLResponse": unsolicited}), "replayed")


def test_response_with_in_response_to_but_no_login_cookie_is_not_treated_as_unsolicited(start_flow) -> None:
    """With IdP-initiated login on, a solicited response without its login cookie is still refused."""
    flow = start_flow(allow_idp_initiated=True)
    other = flow.new_browser()
    flow.refused(flow.post(flow.fields["SAMLResponse"], browser=other), "in_response_to", browser=other)


# -- return paths ----------------------------------------------------------------------------------
EVIL_PATHS = [
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/a%0d%0aSet-Cookie:x",
    "/a\r\nSet-Cookie: saml_session=attacker",
    "/a%00b",
]


def _stays_on_site(location: str) -> bool:
    return (
        location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
        and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in location)
    )


@pytest.mark.parametrize("evil", EVIL_PATHS)
def test_unsafe_next_through_saml_login_lands_on_the_default(start_flow, evil: str) -> None:
    flow = start_flow(next_path=evil)
    done = flow.post(flow.fields["SAMLResponse"])
    flow.accepted(done, location="/")
    # the session, the login cookie deleted, its entry taken off the pending-login index; nothing injected
    names = [c.split("=", 1)[0] for c in done.headers.get_list("set-cookie")]
    assert names == ["saml_session", "saml_login_" + flow.fields["RelayState"], "saml_logins"]


@pytest.mark.parametrize("evil", ["/%2F%2Fevil.example", "/%5Cevil.example"])
def test_unsafe_deep_link_lands_on_the_default(start_flow, evil: str) -> None:
    flow = start_flow(evil)
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location="/")


def test_a_deep_link_with_a_line_break_is_refused_before_any_login(make_app, browser_factory) -> None:
    """Was a login landing on the default: now the path itself is refused (see test_dropin_paths.py)."""
    app, seen = make_app()
    response = browser_factory(app).get("/%0d%0aSet-Cookie:x")
    assert response.status_code == 400 and response.json() == {"error": "bad_path"}
    assert "set-cookie" not in response.headers and seen.calls == []


def test_safe_next_is_kept(start_flow) -> None:
    """Positive control: a same-site path with a query comes back unchanged."""
    flow = start_flow(next_path="/reports/2024?q=a%20b&x=1")
    flow.accepted(flow.post(flow.fields["SAMLResponse"]), location="/reports/2024?q=a%20b&x=1")


@CONNECTION_TOO
@pytest.mark.parametrize(
    "relay", ["https://evil.example/", "//evil.example", "/reports", "javascript:alert(1)"]
)
def test_relay_state_replaced_by_a_url_is_refused(flow: Flow, relay: str) -> None:
    """RelayState is an opaque key: a URL in its place matches no login cookie."""
    flow.refused(flow.post(flow.fields["SAMLResponse"], RelayState=relay), "in_response_to")


@pytest.mark.parametrize("relay", [*EVIL_PATHS, "https://app.test.evil.example/"])
def test_idp_initiated_relay_state_url_never_leaves_the_site(start_flow, relay: str) -> None:
    flow = start_flow(allow_idp_initiated=True)
    unsolicited = b64(serialize(flow.issue("assertion", in_response_to=None)))
    flow.caplog.clear()
    done = flow.browser.post_acs(flow.action, {"SAMLResponse": unsolicited, "RelayState": relay})
    assert _stays_on_site(done.headers["location"])
    flow.accepted(done, location="/")


def test_idp_initiated_relay_state_path_is_kept(start_flow) -> None:
    """Positive control: a same-site path as RelayState (Entra's "Relay State" setting) is followed."""
    flow = start_flow(allow_idp_initiated=True)
    unsolicited = b64(serialize(flow.issue("assertion", in_response_to=None)))
    flow.caplog.clear()
    flow.accepted(
        flow.browser.post_acs(flow.action, {"SAMLResponse": unsolicited, "RelayState": "/reports"}),
        location="/reports",
    )


NON_LATIN1 = "/\u4e2d\u6587"


@pytest.mark.parametrize("through", ["next", "idp-initiated-RelayState"])
def test_non_latin1_return_path_stays_on_site(start_flow, through: str) -> None:
    if through == "next":
        flow = start_flow(next_path=NON_LATIN1)
        done = flow.post(flow.fields["SAMLResponse"])
    else:
        flow = start_flow(allow_idp_initiated=True)
        unsolicited = b64(serialize(flow.issue("assertion", in_response_to=None)))
        done = flow.browser.post_acs(flow.action, {"SAMLResponse": unsolicited, "RelayState": NON_LATIN1})
    assert done.status_code == 303
    assert done.headers["location"] in ("/", "/%E4%B8%AD%E6%96%87")
    assert flow.browser.get("/").json()["user"] == EMAIL
