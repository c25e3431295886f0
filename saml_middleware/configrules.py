"""Validation rules for settings values that look right but do the wrong thing.

Pure functions over already-split values, called by ``Settings.__post_init__``:
each returns one line per problem, naming the variable, what is wrong and the fix.

>>> public_path_problems(("/static", "/health"))
[]
>>> base_url_problems("https://app.example.com")
[]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from .masking import redact

__all__ = [
    "STORE_SCHEMES",
    "TARGET_ENV",
    "base_url_problems",
    "connection_problems",
    "idp_leftover_problems",
    "jwt_problems",
    "public_path_problems",
    "public_path_warnings",
    "store_and_user_problems",
]

#: How ``run``/``proxy`` worker processes learn what to serve (``--workers`` > 1 needs an
#: import string); set by ``serve/runner.py``, known to ``saml-middleware check``.
TARGET_ENV = "SAML_MIDDLEWARE_SERVE"

_SEPARATORS = re.compile(r"[\s;]+")
_EXAMPLE = "e.g. SAML_PUBLIC_PATHS=/static,/health"


def base_url_problems(base: str) -> list[str]:
    """``SAML_BASE_URL`` (trailing ``/`` removed) must be an origin: a path builds an ACS URL
    that nothing serves, since the middleware's endpoints are matched from the root of the site."""
    parts = urlsplit(base)
    if not parts.scheme or not parts.netloc or not parts.path:
        return []
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        f"SAML_BASE_URL must be the site's origin without a path, got {base!r}. "
        f"For an app served under {path}, set SAML_BASE_URL={origin} and "
        f"SAML_PATH_PREFIX={path}/saml (and SAML_DEFAULT_REDIRECT={path}/), with the proxy "
        f"passing {path} through to the app unchanged"
    ]


def public_path_problems(items: Sequence[str]) -> list[str]:
    """``SAML_PUBLIC_PATHS``, split on commas: path prefixes, nothing else.

    Refused: JSON, full URLs, lists separated by spaces or semicolons, and wildcards
    (a prefix already covers everything below it). ``/`` is a warning (:func:`public_path_warnings`).
    """
    if any(item.startswith(("[", "{")) or '"' in item or "'" in item for item in items):
        return [f"SAML_PUBLIC_PATHS is a comma-separated list of paths, not JSON: {_EXAMPLE}"]
    problems = []
    for item in items:
        if "://" in item:
            path = urlsplit(item).path or "/"
            problems.append(f"SAML_PUBLIC_PATHS: {item!r} is a URL; give only its path: {path}")
        elif _SEPARATORS.search(item):
            joined = ",".join(p for p in _SEPARATORS.split(item) if p)
            problems.append(
                f"SAML_PUBLIC_PATHS: {item!r} holds spaces or semicolons; separate paths with "
                f"commas: {joined}"
            )
        elif any(c in item for c in "*?["):
            stem = re.split(r"[*?\[]", item, maxsplit=1)[0].rstrip("/")
            fix = f"write {stem}" if stem else "list the public path prefixes instead"
            problems.append(
                f"SAML_PUBLIC_PATHS: {item!r} is a wildcard pattern; a path already covers "
                f"everything below it: {fix}"
            )
    return problems


def public_path_warnings(items: Sequence[str]) -> list[str]:
    """``/`` in ``SAML_PUBLIC_PATHS`` covers every path: the whole app is public and only pages
    that ask for a user (or ``/saml/login``) sign anyone in. Rarely meant, so a warning."""
    if "/" not in items:
        return []
    return [
        "SAML_PUBLIC_PATHS lists '/', which makes every page public (a prefix covers everything "
        f"below it): list only the public prefixes ({_EXAMPLE}); to turn sign-in off, set "
        "SAML_ENABLED=false instead"
    ]


def idp_leftover_problems(slo_url: str, metadata_cert: Sequence[str]) -> list[str]:
    """IdP details given without the IdP itself (no metadata, no manual login URL)."""
    named = (("SAML_IDP_SLO_URL", slo_url), ("SAML_IDP_METADATA_CERT", metadata_cert))
    given = [name for name, value in named if value]
    return [
        f"{name} is set but no IdP is: add SAML_IDP_METADATA_URL (Entra: App Federation Metadata Url), "
        "SAML_IDP_METADATA_FILE, or SAML_IDP_SSO_URL + SAML_IDP_ENTITY_ID + SAML_IDP_CERT"
        for name in given
    ]


