"""Transport-neutral decisions: routing to the SAML endpoints, login, ACS,
sign-out and single logout, ``auth_request``, metadata refresh.

:class:`Gate` is the entry point; the ASGI and WSGI adapters translate to and
from it.
"""

from __future__ import annotations

from .gate import Gate

__all__ = ["Gate"]
