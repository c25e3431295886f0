"""Look-alike e-mails never take over an account (issue 12, item 6).

Two addresses are the same user only when they are equal after NFC and ``A-Z`` lower-casing
(:func:`saml_middleware.user.normalize_email`). Every place that compares an address or a
domain is driven end to end, through both adapters, with the dev IdP signing in a user whose
address is a look-alike of the listed one: the file and SQL directories, ``SAML_ADMIN_EMAILS``
(the setup page), ``SAML_ALLOWED_DOMAINS``, and the session index behind ``sessions revoke``.
The look-alikes are refused (with their reason code) or kept apart; the spellings that are the
same address (NFD vs NFC, ASCII case) still match.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.cli import main as cli_main
from saml_middleware.devidp import DEFAULT_USERS, DevIdP, DevUser
from saml_middleware.errors import ConfigError
from saml_middleware.stores import MemorySessionStore
from saml_middleware.user import normalize_email

from ..support.harness import APP, IDP, Browser, Clock, Seen, asgi_app, wsgi_app
from ..support.redisserver import RedisServer
from .helpers import session_cookies_set

#: (listed address, address the IdP vouches for): distinct people, never merged
LOOKALIKES = {
    "long s": ("b.simon@contoso.com", "b.\u017fimon@contoso.com"),
    "Kelvin sign": ("kate@contoso.com", "\u212aate@contoso.com"),
    "sharp s": ("strasse@contoso.com", "stra\u00dfe@contoso.com"),
    "dotless i": ("diana@contoso.com", "d\u0131ana@contoso.com"),
    "Turkish dotted I": ("irene@contoso.com", "\u0130rene@contoso.com"),
    "I with a combining dot": ("\u0130van@contoso.com", "i\u0307van@contoso.com"),
    "full-width b": ("bob@contoso.com", "\uff42ob@contoso.com"),
}
#: (listed address, address the IdP vouches for): the same person, spelled differently
SAME = {
    "NFD vs NFC": ("jos\u00e9@contoso.com", "jose\u0301@contoso.com"),
    "ASCII case": ("Adele.Vance@Contoso.com", "adele.vance@contoso.com"),
}
#: (allowed domain, address the IdP vouches for, admitted?)
DOMAINS = [
    pytest.param("contoso.com", "d1@conto\u017fo.com", False, id="long s"),
    pytest.param("kontoso.com", "d2@\u212aontoso.com", False, id="Kelvin sign"),
    pytest.param("strasse.example", "d3@stra\u00dfe.example", False, id="sharp s"),
    pytest.param("contoso.com", "d4@\uff43ontoso.com", False, id="full-width c"),
    pytest.param("xn--bcher-kva.example", "d5@b\u00fccher.example", False, id="punycode vs Unicode"),
    pytest.param("Contoso.COM", "d6@CONTOSO.com", True, id="ASCII case"),
    pytest.param("caf\u00e9.example", "d7@cafe\u0301.example", True, id="NFD vs NFC"),
]
CASES = [pytest.param(*pair, False, id=name) for name, pair in LOOKALIKES.items()] + [
    pytest.param(*pair, True, id=name) for name, pair in SAME.items()
]


@pytest.fixture
def lookalike_idp(idp: DevIdP, clock: Clock) -> DevIdP:
    """The test tenant's dev IdP (same keys) that can also sign in every address above."""
    users = {normalize_email(u.email): u for u in DEFAULT_USERS}
    pairs = [*LOOKALIKES.values(), *SAME.values()]
    for email in [s for _, s in pairs] + [p.values[1] for p in DOMAINS] + [listed for listed, _ in pairs]:
        users.setdefault(normalize_email(email), DevUser(email=email))
    return DevIdP(
        IDP,
        key_pem=idp.key_pem,
        cert_pem=idp.cert_pem,
        clock=clock,
        sp_acs_url=f"{APP}/saml/acs",
        sp_entity_id=f"{APP}/saml/metadata",
        users=list(users.values()),
    )


@pytest.fixture
def sign_in(
    browser_factory: Callable[..., Browser], lookalike_idp: DevIdP, caplog: pytest.LogCaptureFixture
) -> Callable[[Any, str], tuple[Browser, httpx.Response]]:
    """``sign_in(app, email)``: a new browser signs in at the dev IdP as ``email``."""
    caplog.set_level(logging.INFO, logger="saml_middleware")

    def run(app: Any, email: str) -> tuple[Browser, httpx.Response]:
        browser = browser_factory(app, lookalike_idp)
        caplog.clear()
        return browser, browser.login(email=email)

    return run


