"""The per-request session cache, through both adapters: what it remembers must never
outlive what the signed cookie allows, and a header that only looks like a cached one
must be verified afresh."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saml_middleware.config import Settings
from saml_middleware.gate.gate import Gate
from saml_middleware.sessions.cookies import cookie_value
from saml_middleware.user import SAMLUser

from ..support.harness import APP, HTML, Browser, Clock, client_for, tenant_idp


def _logged_in(
    make_app: Any, browser_factory: Any, adapter: str, clients: list[httpx.Client], **settings: Any
) -> tuple[httpx.Client, str]:
    app, _ = make_app(**settings)
    browser: Browser = browser_factory(app)
    done = browser.login()
    assert done.status_code == 303
    (set_cookie,) = [c for c in done.headers.get_list("set-cookie") if c.startswith("saml_session=")]
    pair = set_cookie.split(";")[0]  # saml_session=<value>
    bare = client_for(app, adapter)  # no cookie jar in play: each request says its own Cookie header
    clients.append(bare)
    return bare, pair


def _user(client: httpx.Client, cookie: str) -> str | None:
    response = client.get("/", headers={**HTML, "cookie": cookie})
    if response.status_code == 302:
        return None
    assert response.status_code == 200, response.text
    return str(response.json()["user"])


def test_a_header_with_the_cached_tail_but_a_changed_middle_is_refused(
    make_app, browser_factory, adapter, clients
) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients)
    header = f"theme=dark; {pair}"
    assert _user(client, header) == "b.simon@contoso.com"  # now cached
    name, value = pair.split("=", 1)
    middle = len(value) // 2
    swapped = "A" if value[middle] != "A" else "B"
    forged = f"{name}={value[:middle]}{swapped}{value[middle + 1 :]}"
    assert forged[-32:] == pair[-32:]  # same cache key: only the full comparison stops it
    assert _user(client, f"theme=dark; {forged}") is None
    assert _user(client, forged) is None
    assert _user(client, header) == "b.simon@contoso.com"  # the real one still works


def test_other_cookies_changing_on_every_request_keep_the_session(
    make_app, browser_factory, adapter, clients
) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients)
    for n in range(5):
        assert _user(client, f"csrf=token{n}; {pair}") == "b.simon@contoso.com"
        assert _user(client, f"{pair}; last_seen={n}") == "b.simon@contoso.com"


def test_a_lookalike_cookie_name_is_not_the_session(make_app, browser_factory, adapter, clients) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients)
    assert _user(client, pair) == "b.simon@contoso.com"
    assert _user(client, "x" + pair) is None
    assert _user(client, "other=" + pair) is None


def test_a_cached_header_still_goes_idle(make_app, browser_factory, adapter, clients, clock: Clock) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients, session_idle_timeout=600)
    assert _user(client, pair) == "b.simon@contoso.com"
    clock.advance(601)  # no request in between: the cache entry is all that is left
    assert _user(client, pair) is None


def test_activity_refresh_comes_due_for_a_cached_header(
    make_app, browser_factory, adapter, clients, clock: Clock
) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients, session_idle_timeout=600)
    first = client.get("/", headers={**HTML, "cookie": pair})
    assert first.status_code == 200 and "set-cookie" not in first.headers
    clock.advance(59)
    quiet = client.get("/", headers={**HTML, "cookie": pair})
    assert quiet.status_code == 200 and "set-cookie" not in quiet.headers
    clock.advance(2)  # a minute since the login: activity is recorded in a new cookie
    due = client.get("/", headers={**HTML, "cookie": pair})
    assert due.status_code == 200 and due.headers["set-cookie"].startswith("saml_session=")
    # a client that ignores the refreshed cookie still goes idle from the old cookie's activity
    clock.advance(600 - 61)
    assert _user(client, pair) is None
    refreshed = due.headers["set-cookie"].split(";")[0]
    assert _user(client, refreshed) == "b.simon@contoso.com"


def test_a_session_cookie_made_for_another_app_is_refused_under_the_same_secret(
    make_app, browser_factory, adapter, clients
) -> None:
    client, pair = _logged_in(make_app, browser_factory, adapter, clients)
    assert _user(client, pair) == "b.simon@contoso.com"
    # a second app on the same host (another port): same cookie name, same SAML_SECRET_KEY
    other, _ = make_app(base_url="http://app.test:8081")
    other_client = client_for(other, adapter, base_url="http://app.test:8081")
    clients.append(other_client)
    assert _user(other_client, pair) is None


_EDITS = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete"]), st.integers(0, 10_000), st.binary(max_size=2)
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture(scope="module")
def gates(idp_keys: tuple[str, str]) -> tuple[Gate, Gate, bytes]:
    """Two gates of one app: ``warm`` has verified the header before, ``cold`` forgets every time."""
    clock = Clock()
    settings = Settings(
        base_url=APP,
        secret_key=("test-secret-key-0123456789abcdef",),
        idp_metadata=tenant_idp(idp_keys, clock).metadata_xml().decode(),
    )
    warm, cold = Gate(settings, clock=clock), Gate(settings, clock=clock)
    pair = warm.sessions.create(SAMLUser("b.simon@contoso.com", "b.simon@contoso.com"))[1].split(";")[0]
    header = f"theme=dark; {pair}; lang=en".encode()
    assert warm.authenticate(header) is not None  # cached from here on
    return warm, cold, header


@settings(max_examples=400, deadline=None, derandomize=os.environ.get("CI") == "true")
@given(edits=_EDITS)
def test_the_cache_never_changes_the_verdict_on_an_edited_header(
    gates: tuple[Gate, Gate, bytes], edits: list[tuple[str, int, bytes]]
) -> None:
    warm, cold, header = gates
    edited = bytearray(header)
    for kind, at, data in edits:
        at %= len(edited) + 1
        if kind == "replace":
            edited[at : at + len(data)] = data
        elif kind == "insert":
            edited[at:at] = data
        else:
            del edited[at : at + 2]
    raw = bytes(edited)
    untouched = cookie_value(raw.decode("latin-1"), warm.sessions.name) == cookie_value(
        header.decode("latin-1"), warm.sessions.name
    )
    for form in (raw, raw.decode("latin-1")):  # as ASGI and as WSGI servers hand it over
        cold.sessions.forget_cached()
        verdict = cold.session(form)  # the HMAC's answer, no cache involved
        found = warm.session(form)
        assert (found is not None) == (verdict is not None), raw
        if untouched:
            assert found is not None
        if found is not None:
            assert found[0].user.email == "b.simon@contoso.com"


def test_gate_authenticate_gives_the_user_from_a_header_or_parsed_cookies(
    gates: tuple[Gate, Gate, bytes],
) -> None:
    warm, _, header = gates
    name = warm.sessions.name
    value = cookie_value(header.decode(), name)
    assert value is not None
    for cookies in (header, header.decode(), {name: value, "theme": "dark"}):
        user = warm.authenticate(cookies)
        assert user is not None and user.email == "b.simon@contoso.com" and user.is_authenticated
    for nothing in (None, "", b"", {}, {"theme": "dark"}, {name: value[:-1]}, f"{name}={value}x"):
        assert warm.authenticate(nothing) is None
