"""The cookie codec (``sessions/cookies.py``): what a signed cookie proves, and what it never does."""

from __future__ import annotations

import pytest

from saml_middleware.sessions.cookies import CookieCodec, cookie_header, cookie_value

A = "https://a.example/saml/metadata"
B = "https://b.example/saml/metadata"


def test_another_apps_cookies_are_refused_under_the_same_secret() -> None:
    ours, theirs = (
        CookieCodec(["shared-key-0123456789"], audience=A),
        CookieCodec(["shared-key-0123456789"], audience=B),
    )
    assert ours.load_session(theirs.dump_session({"u": "b.simon@contoso.com"})) is None
    assert ours.load_session_id(theirs.dump_session_id("sid-1")) is None
    assert ours.load_login(theirs.dump_login({"r": "_id"}), max_age=600) is None
    assert ours.load_session(ours.dump_session({"u": "b.simon@contoso.com"})) == {"u": "b.simon@contoso.com"}


def test_a_cookie_of_one_purpose_never_passes_for_another() -> None:
    codec = CookieCodec(["key-0123456789"], audience=A)
    session, sid, login = (
        codec.dump_session({"u": "x"}),
        codec.dump_session_id("sid-1"),
        codec.dump_login({"r": "_id"}),
    )
    assert codec.load_session(sid) is None and codec.load_session(login) is None
    assert codec.load_session_id(session) is None and codec.load_session_id(login) is None
    assert codec.load_login(session, max_age=600) is None and codec.load_login(sid, max_age=600) is None
    assert codec.load_session_id(sid) == "sid-1"


def test_rotating_the_secret_keeps_old_cookies_and_signs_with_the_newest() -> None:
    old = CookieCodec(["old-key-0123456789"], audience=A)
    rotated = CookieCodec(["new-key-0123456789", "old-key-0123456789"], audience=A)
    signed_before = old.dump_session({"u": "x"})
    assert rotated.load_session(signed_before) == {"u": "x"}  # nobody is logged out by the rotation
    signed_after = rotated.dump_session({"u": "y"})
    assert old.load_session(signed_after) is None  # the new cookies use the new key
    assert CookieCodec(["new-key-0123456789"], audience=A).load_session(signed_after) == {"u": "y"}
    assert CookieCodec(["new-key-0123456789"], audience=A).load_session(signed_before) is None  # old key gone


def test_a_tampered_or_garbage_cookie_is_refused_not_an_error() -> None:
    codec = CookieCodec(["key-0123456789"], audience=A)
    value = codec.dump_session({"u": "b.simon@contoso.com"})
    payload, _, signature = value.rpartition(".")
    forged = CookieCodec(["key-0123456789"], audience=A).dump_session({"u": "admin@contoso.com"})
    assert codec.load_session(forged.rpartition(".")[0] + "." + signature) is None
    for junk in ("", ".", "x" * 5000, "é", payload):
        assert codec.load_session(junk) is None
        assert codec.load_session_id(junk) is None
        assert codec.load_login(junk, max_age=600) is None


def test_a_codec_needs_a_secret_key() -> None:
    with pytest.raises(ValueError, match="secret key"):
        CookieCodec([])


def test_cookie_value_reads_only_the_exact_name() -> None:
    header = 'xsaml_session=evil; __Host-saml_session=other; saml_session="ours"; saml_session=second'
    assert cookie_value(header, "saml_session") == "ours"  # the first exact match, quotes removed
    assert cookie_value("saml_session_x=1", "saml_session") is None
    assert cookie_value("", "saml_session") is None


def test_cookie_header_sets_and_deletes() -> None:
    assert cookie_header("s", "v", secure=True) == "s=v; Path=/; HttpOnly; Secure; SameSite=Lax"
    deleted = cookie_header("s", "", path="/saml/acs", max_age=0, samesite=None)
    assert deleted == "s=; Path=/saml/acs; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly"
