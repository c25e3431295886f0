"""saml-middleware: a SAML 2.0 Service Provider for any ASGI or WSGI app.

>>> from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
>>> async def asgi_app(scope, receive, send): ...
>>> def wsgi_app(environ, start_response): ...
>>> settings = Settings(base_url="https://app.example.com", secret_key=("32-random-bytes-from-keygen....",))
>>> app = SAMLMiddleware(asgi_app, settings=settings)           # or SAMLMiddleware(asgi_app): SAML_*
>>> application = SAMLWSGIMiddleware(wsgi_app, settings=settings)  # same settings, same behaviour
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
