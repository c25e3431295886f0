"""A local SAML 2.0 identity provider shaped like Microsoft Entra ID, for demos and tests.

>>> idp = DevIdP("http://127.0.0.1:8001", sp_acs_url="http://127.0.0.1:8000/saml/acs",
...              sp_entity_id="http://127.0.0.1:8000/saml/metadata")
>>> idp.metadata_url  # doctest: +ELLIPSIS
'http://127.0.0.1:8001/.../federationmetadata/2007-06/federationmetadata.xml'

Serve ``idp.app`` with any ASGI server (e.g. uvicorn). Never deploy it.
"""

from __future__ import annotations

from ..protocol.keys import generate_keypair
from .authnrequest import AuthnRequestInfo
from .idp import DevIdP
from .pages import auto_post_form_fields
from .users import DEFAULT_USERS, DevUser, load_users, with_groups

__all__ = [
    "DEFAULT_USERS",
    "AuthnRequestInfo",
    "DevIdP",
    "DevUser",
    "auto_post_form_fields",
    "generate_keypair",
    "load_users",
    "with_groups",
]
