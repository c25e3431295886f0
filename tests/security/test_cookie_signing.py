"""What the signed cookies promise: one purpose each, one app each, a bounded pending login.

A value signed for one purpose (session, server-session id, pending login) is worthless as
another; a cookie made by another app that shares the secret is worthless here; every listed key
verifies while only the newest signs; a pending-login cookie older than ten minutes no longer
starts a session.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

import itsdangerous.timed
import pytest

from saml_middleware.http import parse_cookies
from saml_middleware.sessions.cookies import CookieCodec

from ..support.harness import Clock
from .helpers import Flow, b64, serialize

A = "https://a.example/saml/metadata"
B = "https://b.example/saml/metadata"
KEYS = ["new-key-0123456789abcdef", "old-key-0123456789abcdef"]


def _dumps(codec: CookieCodec) -> dict[str, str]:
    return {
        "session": codec.dump_session({"u": "x"}),
        "session_id": codec.dump_session_id("sid-0123456789"),
        "login": codec.dump_login({"r": "_request"}),
    }


def _loads(codec: CookieCodec) -> dict[str, Callable[[str], Any]]:
    return {
        "session": codec.load_session,
        "session_id": codec.load_session_id,
        "login": lambda value: codec.load_login(value, max_age=600),
    }


@pytest.mark.parametrize("audience", [A, ""])
def test_each_purpose_reads_only_its_own_values(audience: str) -> None:
    codec = CookieCodec(KEYS, audience=audience)
    for made, value in _dumps(codec).items():
        for purpose, load in _loads(codec).items():
            if purpose == made:
                assert load(value) is not None, purpose
            else:
                assert load(value) is None, (made, purpose)


def test_a_cookie_made_by_another_app_with_the_same_secret_is_refused() -> None:
    here, there, unbound = CookieCodec(KEYS, audience=A), CookieCodec(KEYS, audience=B), CookieCodec(KEYS)
    for other in (there, unbound):
        for purpose, value in _dumps(other).items():
            assert _loads(here)[purpose](value) is None, purpose
            assert _loads(other)[purpose](value) is not None, purpose
    for purpose, value in _dumps(here).items():
        assert _loads(unbound)[purpose](value) is None, purpose


def test_the_newest_key_signs_and_every_key_verifies() -> None:
    rotated = CookieCodec(KEYS, audience=A)
    only_old = CookieCodec(KEYS[1:], audience=A)
    only_new = CookieCodec(KEYS[:1], audience=A)
    for purpose, value in _dumps(only_old).items():
        assert _loads(rotated)[purpose](value) is not None, purpose  # issued before the rotation
    for purpose, value in _dumps(rotated).items():
        assert _loads(only_new)[purpose](value) is not None, purpose  # signed with the newest
        assert _loads(only_old)[purpose](value) is None, purpose


def test_values_round_trip_and_wrong_shapes_are_refused() -> None:
    codec = CookieCodec(KEYS, audience=A)
    assert codec.load_session(codec.dump_session({"u": "x"})) == {"u": "x"}
    assert codec.load_session_id(codec.dump_session_id("abc")) == "abc"
    assert codec.load_login(codec.dump_login({"r": "_id", "n": "/x"}), max_age=600) == {"r": "_id", "n": "/x"}
    # validly signed, but not the shape the purpose needs
    assert codec.load_session(codec._session.dumps(["u"])) is None
    assert codec.load_session_id(codec._sid.dumps({"sid": "x"})) is None
    assert codec.load_login(codec._login.dumps("_id"), max_age=600) is None
    for load in _loads(codec).values():
        assert load("garbage") is None and load("") is None


def test_a_codec_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one secret key"):
        CookieCodec([])


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The wall clock the signatures' timestamps are read with, ``seconds`` ahead."""
    real = time.time()
    monkeypatch.setattr(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: real + seconds))


@pytest.mark.parametrize(("age", "kept"), [(0, True), (599, True), (601, False), (86_400 * 30, False)])
def test_a_pending_login_lasts_its_max_age(monkeypatch: pytest.MonkeyPatch, age: int, kept: bool) -> None:
    codec = CookieCodec(KEYS, audience=A)
    value = codec.dump_login({"r": "_id"})
    _later(monkeypatch, age)
    assert (codec.load_login(value, max_age=600) is not None) is kept


@pytest.mark.parametrize(("age", "accepted"), [(590, True), (610, False), (3600, False)])
def test_a_pending_login_cookie_older_than_ten_minutes_starts_no_session(
    start_flow: Callable[..., Flow], clock: Clock, monkeypatch: pytest.MonkeyPatch, age: int, accepted: bool
) -> None:
    """The user left the IdP's page open: a response for that login, however fresh, is refused once
    the login cookie is older than ten minutes (``in_response_to``: no login pending here)."""
    flow = start_flow()
    clock.advance(age)
    _later(monkeypatch, age)
    fresh = b64(serialize(flow.issue()))  # issued now, for that login
    done = flow.post(fresh)
    if accepted:
        flow.accepted(done)
    else:
        flow.refused(done, "in_response_to")


def test_parse_cookies_keeps_the_first_value_and_unquotes() -> None:
    header = 'a=1; b="two"; a=3; =x; c; d=4 ;e=; f=g=h=='
    assert parse_cookies(header) == {"a": "1", "b": "two", "d": "4", "e": "", "f": "g=h=="}
