"""saml-middleware: a SAML 2.0 Service Provider for any ASGI or WSGI app.

>>> from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings  # doctest: +SKIP
>>> app = SAMLMiddleware(asgi_app)             # settings from SAML_* variables  # doctest: +SKIP
>>> application = SAMLWSGIMiddleware(wsgi_app)  # same settings, same behaviour  # doctest: +SKIP
"""

from .asgi import SAMLMiddleware
from .config import Settings
from .errors import REASONS, ConfigError, ResponseRejected, SAMLMiddlewareError, StoreUnavailable
from .user import SAMLUser
from .wsgi import SAMLWSGIMiddleware

__all__ = [
    "REASONS",
    "ConfigError",
    "ResponseRejected",
    "SAMLMiddleware",
    "SAMLMiddlewareError",
    "SAMLUser",
    "SAMLWSGIMiddleware",
    "Settings",
    "StoreUnavailable",
]
#: the one place the version is written (pyproject.toml reads it)
__version__ = "0.1.0"
