"""The "Upwork-style" recipe's directory hook: unknown users are created just in time.

``SAML_USERS=python:examples.recipes.upwork_users:create_or_update`` (docs/recipes/upwork.md).
Entra sends the claims ``FirstName``, ``LastName``, ``Country`` and ``Email`` (the names the
app's own SAML guide asks for). The first login creates the account from them; later logins
refresh the name and country. ``ACCOUNTS`` stands in for the application's database.
"""

from __future__ import annotations

import threading
from typing import Any

from saml_middleware import SAMLUser

__all__ = ["ACCOUNTS", "create_or_update"]

#: e-mail (lower case) -> the application's account record
ACCOUNTS: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def create_or_update(user: SAMLUser) -> dict[str, Any] | None:
    """The account for ``user``, created on first login; ``None`` (403) without the claims."""
    email = (user.first("Email") or "").strip()
    first, last = (user.first("FirstName") or "").strip(), (user.first("LastName") or "").strip()
    if not email or not (first or last):
        return None  # the IdP is not sending the claims this app needs
    with _LOCK:
        account = ACCOUNTS.setdefault(email.lower(), {"email": email, "logins": 0})
        account.update(
            display_name=f"{first} {last}".strip(),
            country=user.first("Country") or "",
            logins=account["logins"] + 1,
        )
        return {
            "email": account["email"],
            "display_name": account["display_name"],
            "country": account["country"],
        }
