"""The demo application: a page that shows who you are and every claim the IdP sent.

Also used by ``examples/`` style tests: ``demo_app()`` is a plain Starlette app
that knows nothing about SAML beyond reading ``request.user``. :func:`listen_or_explain`
opens the demo's ports before anything is printed, and says which one is taken.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Sequence
from functools import partial
from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from ..pages import document
from ..user import SAMLUser, normalize_email

__all__ = ["demo_app", "listen_or_explain"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}"
    "td{padding:.2rem .6rem;border-bottom:1px solid #ddd;word-break:break-all}"
)


async def _home(request: Request, admin: str = "") -> HTMLResponse:
    user = request.user
    if not isinstance(user, SAMLUser):
        return HTMLResponse("<p>Not signed in. <a href='/saml/login?next=/'>Sign in</a></p>")
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(', '.join(values))}</td></tr>"
        for name, values in sorted(user.attributes.items())
    )
    body = (
        f"<h1>Hello, {escape(user.display_name)}</h1>"
        f"<p>You are signed in as <strong>{escape(user.email)}</strong> "
        f"(NameID <code>{escape(user.name_id)}</code>, IdP <code>{escape(user.issuer)}</code>).</p>"
        f"{_tenant(user)}"
        '<form method="post" action="/saml/logout"><button>Sign out</button></form>'
        f"<h2>Claims</h2><table>{rows}</table>"
        '<p><a href="/api/me">/api/me</a> (JSON)</p>'
        f"<p>{_setup_link(user.email, admin)}</p>"
    )
    return HTMLResponse(document("Who am I", body, style=_STYLE))


def _tenant(user: SAMLUser) -> str:
    """With connections (``demo --tenants``): the tenant the app is told, and its connection."""
    if not user.connection:
        return ""
    return (
        f"<p>Your organisation: tenant <strong>{escape(user.tenant)}</strong> "
        f"(connection <code>{escape(user.connection)}</code>).</p>"
    )


def _setup_link(email: str, admin: str) -> str:
    """The setup page for the demo admin; who that is, for everyone else."""
    if admin and normalize_email(email) == normalize_email(admin):  # the rule the setup page uses
        return '<a href="/saml/setup">/saml/setup</a>: what to give the IdP, and the effective settings'
    if admin:
        return f"Sign in as <strong>{escape(admin)}</strong> (the demo admin) to see /saml/setup."
    return ""


async def _me(request: Request) -> JSONResponse:
    user = request.user
    if not isinstance(user, SAMLUser):
        return JSONResponse({"authenticated": False}, status_code=401)
    return JSONResponse({"authenticated": True, **user.to_dict()})


async def _public(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>This page is public (SAML_PUBLIC_PATHS).</p>")


def demo_app(admin: str = "") -> Starlette:
    """The demo app, unwrapped. Wrap it with :class:`SAMLMiddleware`.

    :param admin: the e-mail in ``SAML_ADMIN_EMAILS``; the page links ``/saml/setup`` for them.
    """
    home = partial(_home, admin=admin)
    return Starlette(routes=[Route("/", home), Route("/api/me", _me), Route("/public", _public)])


def listen_or_explain(host: str, ports: Sequence[tuple[int, str]]) -> list[socket.socket] | None:
    """A listening socket on ``host`` for each ``(port, option)``.

    :returns: the sockets, or ``None`` after one line on stderr naming the port that cannot be
        used and the option that chooses another (``--port``).
    """
    sockets: list[socket.socket] = []
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port, option in ports:
        try:
            sockets.append(socket.create_server((host, port), family=family))
        except OSError as exc:
            for sock in sockets:
                sock.close()
            why = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            example = f", e.g. {option} {port + 10}" if 0 < port + 10 <= 65535 else ""
            print(
                f"saml-middleware: port {port} on {host} {why}: choose another with {option}{example}",
                file=sys.stderr,
            )
            return None
    return sockets
