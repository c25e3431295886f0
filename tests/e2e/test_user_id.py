"""SAML_USER_ID_ATTRIBUTE (link users on Entra's immutable object id), SAML_ATTRIBUTE_MAP and
SAML_ALLOWED_DOMAINS, through the browser."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from saml_middleware import ConfigError, SAMLUser
from saml_middleware.users import directory_from_setting

SIMON_OID = "0b5e7a2c-3f41-4d8e-9a6b-1c2d3e4f5a01"
ADELE_OID = "7d1f4c8a-2b6e-4a95-8c3d-2e4f6a8b0c02"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def _reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(r.saml_reason)
        for r in caplog.records
        if r.name == "saml_middleware" and getattr(r, "saml_event", None) == "refusal"
    ]


def test_file_directory_links_on_the_object_id_column(make_app, browser_factory, tmp_path) -> None:
    """The user's e-mail changed at the IdP (renamed); the object id still finds the record."""
    users = tmp_path / "users.csv"
    users.write_text(f"email,object_id,role\nbarbara.simon@contoso.com,{SIMON_OID},admin\n")
    app, seen = make_app(users=f"file:{users}", user_id_attribute="object_id")
    assert browser_factory(app).login().status_code == 303
    assert seen.calls == []
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    me = browser.get("/").json()
    assert me["user"] == "barbara.simon@contoso.com" and me["attributes"]["role"] == ["admin"]


def test_file_directory_links_on_a_user_id_column(make_app, browser_factory, tmp_path, caplog) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps([{"email": "adele.vance@contoso.com", "user_id": ADELE_OID}]))
    app, _ = make_app(users=f"file:{users}", user_id_attribute=OID_CLAIM)
    assert browser_factory(app).login(email="adele.vance@contoso.com").status_code == 303
    caplog.set_level(logging.INFO, logger="saml_middleware")
    # b.simon's e-mail is nowhere in the file, and matching by e-mail is off anyway.
    assert browser_factory(app).login().status_code == 403
    assert _reasons(caplog) == ["unknown_user"]


def test_file_rows_without_the_id_are_a_config_error(tmp_path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("email,role\nb.simon@contoso.com,admin\n")
    with pytest.raises(ConfigError, match=r"line 2 has no user id \(object_id or user_id\)"):
        directory_from_setting(f"file:{users}", user_id_attribute="object_id")


def test_assertion_without_the_id_attribute_is_refused(make_app, browser_factory, caplog) -> None:
    app, seen = make_app(user_id_attribute="employee_id")
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser_factory(app).login()
    assert refused.status_code == 403 and _reasons(caplog) == ["no_user_id"]
    assert seen.calls == []


def test_assertion_directory_admits_with_the_id_present(make_app, browser_factory) -> None:
    app, _ = make_app(user_id_attribute="object_id")
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    assert browser.get("/").json()["attributes"]["object_id"] == [SIMON_OID]


def test_sql_directory_takes_a_user_id_parameter(tmp_path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (oid TEXT, email TEXT, role TEXT)")
        conn.execute("INSERT INTO users VALUES (?, ?, ?)", (SIMON_OID, "barbara.simon@contoso.com", "admin"))
    query = "SELECT email, role FROM users WHERE oid = :user_id"
    directory = directory_from_setting(
        f"sql:sqlite:///{path}", user_query=query, user_id_attribute="object_id"
    )
    user = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", attributes={"object_id": [SIMON_OID]})
    found = directory.lookup(user)
    assert isinstance(found, SAMLUser) and found.email == "barbara.simon@contoso.com"
    other = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", attributes={"object_id": [ADELE_OID]})
    assert directory.lookup(other) is None
    with pytest.raises(ConfigError, match=":user_id needs SAML_USER_ID_ATTRIBUTE"):
        directory_from_setting(f"sql:sqlite:///{path}", user_query=query)


def test_attribute_map_aliases_reach_the_app(make_app, browser_factory) -> None:
    app, _ = make_app(
        attribute_map={
            "first_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            "last_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        }
    )
    browser = browser_factory(app)
    assert browser.login().status_code == 303
    attributes = browser.get("/").json()["attributes"]
    assert attributes["first_name"] == ["B."] and attributes["last_name"] == ["Simon"]


def test_allowed_domains_admit_and_refuse(make_app, browser_factory, caplog) -> None:
    allowed, _ = make_app(allowed_domains=("fabrikam.com", "Contoso.com"))
    assert browser_factory(allowed).login().status_code == 303
    refused_app, seen = make_app(allowed_domains=("fabrikam.com",))
    caplog.set_level(logging.INFO, logger="saml_middleware")
    refused = browser_factory(refused_app).login()
    assert refused.status_code == 403 and _reasons(caplog) == ["domain_not_allowed"]
    assert seen.calls == []
