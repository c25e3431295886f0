"""A session ends exactly when its settings say, and its cookie says so to the browser.

``SAML_SESSION_MAX_AGE`` counts from the login whatever the activity; ``SAML_SESSION_IDLE_TIMEOUT``
from the last recorded activity, which is written back to the cookie once a minute (or every
quarter of the idle timeout, when that is shorter). A refreshed cookie's ``Max-Age`` is what
remains of the session, never a new full lifetime. Both adapters, the frozen clock, a real login.
"""

from __future__ import annotations

import httpx
import pytest

from saml_middleware import SAMLUser
from saml_middleware.sessions import CookieSessionManager
from saml_middleware.sessions.cookies import CookieCodec

from ..support.harness import Clock


def _session_set_cookie(response: httpx.Response) -> dict[str, str] | None:
    """The attributes of the ``Set-Cookie`` that sets the session cookie, or None."""
    for header in response.headers.get_list("set-cookie"):
        pair, *rest = header.split(";")
        name, _, value = pair.partition("=")
        if name.strip() == "saml_session" and value:
            attributes = dict(item.strip().partition("=")[::2] for item in rest)
            return {k.lower(): v for k, v in attributes.items()}
    return None


@pytest.mark.parametrize(("later", "alive"), [(3599, True), (3600, False)])
def test_max_age_is_counted_from_the_login(make_app, browser_factory, clock: Clock, later: int, alive: bool):
    app, seen = make_app(session_max_age=3600, session_idle_timeout=3600)
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    clock.advance(later)
    seen.calls.clear()
    response = browser.get("/")
    assert response.status_code == (200 if alive else 302)
    assert len(seen.calls) == (1 if alive else 0)


@pytest.mark.parametrize(("later", "alive"), [(599, True), (600, False)])
def test_idle_timeout_is_counted_from_the_last_activity(
    make_app, browser_factory, clock: Clock, later: int, alive: bool
) -> None:
    app, _ = make_app(session_max_age=28800, session_idle_timeout=600)
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    clock.advance(300)
    assert browser.get("/").status_code == 200  # activity at +300 recorded
    clock.advance(later)
    assert browser.get("/").status_code == (200 if alive else 302)


@pytest.mark.parametrize(
    ("idle", "every"),
    [(3600, 60), (200, 50)],  # once a minute, or a quarter of a short idle timeout
)
def test_activity_is_written_back_on_schedule(make_app, browser_factory, clock: Clock, idle: int, every: int):
    app, _ = make_app(session_max_age=28800, session_idle_timeout=idle)
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    clock.advance(every - 1)
    quiet = browser.get("/")
    assert quiet.status_code == 200 and _session_set_cookie(quiet) is None
    clock.advance(1)
    refreshed = browser.get("/")
    assert refreshed.status_code == 200
    attributes = _session_set_cookie(refreshed)
    assert attributes is not None, refreshed.headers.get_list("set-cookie")
    assert attributes["max-age"] == str(28800 - every)  # what remains, not a new lifetime
    assert attributes["path"] == "/" and "httponly" in attributes
    # the refreshed cookie carries the new activity time: idle counts from here
    clock.advance(idle - 1)
    assert browser.get("/").status_code == 200


def test_a_refreshed_cookie_never_outlives_the_session(make_app, browser_factory, clock: Clock) -> None:
    app, _ = make_app(session_max_age=1000, session_idle_timeout=600)
    browser = browser_factory(app)
    done = browser.login()
    first = _session_set_cookie(done)
    assert first is not None and first["max-age"] == "1000"
    for step in (500, 400):
        clock.advance(step)
        response = browser.get("/")
        attributes = _session_set_cookie(response)
        assert attributes is not None
    assert attributes["max-age"] == "100"
    clock.advance(100)
    assert browser.get("/").status_code == 302


def test_sign_out_on_http_deletes_the_plain_session_cookie(make_app, browser_factory) -> None:
    app, _ = make_app()
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    out = browser.app.post("/saml/logout")
    deleted = [h for h in out.headers.get_list("set-cookie") if h.startswith("saml_session=;")]
    assert len(deleted) == 1, out.headers.get_list("set-cookie")
    attributes = {
        item.strip().partition("=")[0].lower(): item.strip().partition("=")[2]
        for item in deleted[0].split(";")[1:]
    }
    assert attributes["max-age"] == "0" and attributes["path"] == "/" and "secure" not in attributes
    assert browser.get("/").status_code == 302


def test_a_session_keeps_its_identity_through_the_cookie(settings_factory, clock: Clock) -> None:
    """The session id and logout token made at login come back from the cookie, also after an
    activity refresh; another login gets new ones (no fixation)."""
    settings = settings_factory()
    manager = CookieSessionManager(settings, CookieCodec(settings.secret_key), clock=clock)
    user = SAMLUser(email="ann@contoso.com", name_id="ann@contoso.com", attributes={"g": ["1"]})
    session, header = manager.create(user)
    value = header.split(";", 1)[0].split("=", 1)[1]
    loaded = manager.load(value)
    assert loaded is not None and loaded[1] is None
    assert (loaded[0].sid, loaded[0].logout_token, loaded[0].user) == (
        session.sid,
        session.logout_token,
        user,
    )
    clock.advance(120)
    refreshed = manager.load(value)
    assert refreshed is not None and refreshed[1] is not None
    again = manager.load(refreshed[1].split(";", 1)[0].split("=", 1)[1])
    assert again is not None and again[0].sid == session.sid and again[0].seen == clock.now
    other, _ = manager.create(user)
    assert other.sid != session.sid and other.logout_token != session.logout_token
    assert manager.load(value + "x") is None and manager.load("") is None and manager.load(None) is None
