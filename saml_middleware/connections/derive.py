"""A connection's own ``Settings``: the deployment's, with that connection's IdP and names.

Everything that works for the single env IdP (ACS checks, login, single logout,
metadata) then works per connection unchanged. The connection's endpoints live under
``{PREFIX}/c/{id}`` and its SP entity ID is ``{BASE_URL}{PREFIX}/c/{id}/metadata``
unless the connection sets one (Entra refuses two apps with one Identifier in a tenant).

>>> from ..config import Settings
>>> from .model import Connection
>>> base = Settings(base_url="https://app.example.com", secret_key=("k" * 32,))
>>> acme = Connection("acme", domains=("acme.com",), idp_metadata_url="https://idp.example.com/md")
>>> s = settings_for(base, acme)
>>> s.path_prefix, s.acs_url, s.allowed_domains
('/saml/c/acme', 'https://app.example.com/saml/c/acme/acs', ('acme.com',))
>>> s.sp_entity_id
'https://app.example.com/saml/c/acme/metadata'

Under ``host`` routing a connection with hosts gets its security URLs on its first host
(the browser signs in there, so the session cookie is set there):

>>> topdesk = Connection("globex", hosts=("globex.app.example.com",))
>>> settings_for(base, topdesk).acs_url
'https://globex.app.example.com/saml/c/globex/acs'
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from ..config import Settings
from .model import Connection

__all__ = ["connection_prefix", "settings_for", "sign_on_url"]


def connection_prefix(base: Settings, connection_id: str) -> str:
    """``{PREFIX}/c/{id}``: where a connection's login, ACS, metadata, SLS and setup live."""
    return f"{base.path_prefix}/c/{connection_id}"


def settings_for(base: Settings, connection: Connection) -> Settings:
    """``base`` with ``connection``'s IdP, domains, endpoints, entity ID and per-IdP settings.

    The security URLs (ACS, entity ID, redirects) come from ``SAML_BASE_URL``, or under
    ``host`` routing from the connection's first configured host (same scheme): never from
    a request's ``Host`` header.

    The deployment's ``SAML_IDP_*`` values never leak into a connection: each IdP field is
    the connection's own (empty when the connection has no IdP yet: "not configured").

    :raises ConfigError: the combination is invalid (e.g. a bad certificate).
    """
    prefix = connection_prefix(base, connection.id)
    site = base.base_url
    if connection.hosts and "host" in base.connection_routing:
        site = urlunsplit(urlsplit(site)._replace(netloc=connection.hosts[0]))
    return replace(
        base,
        base_url=site,
        path_prefix=prefix,
        acs_path=f"{prefix}/acs",
        sp_entity_id=connection.sp_entity_id or f"{site}{prefix}/metadata",
        idp_metadata_url=connection.idp_metadata_url,
        idp_metadata=connection.idp_metadata,
        idp_metadata_file="",
        idp_sso_url=connection.idp_sso_url,
        idp_entity_id=connection.idp_entity_id,
        idp_cert=connection.idp_cert,
        idp_slo_url=connection.idp_slo_url,
        idp_metadata_cert=(),
        allowed_domains=connection.domains,
        connections="",
        **dict(connection.settings),
    )


def sign_on_url(derived: Settings) -> str:
    """Entra's "Sign on URL" of a connection, from its own Settings (:func:`settings_for`): its own
    ``{PREFIX}/c/{id}/login`` when ``SAML_CONNECTION_ROUTING`` has ``path``; otherwise the
    deployment's ``{PREFIX}/login`` on the connection's host (host routing: straight to its IdP)
    or on ``SAML_BASE_URL`` (the sign-in page asking for the work e-mail).

    >>> from ..config import Settings
    >>> from .model import Connection
    >>> base = Settings(base_url="https://app.example.com", secret_key=("k" * 32,))
    >>> sign_on_url(settings_for(base, Connection("acme")))
    'https://app.example.com/saml/c/acme/login'
    >>> sign_on_url(settings_for(replace(base, connection_routing=("domain",)), Connection("acme")))
    'https://app.example.com/saml/login'
    """
    if "path" in derived.connection_routing:
        return derived.base_url + derived.login_path
    return derived.base_url + derived.path_prefix.rsplit("/c/", 1)[0] + "/login"
