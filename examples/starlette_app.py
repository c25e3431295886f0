"""Starlette behind SAML single sign-on, configured only by ``SAML_*`` environment variables.

Run it (see ``examples/README.md`` for the variables)::

    uvicorn examples.starlette_app:app                      # needs SAML_BASE_URL etc. set
    uvicorn --factory examples.starlette_app:create_app     # same, via the factory
    python -m examples.starlette_app                        # same, on the port of SAML_BASE_URL

Every path except ``SAML_PUBLIC_PATHS`` needs a signed-in user: the middleware
sends browsers to the IdP before the app sees the request, so ``request.user``
is a :class:`~saml_middleware.SAMLUser` in every handler below.

The module-level ``app`` is built at import time only when ``SAML_BASE_URL`` is
set, so the module can be imported (by tests, or by ``--factory``) without any
configuration. In your own code, ``app = create_app()`` is all you need.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from saml_middleware import SAMLMiddleware, SAMLUser, Settings

PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title></head>"
    "<body>{body}</body></html>"
)


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=status_code)


async def home(request: Request) -> HTMLResponse:
    user = request.user
    if not isinstance(user, SAMLUser):  # only with SAML_PUBLIC_PATHS=/ (every page public: a warning)
        return _page("Welcome", '<p>You are not signed in. <a href="/saml/login?next=/">Sign in</a></p>')
    rows = "".join(
        f"<li><code>{escape(name)}</code>: {escape(', '.join(values))}</li>"
        for name, values in sorted(user.attributes.items())
    )
    logout_url = escape(request.scope["saml.logout_url"])
    return _page(
        "Welcome",
        f"<h1>Hello, {escape(user.display_name or user.email)}</h1>"
        f"<p>You are signed in as <strong>{escape(user.email)}</strong>.</p>"
        f'<p><a href="/private">A protected page</a> | <a href="{logout_url}">Sign out</a></p>'
        f"<h2>Your attributes</h2><ul>{rows}</ul>",
    )


@requires("authenticated")
async def private(request: Request) -> HTMLResponse:
    # The middleware already keeps anonymous users out; @requires is a second lock
    # that still holds if someone later adds this path to SAML_PUBLIC_PATHS (403).
    return _page("Private", f"<p>Only signed-in users see this, {escape(request.user.display_name)}.</p>")


async def public(request: Request) -> HTMLResponse:
    # Reached without signing in when SAML_PUBLIC_PATHS=/public.
    who = request.user.display_name if request.user.is_authenticated else "anonymous visitor"
    return _page("Public", f"<p>This page is public. Hello, {escape(who)}.</p>")


def create_app(settings: Settings | None = None, **middleware_options: Any) -> SAMLMiddleware:
    """The Starlette app wrapped in :class:`SAMLMiddleware`.

    :param settings: the configuration; ``None`` reads the ``SAML_*`` environment variables.
    :param middleware_options: passed to :class:`SAMLMiddleware` (e.g. ``clock=`` in tests).
    """
    starlette_app = Starlette(
        routes=[Route("/", home), Route("/private", private), Route("/public", public)],
    )
    return SAMLMiddleware(starlette_app, settings, **middleware_options)


if os.environ.get("SAML_BASE_URL"):
    app = create_app()


if __name__ == "__main__":
    from urllib.parse import urlsplit

    import uvicorn

    wrapped = create_app()
    # Listen on the port SAML_BASE_URL names (8000 when it names none, e.g. behind a proxy).
    uvicorn.run(wrapped, host="127.0.0.1", port=urlsplit(wrapped.settings.base_url).port or 8000)
