"""A plain WSGI callable (no framework) behind SAML single sign-on.

Configured only by ``SAML_*`` environment variables. Run it::

    python -m examples.wsgi_app                                # wsgiref, on the port of SAML_BASE_URL
    gunicorn examples.wsgi_app:application -b 127.0.0.1:8000   # or any WSGI server

Signed-in requests carry ``environ["REMOTE_USER"]`` (the e-mail),
``environ["saml.user"]`` (a :class:`~saml_middleware.SAMLUser`) and
``environ["saml.logout_url"]``.

The module-level ``application`` is built at import time only when
``SAML_BASE_URL`` is set, so the module can be imported without any
configuration. In your own code, ``application = create_app()`` is all you need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from html import escape
from typing import Any

from saml_middleware import SAMLWSGIMiddleware, Settings

PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Hello</title></head>"
    "<body>{body}</body></html>"
)


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The unprotected application: knows nothing about SAML beyond ``REMOTE_USER``."""
    email = environ.get("REMOTE_USER")
    user = environ.get("saml.user")
    if email is None:  # only on SAML_PUBLIC_PATHS
        body = '<p>You are not signed in. <a href="/saml/login?next=/">Sign in</a></p>'
    else:
        name = user.display_name if user is not None and user.display_name else email
        logout_url = escape(environ.get("saml.logout_url", "/saml/logout"))
        body = (
            f"<h1>Hello, {escape(name)}</h1>"
            f"<p>You are signed in as <strong>{escape(email)}</strong>. "
            f'<a href="{logout_url}">Sign out</a></p>'
        )
    data = PAGE.format(body=body).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]


def create_app(settings: Settings | None = None, **middleware_options: Any) -> SAMLWSGIMiddleware:
    """``hello`` wrapped in :class:`SAMLWSGIMiddleware`.

    :param settings: the configuration; ``None`` reads the ``SAML_*`` environment variables.
    :param middleware_options: passed to :class:`SAMLWSGIMiddleware` (e.g. ``clock=`` in tests).
    """
    return SAMLWSGIMiddleware(hello, settings, **middleware_options)


if os.environ.get("SAML_BASE_URL"):
    application = create_app()


if __name__ == "__main__":
    from urllib.parse import urlsplit
    from wsgiref.simple_server import make_server

    wrapped = create_app()
    # Listen on the port SAML_BASE_URL names (8000 when it names none, e.g. behind a proxy).
    port = urlsplit(wrapped.settings.base_url).port or 8000
    with make_server("127.0.0.1", port, wrapped) as server:
        print(f"serving on http://127.0.0.1:{port}/ for {wrapped.settings.base_url}/ (Ctrl-C to stop)")
        server.serve_forever()
