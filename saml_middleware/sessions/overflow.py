"""Sessions that do not fit in a cookie: ``SAML_SESSION_CLAIMS`` and ``SAML_SESSION_OVERFLOW``.

Browsers drop a cookie over 4 KB, and an Entra user in ~100 groups with long names
already needs more. Nothing is ever lost silently:

* ``SAML_SESSION_CLAIMS`` names the attributes a session keeps (names or aliases; an alias
  keeps its claim URI too and the reverse). The identity (e-mail, NameID, display name,
  connection, tenant, SessionIndex) is always kept, and so are the attributes the
  middleware reads itself (``SAML_USER_ID_ATTRIBUTE``, ``SAML_HEADER_ATTRIBUTES``, groups
  and roles while access rules need them). Unset: every attribute.
* ``SAML_SESSION_OVERFLOW`` decides what a cookie session that still does not fit becomes:
  ``server`` (kept in ``SAML_STORE_URL``, the cookie holds a signed id), ``refuse`` (the login
  is refused: 403 ``session_too_large``) or ``trim`` (the largest attributes are left out, each
  named in the log). ``auto`` (default) is ``server`` with a shared store (``redis://``...),
  ``refuse`` with ``memory://``: a session in one process's memory is lost to the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from ..config import Settings
from ..errors import ResponseRejected
from ..protocol.identity import ENTRA_ALIASES
from ..user import SAMLUser
from .session import Session

__all__ = [
    "MAX_COOKIE_BYTES",
    "STORED_MARK",
    "ClaimFilter",
    "Keeper",
    "Overflow",
    "attribute_counts",
    "needs_store",
    "overflow_policy",
    "trim_order",
]

#: A Set-Cookie value longer than this risks being dropped by the browser.
MAX_COOKIE_BYTES = 4000
#: the first character of a session cookie whose session overflowed into the store
#: (never the first character of a signed cookie session, which is url-safe base64)
STORED_MARK = "~"

logger = logging.getLogger("saml_middleware")


def overflow_policy(settings: Settings) -> str:
    """``server``, ``refuse`` or ``trim``: what ``SAML_SESSION_OVERFLOW`` means with this store.

    >>> s = Settings(base_url="https://a.example.com", secret_key=("k" * 32,))
    >>> overflow_policy(s), overflow_policy(Settings(**{**s.__dict__, "store_url": "redis://r:6379/0"}))
    ('refuse', 'server')
    """
    if settings.session_overflow != "auto":
        return settings.session_overflow
    return "refuse" if settings.store_url.startswith("memory:") else "server"


def needs_store(settings: Settings) -> bool:
    """Do sessions need the session store (server sessions, or cookie sessions that may overflow)?"""
    return settings.session_store == "server" or overflow_policy(settings) == "server"


class ClaimFilter:
    """Keeps the attributes ``SAML_SESSION_CLAIMS`` names (and those the middleware reads).

    >>> s = Settings(base_url="https://a.example.com", secret_key=("k" * 32,), session_claims=("roles",))
    >>> user = SAMLUser("a@example.com", "a@example.com", attributes={"roles": ["Admin"], "groups": ["g"]})
    >>> dict(ClaimFilter(s)(user).attributes)
    {'roles': ['Admin']}
    """

    def __init__(self, settings: Settings) -> None:
        self.names: frozenset[str] | None = None
        if not settings.session_claims:
            return
        aliases = {**ENTRA_ALIASES, **settings.attribute_map}
        wanted = {*settings.session_claims, *settings.header_attributes}
        if settings.user_id_attribute:
            wanted.add(settings.user_id_attribute)
        if settings.allowed_groups or settings.access_rules:
            wanted.add("groups")
        if settings.allowed_roles or settings.access_rules:
            wanted.add("roles")
        names = set(wanted)
        for name in wanted:
            claim = aliases.get(name, name)
            names.add(claim)
            names.update(alias for alias, c in aliases.items() if c == claim)
        self.names = frozenset(names)

    def __call__(self, user: SAMLUser) -> SAMLUser:
        if self.names is None:
            return user
        kept = {k: v for k, v in user.attributes.items() if k in self.names}
        return user if len(kept) == len(user.attributes) else replace(user, attributes=kept)


def attribute_counts(attributes: Mapping[str, list[str]]) -> str:
    """``"12 attributes, 152 values"`` for a log line (values counted once per distinct list)."""
    distinct = {tuple(v) for v in attributes.values()}
    return f"{len(attributes)} attributes, {sum(len(v) for v in distinct)} values"


def trim_order(attributes: Mapping[str, list[str]]) -> list[list[str]]:
    """Names grouped by shared values (a claim URI with its alias), largest first: what
    ``trim`` leaves out, one group at a time, until the cookie fits."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, values in attributes.items():
        groups.setdefault(tuple(values), []).append(name)
    ordered = sorted(groups.items(), key=lambda item: -sum(len(v) + 3 for v in item[0]))
    return [names for _, names in ordered]


class Keeper(Protocol):
    """Creates a session kept in the store (a :class:`~saml_middleware.sessions.ServerSessionManager`)."""

    def create(self, user: SAMLUser) -> tuple[Session, str]: ...


class Overflow:
    """What a cookie session that does not fit becomes (``SAML_SESSION_OVERFLOW``).

    :param policy: from :func:`overflow_policy`.
    :param stored: with ``server``, the manager that keeps the session in the store
        (its cookie value starts with :data:`STORED_MARK`); without one, ``server`` refuses.
    """

    def __init__(self, policy: str, stored: Keeper | None) -> None:
        self.policy = policy if policy != "server" or stored is not None else "refuse"
        self.stored = stored
        self._told = False

    def __call__(
        self, session: Session, header: str, render: Callable[[Session], str]
    ) -> tuple[Session, str]:
        """``session`` (whose cookie ``header`` is too long) as a session that fits, or refused.

        :param render: the ``Set-Cookie`` of a cookie session.
        :raises ResponseRejected: ``session_too_large`` (with ``refuse``, or when even the
            identity alone does not fit).
        """
        user = session.user
        size, counts = len(header), attribute_counts(user.attributes)
        if self.policy == "server" and self.stored is not None:
            level = logging.INFO if self._told else logging.WARNING
            self._told = True  # once at WARNING per process; each one at INFO after
            logger.log(
                level,
                "session cookie for %s would be %d bytes (%s; browsers drop cookies over 4 KB): "
                "session kept in the server store (SAML_SESSION_OVERFLOW=server)",
                user.email, size, counts,
            )  # fmt: skip
            return self.stored.create(user)
        if self.policy == "trim":
            kept, left_out = dict(user.attributes), []
            for names in trim_order(user.attributes):
                for name in names:
                    del kept[name]
                left_out += names
                smaller = replace(session, user=replace(user, attributes=dict(kept)))
                header = render(smaller)
                if len(header) <= MAX_COOKIE_BYTES:
                    logger.warning(
                        "session cookie for %s would be %d bytes (%s; browsers drop cookies over 4 KB): "
                        "left out %d attributes (SAML_SESSION_OVERFLOW=trim): %s",
                        user.email, size, counts, len(left_out), ", ".join(left_out),
                    )  # fmt: skip
                    return smaller, header
        raise ResponseRejected(
            "session_too_large",
            f"the session cookie would be {size} bytes ({counts}); browsers drop cookies over 4 KB. "
            "Set SAML_SESSION_CLAIMS to the attributes the app needs, or a shared "
            "SAML_STORE_URL=redis://... (SAML_SESSION_OVERFLOW=auto then keeps such sessions there)",
            email=user.email,
        )
