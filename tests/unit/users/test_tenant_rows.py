"""File and SQL directories with a tenant: a row with a tenant matches only that tenant's users."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from saml_middleware import SAMLUser
from saml_middleware.errors import ConfigError
from saml_middleware.users.file import FileDirectory
from saml_middleware.users.sql import SQLDirectory

ALEX = SAMLUser("alex@example.com", "alex@example.com", "Alex")


def test_one_address_with_a_row_per_tenant_and_a_row_for_all(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text(
        "email,tenant,role\nalex@example.com,acme,owner\nalex@example.com,beta,viewer\nsam@example.com,,staff\n"
    )
    directory = FileDirectory(path)
    acme = directory.lookup(replace(ALEX, tenant="acme"))
    beta = directory.lookup(replace(ALEX, tenant="beta"))
    assert acme is not None and acme.attributes["role"] == ["owner"] and "tenant" not in acme.attributes
    assert beta is not None and beta.attributes["role"] == ["viewer"]
    assert directory.lookup(replace(ALEX, tenant="gamma")) is None
    assert directory.lookup(ALEX) is None  # single-IdP mode: tenant rows never match
    sam = SAMLUser("sam@example.com", "sam@example.com", "Sam")
    assert directory.lookup(replace(sam, tenant="gamma")) is not None and directory.lookup(sam) is not None


def test_a_repeated_address_within_one_tenant_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("email,tenant\nalex@example.com,acme\nALEX@example.com,acme\n")
    with pytest.raises(ConfigError, match="repeats the e-mail"):
        FileDirectory(path)


def test_sql_query_binds_the_tenant(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE m (email TEXT, tenant TEXT, plan TEXT)")
        conn.execute("INSERT INTO m VALUES ('alex@example.com', 'acme', 'gold')")
    directory = SQLDirectory(
        f"sqlite:///{db}", "SELECT plan FROM m WHERE email = :email AND tenant = :tenant"
    )
    try:
        found = directory.lookup(replace(ALEX, tenant="acme"))
        assert found is not None and found.attributes["plan"] == ["gold"]
        assert directory.lookup(replace(ALEX, tenant="beta")) is None
    finally:
        directory.close()


def test_sql_query_must_still_name_the_user(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=":email"):
        SQLDirectory(f"sqlite:///{tmp_path / 'x.db'}", "SELECT 1 FROM m WHERE tenant = :tenant")
