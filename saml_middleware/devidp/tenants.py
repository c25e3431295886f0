"""The dev IdP playing several Entra tenants at once (``saml-middleware dev-idp --tenants N``).

Tenant *k* (1..N) is a full :class:`~.idp.DevIdP` served under ``/tenant{k}``: its own
tenant GUID (so its own entity ID ``https://sts.windows.net/{guid}/``), its own signing key,
its own metadata URL, and its own users, at the domain ``tenant{k}.example``. One server
serves them all, the way one ``login.microsoftonline.com`` serves every customer's tenant;
``GET /`` lists them. Register each with ``saml-middleware connections add`` using its
metadata URL. The GUIDs depend only on *k*, so the metadata URLs survive restarts.

>>> idps = dev_tenants("http://127.0.0.1:8001", 2, keys=[None, None])
>>> [idp.users[0].email for idp in idps]
['b.simon@tenant1.example', 'b.simon@tenant2.example']
>>> idps[0].entity_id != idps[1].entity_id and idps[0].cert_pem != idps[1].cert_pem
True
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from html import escape
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from .idp import DevIdP
from .pages import page
from .users import DEFAULT_USERS, DevUser

__all__ = ["dev_tenants", "tenant_domain", "tenants_app"]

#: the most tenants one dev IdP plays (each has a key pair to generate)
MAX_TENANTS = 50


def tenant_domain(number: int) -> str:
    """The e-mail domain of tenant ``number``'s users: ``tenant{number}.example``."""
    return f"tenant{number}.example"


def _tenant_id(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://saml-middleware.invalid/dev-idp/tenant{number}"))


def _users_of(domain: str, users: Sequence[DevUser]) -> list[DevUser]:
    """``users`` moved to ``domain`` (new e-mails, so new object ids)."""
    return [replace(u, email=f"{u.email.rpartition('@')[0]}@{domain}", object_id="") for u in users]


def _domain_of(idp: DevIdP) -> str:
    return idp.users[0].email.rpartition("@")[2] if idp.users else ""


def dev_tenants(
    base_url: str,
    count: int,
    *,
    users: Sequence[DevUser] | None = None,
    keys: Sequence[tuple[str, str] | None] | None = None,
    domains: Sequence[str] | None = None,
    **options: Any,
) -> list[DevIdP]:
    """``count`` dev IdPs, tenant *k* served at ``{base_url}/tenant{k}``.

    :param users: every tenant's users, moved to its domain (default :data:`DEFAULT_USERS`).
    :param keys: per tenant, its (key PEM, certificate PEM), or ``None`` for a fresh pair.
    :param domains: per tenant, its users' e-mail domain (default :func:`tenant_domain`).
    :param options: passed to each :class:`DevIdP` (``sign``, ``clock``...).
    :raises ValueError: ``count`` outside 1..:data:`MAX_TENANTS`, or ``keys`` or ``domains`` of
        another length.
    """
    if not 1 <= count <= MAX_TENANTS:
        raise ValueError(f"the dev IdP plays 1 to {MAX_TENANTS} tenants, not {count}")
    pairs = list(keys) if keys is not None else [None] * count
    if len(pairs) != count:
        raise ValueError(f"give one key pair (or None) per tenant: {count}, not {len(pairs)}")
    names = list(domains) if domains is not None else [tenant_domain(n) for n in range(1, count + 1)]
    if len(names) != count:
        raise ValueError(f"give one e-mail domain per tenant: {count}, not {len(names)}")
    base = base_url.rstrip("/")
    idps = []
    for number, (pair, domain) in enumerate(zip(pairs, names, strict=True), 1):
        key_pem, cert_pem = pair if pair is not None else (None, None)
        idps.append(
            DevIdP(
                f"{base}/tenant{number}",
                tenant_id=_tenant_id(number),
                users=_users_of(domain, DEFAULT_USERS if users is None else users),
                key_pem=key_pem,
                cert_pem=cert_pem,
                **options,
            )
        )
    return idps


def tenants_app(idps: Sequence[DevIdP]) -> Starlette:
    """One ASGI app serving every tenant under its path, and an index of them at ``/``."""

    async def index(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<li><a href='{escape(idp.path_prefix)}/'>tenant {n}</a>: users "
            f"<span class=mail>*@{escape(_domain_of(idp))}</span><br>"
            f"<span class=note>metadata {escape(idp.metadata_url)}</span></li>"
            for n, idp in enumerate(idps, 1)
        )
        return HTMLResponse(page("Dev IdP tenants", f"<ul>{rows}</ul>"))

    routes: list[Route | Mount] = [Route("/", index, methods=["GET"])]
    routes += [Mount(idp.path_prefix, app=idp.app) for idp in idps]
    return Starlette(routes=routes)
