"""Settings: every ``SAML_*`` environment variable, parsed and validated at once.

>>> s = Settings.from_env({
...     "SAML_BASE_URL": "https://app.example.com",
...     "SAML_SECRET_KEY": "change-me-to-32-random-bytes.....",
... })
>>> s.acs_url, s.sp_entity_id
('https://app.example.com/saml/acs', 'https://app.example.com/saml/metadata')
>>> s.idp_configured  # the IdP comes later: SAML_IDP_METADATA_URL, _FILE, or the manual trio
False

Any variable may also be given as ``NAME_FILE`` naming a file that holds the
value (for secrets mounted by Docker or Kubernetes). A bad or missing value
raises one :class:`~saml_middleware.errors.ConfigError` listing every problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from .configenv import csv, env_values
from .configrules import (
    base_url_problems,
    connection_problems,
    idp_leftover_problems,
    jwt_problems,
    public_path_problems,
    store_and_user_problems,
)
from .errors import ConfigError
from .keysettings import normalised_keys
from .masking import SECRET, SECRET_URL, redact, secrecy, shown_secret
from .user import normalize_email

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """The middleware's configuration. Build it with :meth:`from_env` or directly.

    Field names are the environment variable names without ``SAML_``, lower
    case. Certificates and keys accept PEM text, a path to a PEM file, or (for
    the key) PKCS#8 DER. ``__post_init__`` validates and normalises everything
    and raises a single :class:`ConfigError` listing every problem.

    .. warning:: ``secret_key`` signs session cookies. Anyone who knows it can
       log in as anyone: use 32 random bytes (``saml-middleware keygen``
       prints one) and keep it out of source control.
    """

    base_url: str = field(default="", metadata=SECRET_URL)
    secret_key: tuple[str, ...] = field(default=(), metadata=SECRET)
    path_prefix: str = "/saml"
    sp_entity_id: str = field(default="", metadata=SECRET_URL)
    acs_path: str = ""
    idp_metadata_url: str = field(default="", metadata=SECRET_URL)
    idp_metadata: str = ""
    idp_metadata_file: str = ""
    idp_sso_url: str = field(default="", metadata=SECRET_URL)
    idp_slo_url: str = field(default="", metadata=SECRET_URL)
    idp_entity_id: str = field(default="", metadata=SECRET_URL)
    idp_cert: tuple[str, ...] = ()
    idp_metadata_cert: tuple[str, ...] = ()
    idp_metadata_refresh: int = 86400
    sp_key: str = field(default="", metadata=SECRET)
    sp_cert: str = ""
    sp_key_next: str = field(default="", metadata=SECRET)
    sp_cert_next: str = ""
    email_attribute: str = ""
    users: str = field(default="assertion", metadata=SECRET_URL)
    user_query: str = ""
    user_id_attribute: str = ""
    allowed_domains: tuple[str, ...] = ()
    attribute_map: Mapping[str, str] = field(default_factory=dict)
    allow_idp_initiated: bool = False
    default_redirect: str = "/"
    force_authn: bool = False
    allow_sha1: bool = False
    allow_missing_authn_statement: bool = False
    require_encryption: bool = False
    session_max_age: int = 28800
    session_idle_timeout: int = 3600
    session_store: str = "cookie"
    session_claims: tuple[str, ...] = ()
    session_overflow: str = "auto"
    store_url: str = field(default="memory://", metadata=SECRET_URL)
    public_paths: tuple[str, ...] = ()
    clock_skew: int = 180
    response_max_age: int = 300
    max_body: int = 256 * 1024
    enabled: bool = True
    admin_emails: tuple[str, ...] = ()
    metrics_token: str = field(default="", metadata=SECRET)
    header_user: str = "X-Remote-User"
    header_email: str = "X-Remote-Email"
    header_name: str = "X-Remote-Name"
    header_attributes: tuple[str, ...] = ()
    # -- signed identity for upstreams: X-Remote-Jwt (gate/upstream_jwt.py) --
    jwt: str = "off"
    jwt_secret: str = field(default="", metadata=SECRET)
    jwt_audience: str = ""
    jwt_ttl: int = 60
    header_groups: tuple[str, ...] = ("all",)  # all | rules | none | group ids/names (identity_headers.py)
    # -- many tenants (connections/) ------------------------------------
    connections: str = field(default="", metadata=SECRET_URL)
    connection_routing: tuple[str, ...] = ("host", "domain", "path")
    connections_refresh: int = 5
    setup_link_ttl: int = 86400
    #: let connections' metadata URLs (setup page, first load, refreshes) be on loopback/private addresses
    setup_allow_private_metadata: bool = False
    # -- access rules (access/) -----------------------------------------
    allowed_groups: tuple[str, ...] = ()
    allowed_roles: tuple[str, ...] = ()
    access_rules: str = ""
    authn_request_binding: str = "auto"

    def __repr__(self) -> str:
        """Every field, secrets masked by the mark on their field: a traceback with local
        variables (Sentry, ``pytest --showlocals``) or a debug print never shows a key."""
        shown = []
        for f in fields(self):
            kind, value = secrecy(f), getattr(self, f.name)
            shown.append(f"{f.name}={(repr(shown_secret(kind, value)) if kind else repr(value))}")
        return f"Settings({', '.join(shown)})"

    def __post_init__(self) -> None:
        problems: list[str] = []
        set_ = object.__setattr__  # frozen: normalise in place once

        base = self.base_url.rstrip("/")
        parts = urlsplit(base)
        if not base:
            problems.append(
                "SAML_BASE_URL is required (the app's external URL, e.g. https://app.example.com)"
            )
        elif parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            problems.append(
                f"SAML_BASE_URL must be an http(s) URL without query, got {redact(self.base_url)!r}"
            )
        set_(self, "base_url", base)
        problems.extend(base_url_problems(base))

        for name in (
            "secret_key",
            "public_paths",
            "allowed_domains",
            "admin_emails",
            "header_attributes",
            "header_groups",
            "connection_routing",
            "allowed_groups",
            "allowed_roles",
            "session_claims",
        ):
            if isinstance(getattr(self, name), str):  # Settings(public_paths="/static") means one item
                set_(self, name, csv(getattr(self, name)))
        if not self.secret_key:
            problems.append("SAML_SECRET_KEY is required (comma-separated, newest first)")
        elif any(len(k) < 16 for k in self.secret_key):
            problems.append("SAML_SECRET_KEY: every key must be at least 16 characters")

        prefix = "/" + self.path_prefix.strip("/") if self.path_prefix.strip("/") else ""
        if not prefix:
            problems.append("SAML_PATH_PREFIX must not be empty or '/'")
        set_(self, "path_prefix", prefix)
        acs = self.acs_path or f"{prefix}/acs"
        if not acs.startswith("/"):
            problems.append(f"SAML_ACS_PATH must start with '/', got {acs!r}")
        set_(self, "acs_path", acs)
        if not self.sp_entity_id:
            set_(self, "sp_entity_id", f"{base}{prefix}/metadata")

        sources = [n for n in ("idp_metadata_url", "idp_metadata", "idp_metadata_file") if getattr(self, n)]
        manual = self.idp_sso_url or self.idp_entity_id or self.idp_cert
        if len(sources) > 1:
            problems.append(
                "give only one of SAML_IDP_METADATA_URL, SAML_IDP_METADATA_FILE, SAML_IDP_METADATA"
            )
        # No IdP at all is the "not configured yet" state (see idp_configured), not an error.
        if not sources and not manual:
            problems.extend(idp_leftover_problems(self.idp_slo_url, self.idp_metadata_cert))
        if not sources and manual:
            for name in ("idp_sso_url", "idp_entity_id", "idp_cert"):
                if not getattr(self, name):
                    problems.append(f"SAML_{name.upper()} is required when no IdP metadata is given")
        for name, value in normalised_keys(self, problems).items():  # certificates and key pairs
            set_(self, name, value)

        problems.extend(
            store_and_user_problems(self.users, self.user_query, self.session_store, self.store_url)
        )
        if self.session_overflow not in ("auto", "server", "refuse", "trim"):
            problems.append(
                f"SAML_SESSION_OVERFLOW must be auto, server, refuse or trim, got {self.session_overflow!r}"
            )
        for name in (
            "session_max_age",
            "session_idle_timeout",
            "max_body",
            "idp_metadata_refresh",
            "response_max_age",
            "connections_refresh",
            "setup_link_ttl",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"SAML_{name.upper()} must be a positive number of seconds/bytes")
        if self.clock_skew < 0:
            problems.append("SAML_CLOCK_SKEW must not be negative")
        if not self.default_redirect.startswith("/") or self.default_redirect.startswith("//"):
            problems.append("SAML_DEFAULT_REDIRECT must be a path on this site, e.g. /")
        problems.extend(connection_problems(self.connections, self.connection_routing))
        set_(self, "jwt", self.jwt.strip().lower())  # RS256 as well as rs256
        problems.extend(jwt_problems(self.jwt, self.jwt_secret, self.jwt_audience, self.jwt_ttl, self.sp_key))
        if self.authn_request_binding not in ("auto", "redirect", "post"):
            problems.append(
                "SAML_AUTHN_REQUEST_BINDING must be auto, redirect or post, "
                f"got {self.authn_request_binding!r}"
            )
        problems.extend(public_path_problems(self.public_paths))
        set_(self, "public_paths", tuple("/" + p.lstrip("/") for p in self.public_paths))
        # compared as identities: NFC + A-Z lower-cased only, never casefold (user.normalize_email)
        domains = (normalize_email(d.strip().lstrip("@")) for d in self.allowed_domains)
        set_(self, "allowed_domains", tuple(domains))
        set_(self, "admin_emails", tuple(normalize_email(e) for e in self.admin_emails))
        if problems:
            raise ConfigError(problems)

    # -- derived values -------------------------------------------------
    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def idp_configured(self) -> bool:
        """Is any IdP setting given? Without one the middleware runs "not configured yet"
        (metadata, health and ``check`` work; sign-in answers 503 ``sso_not_configured``)."""
        return bool(
            self.idp_metadata_url
            or self.idp_metadata
            or self.idp_metadata_file
            or self.idp_sso_url
            or self.idp_entity_id
            or self.idp_cert
        )

    @property
    def acs_url(self) -> str:
        return self.base_url + self.acs_path

    @property
    def login_path(self) -> str:
        return self.path_prefix + "/login"

    @property
    def logout_path(self) -> str:
        return self.path_prefix + "/logout"

    @property
    def metadata_path(self) -> str:
        return self.path_prefix + "/metadata"

    # -- construction from the environment -------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every ``SAML_*`` variable from ``environ`` (default ``os.environ``).

        :param overrides: field values that win over the environment.
        :raises ConfigError: listing every unreadable or invalid value.
        """
        problems: list[str] = []
        kwargs = env_values(fields(cls), os.environ if environ is None else environ, problems)
        kwargs.update(overrides)
        try:
            settings = cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(problems + exc.problems) from None
        if problems:
            raise ConfigError(problems)
        return settings
