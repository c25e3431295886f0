"""The Connection record: one customer organisation's IdP set-up.

A connection is what one customer's IT admin connects: their Entra tenant (or any
SAML IdP), the e-mail domains and hosts that are theirs, and the per-IdP settings
that in single-IdP mode are ``SAML_*`` variables. Records are immutable values;
registries (``registry.py``) store them, the index (``index.py``) looks them up.

>>> c = Connection("acme", name="Acme Corp", domains=("Acme.com",), hosts=("ACME.app.example.com",))
>>> c.tenant, c.domains, c.hosts
('acme', ('acme.com',), ('acme.app.example.com',))
>>> Connection.from_dict(c.to_dict()) == c
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from ..user import normalize_email

__all__ = ["OVERRIDABLE", "Connection"]

#: a connection id: a slug, safe in URLs (``{PREFIX}/c/{id}/...``), keys and metric labels
_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^[a-z0-9.-]+(?::[0-9]{1,5})?$")
_DOMAIN = re.compile(r"^[^\s@/]+\.[^\s@/]+$")

#: ``Settings`` fields a connection may set for itself (its per-IdP settings); the rest
#: (secret keys, base URL, store, session lifetimes...) belong to the deployment.
OVERRIDABLE = frozenset(
    {
        "email_attribute",
        "attribute_map",
        "allow_idp_initiated",
        "allow_missing_authn_statement",
        "require_encryption",
        "force_authn",
        "allow_sha1",
        "sp_key",
        "sp_cert",
        "users",
        "user_query",
        "user_id_attribute",
        "default_redirect",
        "admin_emails",
        "idp_metadata_refresh",
        "allowed_groups",
        "allowed_roles",
        "access_rules",
        "authn_request_binding",
    }
)


@dataclass(frozen=True)
class Connection:
    """One customer's IdP set-up. ``__post_init__`` normalises and validates.

    :param id: the slug naming it in URLs, keys and metric labels (``[a-z0-9-]``, 1-63).
    :param name: the customer's name, shown on pages.
    :param tenant: what the app knows the customer by (``SAMLUser.tenant``); default ``id``.
    :param enabled: its SSO switch. A disabled connection sends nobody to its IdP.
    :param domains: its e-mail domains; a domain belongs to one connection only.
    :param hosts: host names (``host[:port]``) that route to it.
    :param idp_metadata_url: the IdP by metadata URL (Entra "App Federation Metadata Url"),
    :param idp_metadata: or metadata XML,
    :param idp_sso_url: or by hand: login URL, with ``idp_entity_id`` and ``idp_cert``
        (PEM certificates, several during a rollover) and optionally ``idp_slo_url``.
    :param sp_entity_id: its SP entity ID; default ``{BASE_URL}{PREFIX}/c/{id}/metadata``.
    :param settings: per-IdP settings by ``Settings`` field name (:data:`OVERRIDABLE`).
    :param updated_at: epoch seconds of the last change (set by registries).
    :raises ConfigError: listing every problem.
    """

    id: str
    name: str = ""
    tenant: str = ""
    enabled: bool = True
    domains: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    idp_metadata_url: str = ""
    idp_metadata: str = ""
    idp_sso_url: str = ""
    idp_entity_id: str = ""
    idp_cert: tuple[str, ...] = ()
    idp_slo_url: str = ""
    sp_entity_id: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        set_ = object.__setattr__
        if not _ID.match(self.id):
            problems.append(
                f"connection id must be 1-63 of a-z, 0-9 and '-' (not first or last), got {self.id!r}"
            )
        set_(self, "tenant", self.tenant or self.id)
        set_(self, "name", self.name or self.id)
        domains = tuple(
            dict.fromkeys(normalize_email(d.strip().lstrip("@")) for d in self.domains if d.strip())
        )
        problems.extend(f"{self.id}: not an e-mail domain: {d!r}" for d in domains if not _DOMAIN.match(d))
        set_(self, "domains", domains)
        hosts = tuple(dict.fromkeys(h.strip().lower() for h in self.hosts if h.strip()))
        problems.extend(f"{self.id}: not a host name: {h!r}" for h in hosts if not _HOST.match(h))
        set_(self, "hosts", hosts)
        set_(self, "idp_cert", tuple(self.idp_cert))
        sources = [n for n in ("idp_metadata_url", "idp_metadata", "idp_sso_url") if getattr(self, n)]
        if len(sources) > 1:
            problems.append(f"{self.id}: give the IdP by one of metadata URL, metadata XML or login URL")
        if self.idp_sso_url and not (self.idp_entity_id and self.idp_cert):
            problems.append(f"{self.id}: a login URL needs the IdP entity ID and its certificate")
        unknown = sorted(set(self.settings) - OVERRIDABLE)
        if unknown:
            problems.append(f"{self.id}: settings a connection cannot set: {', '.join(unknown)}")
        set_(self, "settings", MappingProxyType(dict(self.settings)))
        if problems:
            raise ConfigError(problems)

    @property
    def idp_configured(self) -> bool:
        """Has an IdP been given (a connection may exist before its admin sets it up)?"""
        return bool(self.idp_metadata_url or self.idp_metadata or self.idp_sso_url)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``connections export``, the file and SQL registries)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                list(value) if isinstance(value, tuple) else dict(value) if f.name == "settings" else value
            )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Connection:
        """The inverse of :meth:`to_dict`; unknown keys are refused.

        :raises ConfigError: listing every problem.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError([f"{data.get('id', '?')}: unknown connection fields: {', '.join(unknown)}"])
        if "id" not in data:
            raise ConfigError(["a connection needs an id"])
        values = dict(data)
        for name in ("domains", "hosts", "idp_cert"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)