#: ways a login finds its connection (``SAML_CONNECTION_ROUTING``), tried in the order given
ROUTINGS = ("host", "domain", "path")


def connection_problems(connections: str, routing: Sequence[str]) -> list[str]:
    """``SAML_CONNECTIONS`` names a registry kind; ``SAML_CONNECTION_ROUTING`` lists known ways.

    >>> connection_problems("sqlite:///var/lib/app/connections.db", ("host", "domain"))
    []
    >>> connection_problems("connections.json", ("host",))[0][:40]
    'SAML_CONNECTIONS must be sqlite:///PATH,'
    """
    problems = []
    if connections and ":" not in connections:
        problems.append(
            "SAML_CONNECTIONS must be sqlite:///PATH, a SQLAlchemy URL (postgresql://...), "
            "file:PATH (JSON) or python:module:function"
        )
    unknown = [r for r in routing if r not in ROUTINGS]
    if unknown or not routing:
        problems.append(
            "SAML_CONNECTION_ROUTING is a comma-separated list of host, domain, path; "
            f"got {','.join(routing)!r}"
        )
    return problems


#: ``SAML_JWT`` modes: no header, signed with the SP key, signed with ``SAML_JWT_SECRET``
JWT_MODES = ("off", "rs256", "hs256")


def jwt_problems(mode: str, secret: str, audience: str, ttl: int, sp_key: str) -> list[str]:
    """``SAML_JWT`` and its companions: the key the mode signs with is there, the lifetime is short.

    >>> jwt_problems("rs256", "", "", 60, "")
    ['SAML_JWT=rs256 signs with the SP key: set SAML_SP_KEY and SAML_SP_CERT (saml-middleware keygen)']
    >>> jwt_problems("hs256", "x" * 32, "https://api.example.com", 60, "")
    []
    """
    if mode not in JWT_MODES:
        return [f"SAML_JWT must be off, rs256 or hs256, got {mode!r}"]
    problems = []
    if mode == "rs256" and not sp_key:
        problems.append(
            "SAML_JWT=rs256 signs with the SP key: set SAML_SP_KEY and SAML_SP_CERT (saml-middleware keygen)"
        )
    if mode == "hs256" and len(secret.encode()) < 32:
        problems.append(
            "SAML_JWT=hs256 needs SAML_JWT_SECRET of at least 32 bytes (random, shared with the upstream)"
        )
    if not 1 <= ttl <= 3600:
        problems.append(f"SAML_JWT_TTL must be between 1 and 3600 seconds (short-lived), got {ttl}")
    if audience and any(c.isspace() for c in audience):
        problems.append(f"SAML_JWT_AUDIENCE must be one URL or name without spaces, got {audience!r}")
    return problems


#: SAML_STORE_URL schemes (saml_middleware/stores/urls.py validates the rest when the store opens)
STORE_SCHEMES = frozenset(
    (
        "memory",
        "redis",
        "rediss",
        "unix",
        "redis+sentinel",
        "rediss+sentinel",
        "redis+cluster",
        "rediss+cluster",
        "python",
    )
)


def store_and_user_problems(users: str, user_query: str, session_store: str, store_url: str) -> list[str]:
    """``SAML_USERS`` (with ``SAML_USER_QUERY``), ``SAML_SESSION_STORE`` and the scheme of
    ``SAML_STORE_URL`` (the rest of that URL is checked by ``stores/urls.py`` when the store opens).

    >>> store_and_user_problems("assertion", "", "cookie", "redis+sentinel://h1:26379/mymaster/0")
    []
    """
    problems = []
    if not (users == "assertion" or users.split(":", 1)[0] in ("file", "sql", "python")):
        problems.append(
            "SAML_USERS must be assertion, file:PATH, sql:URL or python:module:function, "
            f"got {redact(users)!r}"
        )
    if users.startswith("sql:") and not user_query:
        problems.append("SAML_USER_QUERY is required with SAML_USERS=sql:... (a query taking :email)")
    if session_store not in ("cookie", "server"):
        problems.append(f"SAML_SESSION_STORE must be cookie or server, got {session_store!r}")
    if store_url.split(":", 1)[0] not in STORE_SCHEMES:
        problems.append(
            "SAML_STORE_URL must be memory://, redis[s]://, unix://, redis[s]+sentinel://, "
            f"redis[s]+cluster:// or python:module:factory, got {redact(store_url)!r}"
        )
    return problems
