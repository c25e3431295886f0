"""The demo application: a page that shows who you are and every claim the IdP sent.

Also used by ``examples/`` style tests: ``demo_app()`` is a plain Starlette app
that knows nothing about SAML beyond reading ``request.user``.
"""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from .user import SAMLUser

__all__ = ["demo_app"]


async def _home(request: Request) -> HTMLResponse:
    user = request.user
    if not isinstance(user, SAMLUser):
        return HTMLResponse("<p>Not signed in. <a href='/saml/login?next=/'>Sign in</a></p>")
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(', '.join(values))}</td></tr>"
        for name, values in sorted(user.attributes.items())
    )
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Who am I</title>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
        "td{padding:.2rem .6rem;border-bottom:1px solid #ddd;word-break:break-all}</style></head><body>"
        f"<h1>Hello, {escape(user.display_name)}</h1>"
        f"<p>You are signed in as <strong>{escape(user.email)}</strong> "
        f"(NameID <code>{escape(user.name_id)}</code>, IdP <code>{escape(user.issuer)}</code>).</p>"
        '<form method="post" action="/saml/logout"><button>Sign out</button></form>'
        f"<h2>Claims</h2><table>{rows}</table>"
        '<p><a href="/api/me">/api/me</a> (JSON)</p></body></html>'
    )


async def _me(request: Request) -> JSONResponse:
    user = request.user
    if not isinstance(user, SAMLUser):
        return JSONResponse({"authenticated": False}, status_code=401)
    return JSONResponse({"authenticated": True, **user.to_dict()})


async def _public(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>This page is public (SAML_PUBLIC_PATHS).</p>")


def demo_app() -> Starlette:
    """The demo app, unwrapped. Wrap it with :class:`SAMLMiddleware`."""
    return Starlette(routes=[Route("/", _home), Route("/api/me", _me), Route("/public", _public)])
