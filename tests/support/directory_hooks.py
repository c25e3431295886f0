"""Hooks for ``SAML_USERS=python:directory_hooks:...`` in tests/test_directory.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from saml_middleware.user import SAMLUser

#: users created just in time, keyed by e-mail (the "application database").
CREATED: dict[str, dict[str, Any]] = {}

NOT_CALLABLE = 42


def create_from_claims(user: SAMLUser) -> dict[str, Any] | None:
    """Admit people from NL and BE, creating their account on first login."""
    if user.first("Country") not in ("NL", "BE"):
        return None
    record = CREATED.setdefault(
        user.email,
        {
            "email": user.first("Email", user.email),
            "display_name": f"{user.first('FirstName', '')} {user.first('LastName', '')}".strip(),
            "role": "member",
        },
    )
    return dict(record)


async def async_create_from_claims(user: SAMLUser) -> dict[str, Any] | None:
    await asyncio.sleep(0)
    return create_from_claims(user)


def rename(user: SAMLUser) -> SAMLUser:
    return replace(user, display_name="Renamed by hook")


def wrong_type(user: SAMLUser) -> object:
    return True


def jit_user(user: SAMLUser) -> dict[str, Any] | None:
    """Admit contoso.com people, creating their account on first login (used by the e2e tests)."""
    if not user.email.endswith("@contoso.com"):
        return None
    return dict(CREATED.setdefault(user.email, {"email": user.email, "role": "member"}))


async def async_jit_user(user: SAMLUser) -> dict[str, Any] | None:
    await asyncio.sleep(0)
    return jit_user(user)


def broken_hook(user: SAMLUser) -> dict[str, Any] | None:
    """The application's database is down."""
    raise ConnectionError("database unreachable")
