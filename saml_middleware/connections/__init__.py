"""Many tenants: one deployment, one *connection* (IdP set-up) per customer organisation.

* ``model``: the :class:`Connection` record.
* ``registry``: where connections live (:class:`ConnectionRegistry`, memory default).
* ``index``: finding one by id, host or e-mail domain (:class:`ConnectionLookup`).
* ``derive``: a connection's own ``Settings`` (:func:`settings_for`).
* ``sql``, ``file``, ``python``: the registries ``SAML_CONNECTIONS`` names; ``open``:
  :func:`open_registry` and the :class:`RefreshingLookup` the gate asks (:func:`open_lookup`).

Without ``SAML_CONNECTIONS`` none of this is used: the env IdP is the only connection.
"""

from .derive import connection_prefix, settings_for, sign_on_url
from .index import ConnectionIndex, ConnectionLookup
from .model import OVERRIDABLE, Connection
from .open import RefreshingLookup, open_lookup, open_registry
from .registry import (
    ConnectionRegistry,
    DomainTaken,
    MemoryRegistry,
    ReadOnlyRegistry,
    RegistryUnavailable,
)

__all__ = [
    "OVERRIDABLE",
    "Connection",
    "ConnectionIndex",
    "ConnectionLookup",
    "ConnectionRegistry",
    "DomainTaken",
    "MemoryRegistry",
    "ReadOnlyRegistry",
    "RefreshingLookup",
    "RegistryUnavailable",
    "connection_prefix",
    "open_lookup",
    "open_registry",
    "settings_for",
    "sign_on_url",
]
