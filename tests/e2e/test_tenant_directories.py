"""User directories see the tenant: just-in-time and provisioned-only tenants side by side.

Contoso (``acme``) admits whoever its IdP signs in (``SAML_USERS=assertion``, just in time);
Fabrikam (``beta``) admits only the people provisioned for it, from a file or an SQL table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..support.tenants import TenantBrowser, Tenants

MakeApp = Callable[..., tuple[Any, Any, Tenants]]
NewBrowser = Callable[[Any, Tenants], TenantBrowser]


def sign_in(browser: TenantBrowser, email: str) -> int:
    return browser.login(browser.get("/saml/login", params={"email": email}), email).status_code


def test_a_provisioned_only_tenant_beside_a_just_in_time_one(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, tmp_path: Path
) -> None:
    users = tmp_path / "users.json"
    users.write_text(
        json.dumps(
            [
                {"email": "kim@fabrikam.com", "tenant": "beta", "role": "editor"},
                {
                    "email": "lee@fabrikam.com",
                    "tenant": "contoso-tenant",
                    "role": "admin",
                },  # another tenant's row
            ]
        )
    )
    app, _, tenants = make_tenant_app(connections={"beta": {"settings": {"users": f"file:{users}"}}})
    kim, lee, adele = (tenant_browser(app, tenants) for _ in range(3))
    assert sign_in(kim, "kim@fabrikam.com") == 303
    seen = kim.get("/").json()
    assert (seen["tenant"], seen["attributes"]["role"]) == ("beta", ["editor"])
    assert "tenant" not in seen["attributes"]
    assert sign_in(lee, "lee@fabrikam.com") == 403  # a row for another tenant admits nobody here
    assert lee.get("/").status_code == 302
    assert sign_in(adele, "adele.vance@contoso.com") == 303  # Contoso: just in time
    assert adele.get("/").json()["tenant"] == "contoso-tenant"


def test_one_sql_table_for_every_tenant(
    make_tenant_app: MakeApp, tenant_browser: NewBrowser, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE members (email TEXT, tenant TEXT, plan TEXT)")
        conn.executemany(
            "INSERT INTO members VALUES (?, ?, ?)",
            [("kim@fabrikam.com", "beta", "gold"), ("adele.vance@contoso.com", "contoso-tenant", "silver")],
        )
    app, _, tenants = make_tenant_app(
        users=f"sql:sqlite:///{db}",
        user_query="SELECT plan FROM members WHERE email = :email AND tenant = :tenant",
    )
    kim, adele, simon = (tenant_browser(app, tenants) for _ in range(3))
    assert sign_in(kim, "kim@fabrikam.com") == 303
    assert kim.get("/").json()["attributes"]["plan"] == ["gold"]
    assert sign_in(adele, "adele.vance@contoso.com") == 303
    assert adele.get("/").json()["attributes"]["plan"] == ["silver"]
    assert sign_in(simon, "b.simon@contoso.com") == 403  # not provisioned in any tenant