def _reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.saml_reason for r in caplog.records if getattr(r, "saml_event", None) == "refusal"]  # type: ignore[attr-defined]


def _refused(
    browser: Browser, done: httpx.Response, seen: Seen, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    assert done.status_code == 403, done.text
    assert _reasons(caplog) == [reason]
    assert session_cookies_set(done) == []
    assert seen.calls == []
    assert browser.get("/").status_code == 302 and seen.calls == []


def _admitted(browser: Browser, done: httpx.Response, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    assert done.status_code == 303, (done.status_code, _reasons(caplog))
    assert len(session_cookies_set(done)) == 1
    page = browser.get("/")
    assert page.status_code == 200
    return dict(page.json())


# -- the one function --------------------------------------------------------------------------
@pytest.mark.parametrize(("listed", "sent", "same"), CASES)
def test_normalize_email_merges_only_nfc_and_ascii_case(listed: str, sent: str, same: bool) -> None:
    assert (normalize_email(listed) == normalize_email(sent)) is same
    assert normalize_email(f"  {sent}\t") == normalize_email(sent)


def test_normalize_email_never_folds_beyond_ascii() -> None:
    # what casefold() and lower() would merge, kept apart
    assert normalize_email("\u212a@x.test") != normalize_email("k@x.test")  # NFC alone turns it into K
    assert normalize_email("\u2126@x.test") != normalize_email("\u03c9@x.test")  # Ohm sign, omega
    assert normalize_email("\u212b@x.test") != normalize_email("\u00e5@x.test")  # Angstrom sign, a-ring
    assert normalize_email("\u00c9@x.test") != normalize_email("\u00e9@x.test")  # only A-Z change case
    assert normalize_email("\uff21@x.test") != normalize_email("a@x.test")  # full-width A, never NFKC
    assert normalize_email("xn--bcher-kva.example") != normalize_email("b\u00fccher.example")
    # what is the same address
    assert normalize_email("A.B@X.TEST") == "a.b@x.test"
    assert normalize_email("E\u0301@x.test") == "\u00c9@x.test"  # NFC composes; the case is kept
    assert normalize_email("\u212a\u0301@x.test") == "\u212a\u0301@x.test"  # a Kelvin sign stays one


# -- the places an address is compared ------------------------------------------------------------
@pytest.mark.parametrize(("listed", "sent", "same"), CASES)
def test_file_directory(
    make_app, sign_in, caplog, tmp_path: Path, listed: str, sent: str, same: bool
) -> None:
    users = tmp_path / "users.csv"
    users.write_text(f"email,role\n{listed},editor\n", encoding="utf-8")
    app, seen = make_app(users=f"file:{users}")
    browser, done = sign_in(app, sent)
    if same:
        me = _admitted(browser, done, caplog)
        assert me["user"] == listed and me["attributes"]["role"] == ["editor"]  # the directory's spelling
    else:
        _refused(browser, done, seen, caplog, "unknown_user")
        assert sent in done.text  # the refused page names the address the IdP sent


@pytest.mark.parametrize(("listed", "sent", "same"), CASES)
def test_sql_directory_gets_the_normalised_address(
    make_app, sign_in, caplog, tmp_path: Path, listed: str, sent: str, same: bool
) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:  # the documented shape: a column holding normalize_email(email)
        conn.execute("CREATE TABLE users (email TEXT, email_key TEXT, role TEXT)")
        conn.execute("INSERT INTO users VALUES (?, ?, 'editor')", (listed, normalize_email(listed)))
    conn.close()
    query = "SELECT email, role FROM users WHERE email_key = :email"
    app, seen = make_app(users=f"sql:sqlite:///{db}", user_query=query)
    browser, done = sign_in(app, sent)
    if same:
        me = _admitted(browser, done, caplog)
        assert me["user"] == listed and me["attributes"]["role"] == ["editor"]
    else:
        _refused(browser, done, seen, caplog, "unknown_user")


@pytest.mark.parametrize(("listed", "sent", "same"), CASES)
def test_admin_emails_open_the_setup_page_only_to_the_listed_address(
    make_app, sign_in, caplog, listed: str, sent: str, same: bool
) -> None:
    app, _ = make_app(admin_emails=(listed,))
    browser, done = sign_in(app, sent)
    _admitted(browser, done, caplog)  # the default directory admits everyone the IdP vouches for
    page = browser.get("/saml/setup")
    if same:
        assert page.status_code == 200 and "Effective settings" in page.text
    else:
        assert page.status_code == 403 and "not in SAML_ADMIN_EMAILS" in page.text
        assert "Effective settings" not in page.text


@pytest.mark.parametrize(("allowed", "sent", "same"), DOMAINS)
def test_allowed_domains(make_app, sign_in, caplog, allowed: str, sent: str, same: bool) -> None:
    app, seen = make_app(allowed_domains=(allowed,))
    browser, done = sign_in(app, sent)
    if same:
        assert _admitted(browser, done, caplog)["user"] == unicodedata.normalize("NFC", sent)
    else:
        _refused(browser, done, seen, caplog, "domain_not_allowed")


@pytest.mark.parametrize(("listed", "sent", "same"), CASES)
def test_revoking_one_user_never_ends_a_lookalikes_sessions(
    adapter: str, clock: Clock, settings_factory, sign_in, caplog, listed: str, sent: str, same: bool
) -> None:
    store = MemorySessionStore(clock=clock)
    settings = settings_factory(session_store="server")
    seen = Seen()
    app: Any = (
        SAMLMiddleware(asgi_app(seen), settings=settings, clock=clock, session_store=store)
        if adapter == "asgi"
        else SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, clock=clock, session_store=store)
    )
    browser, done = sign_in(app, sent)
    _admitted(browser, done, caplog)
    assert store.revoke(listed) == int(same)
    assert browser.get("/").status_code == (302 if same else 200)


def test_dev_idp_keeps_lookalike_users_apart(idp: DevIdP) -> None:
    people = [DevUser(email=listed) for listed, _ in LOOKALIKES.values()]
    people += [DevUser(email=sent) for _, sent in LOOKALIKES.values()]
    twin = DevIdP(IDP, key_pem=idp.key_pem, cert_pem=idp.cert_pem, users=people)
    for listed, sent in LOOKALIKES.values():
        assert twin.get_user(listed).email == listed and twin.get_user(sent).email == sent
    with pytest.raises(ValueError, match="two users have the e-mail"):
        DevIdP(
            IDP, key_pem=idp.key_pem, cert_pem=idp.cert_pem, users=[DevUser("a@x.test"), DevUser("A@X.test")]
        )


@pytest.mark.needs("redis-server")
def test_sessions_revoke_command_keeps_lookalikes_apart_in_redis(
    env, monkeypatch, capsys, redis_server: RedisServer, sign_in, caplog, adapter: str, clock: Clock
) -> None:
    """``saml-middleware sessions revoke`` against a real redis-server: the per-user index key."""
    redis_server.flush()
    monkeypatch.setenv("SAML_SESSION_STORE", "server")
    monkeypatch.setenv("SAML_STORE_URL", redis_server.url)
    seen = Seen()
    app: Any = (
        SAMLMiddleware(asgi_app(seen), clock=clock)
        if adapter == "asgi"
        else SAMLWSGIMiddleware(wsgi_app(seen), clock=clock)
    )
    browsers = {}
    for email in (
        "b.simon@contoso.com",
        "b.\u017fimon@contoso.com",
        "kate@contoso.com",
        "\u212aate@contoso.com",
    ):
        browsers[email], done = sign_in(app, email)
        _admitted(browsers[email], done, caplog)
    assert cli_main(["sessions", "revoke", "B.Simon@contoso.com"]) == 0
    assert cli_main(["sessions", "revoke", "Kate@Contoso.com"]) == 0
    assert capsys.readouterr().out.count("ended 1 session of") == 2
    assert browsers["b.simon@contoso.com"].get("/").status_code == 302
    assert browsers["kate@contoso.com"].get("/").status_code == 302
    assert browsers["b.\u017fimon@contoso.com"].get("/").status_code == 200
    assert browsers["\u212aate@contoso.com"].get("/").status_code == 200


def test_a_user_file_may_list_lookalikes_as_distinct_people(tmp_path: Path) -> None:
    from saml_middleware.user import SAMLUser
    from saml_middleware.users.file import FileDirectory

    users = tmp_path / "users.csv"
    rows = [f"{a},{i}a\n{b},{i}b\n" for i, (a, b) in enumerate(LOOKALIKES.values())]
    users.write_text("email,row\n" + "".join(rows), encoding="utf-8")
    directory = FileDirectory(users)  # no "repeats the e-mail" error: they are different addresses
    for i, (listed, sent) in enumerate(LOOKALIKES.values()):
        for email, row in ((listed, f"{i}a"), (sent, f"{i}b")):
            found = directory.lookup(SAMLUser(email, email))
            assert found is not None and found.attributes["row"] == [row]
    # the same address twice (NFD vs NFC, ASCII case) is still one person: refused at start
    users.write_text("email\njos\u00e9@contoso.com\nJOSe\u0301@Contoso.COM\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="repeats the e-mail"):
        FileDirectory(users)
