"""Every kind of user directory, logged in through both adapters."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def _no_session(response) -> bool:
    return not any(
        "saml_session=" in c and "Max-Age=0" not in c for c in response.headers.get_list("set-cookie")
    )


def test_file_directory_admits_listed_users_with_local_attributes(
    make_app, browser_factory, tmp_path: Path
) -> None:
    users = tmp_path / "users.csv"
    users.write_text("email,role,team\nB.Simon@Contoso.com,admin,ops\n")
    app, _seen = make_app(users=f"file:{users}")
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    me = browser.get("/").json()
    assert me["user"] == "B.Simon@Contoso.com"  # the directory's spelling wins
    assert me["attributes"]["role"] == ["admin"] and me["attributes"]["team"] == ["ops"]


def test_file_directory_refuses_unlisted_users_with_a_403_naming_them(
    make_app, browser_factory, tmp_path
) -> None:
    users = tmp_path / "users.json"
    users.write_text('[{"email": "b.simon@contoso.com"}]')
    app, seen = make_app(users=f"file:{users}")
    browser = browser_factory(app)
    refused = browser.login(email="adele.vance@contoso.com")
    assert refused.status_code == 403
    assert "adele.vance@contoso.com" in refused.text and "administrator" in refused.text
    assert _no_session(refused)
    assert seen.calls == []
    assert browser.get("/").status_code == 302


def test_sql_directory_reads_the_apps_own_database(make_app, browser_factory, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (email TEXT, full_name TEXT, role TEXT)")
        conn.execute("INSERT INTO users VALUES ('b.simon@contoso.com', 'Bea Simon', 'editor')")
    app, _ = make_app(
        users=f"sql:sqlite:///{db}",
        user_query=(
            "SELECT email, full_name AS display_name, role FROM users WHERE lower(email) = lower(:email)"
        ),
    )
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    me = browser.get("/").json()
    assert me["display_name"] == "Bea Simon" and me["attributes"]["role"] == ["editor"]
    assert browser_factory(app).login(email="megan.bowen@contoso.com").status_code == 403


@pytest.mark.parametrize("hook", ["jit_user", "async_jit_user"])
def test_python_hook_creates_users_just_in_time(make_app, browser_factory, monkeypatch, hook: str) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "support"))
    app, _ = make_app(users=f"python:directory_hooks:{hook}")
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    assert browser.get("/").json()["user"] == "b.simon@contoso.com"
