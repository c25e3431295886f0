"""``{PREFIX}/setup`` with connections: the deployment admins' page (``SAML_ADMIN_EMAILS``).

In single-IdP mode ``{PREFIX}/setup`` shows the one IdP (:mod:`saml_middleware.ops.setup_page`).
With connections it lists every connection: its SSO switch, how its IdP is given, its domains
and hosts, and the values its customer pastes into Entra's "Basic SAML Configuration"
(Identifier, Reply URL, Sign on URL, Logout URL, SP metadata); then the deployment's own
settings, secrets masked. It never shows a setup link or a certificate: setup links are made
with ``saml-middleware connections setup-link ID``. Read-only: changes are made with the
``connections`` command (or by the customer's admin on their setup page).

Who may open it: a signed-in user (from any connection) whose e-mail is in the deployment's
``SAML_ADMIN_EMAILS``; anyone else signed in gets 403, and a visitor is sent to sign in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape

from ..config import Settings
from ..connections import Connection, ConnectionLookup, settings_for, sign_on_url
from ..errors import ConfigError
from ..http import HTTPRequest, HTTPResponse
from ..masking import redact
from ..ops.setup_page import masked_settings
from ..pages import document, page
from ..protocol.logout import sls_url
from ..sessions import Session
from ..user import normalize_email

__all__ = ["SHOWN", "DeploymentSetup"]

#: the most connections listed (the rest: ``saml-middleware connections list``)
SHOWN = 200

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70rem;margin:1.5rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.45}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;"
    "padding:.35rem .4rem;text-align:left;vertical-align:top}code{background:#f3f3f3;padding:.1rem .3rem;"
    "word-break:break-all}.off{color:#8a4b00}"
)

SessionReader = Callable[[str | None, str | None], "tuple[Session, str | None] | None"]


def _listed(connections: ConnectionLookup) -> list[Connection] | None:
    """Every connection the lookup can list (``all()`` or iteration), or ``None``."""
    every = getattr(connections, "all", None)
    if callable(every):
        return sorted(every(), key=lambda c: c.id)
    if isinstance(connections, Iterable):
        return sorted(connections, key=lambda c: c.id)
    return None


def _idp(c: Connection) -> str:
    if c.idp_metadata_url:
        return f"metadata URL <code>{escape(redact(c.idp_metadata_url))}</code>"
    if c.idp_metadata:
        return "metadata XML"
    if c.idp_sso_url:
        return f"by hand: <code>{escape(c.idp_entity_id)}</code>"
    return "<span class=off>not set up yet</span>"


def _values(base: Settings, c: Connection) -> str:
    """What the customer pastes into Entra, for ``c`` (or why it cannot be computed)."""
    try:
        s = settings_for(base, c)
    except ConfigError as exc:
        return f"<span class=off>invalid record: {escape('; '.join(exc.problems))}</span>"
    rows = (
        ("Identifier", s.sp_entity_id),
        ("Reply URL", s.acs_url),
        ("Sign on URL", sign_on_url(s)),
        ("Logout URL", sls_url(s)),
        ("SP metadata", s.base_url + s.metadata_path),
    )
    return "<br>".join(f"{name}: <code>{escape(value)}</code>" for name, value in rows)


def _row(settings: Settings, c: Connection) -> str:
    sso = "on" if c.enabled else "<span class=off>off</span>"
    cells = (
        f"<code>{escape(c.id)}</code><br>{escape(c.name)}<br>tenant <code>{escape(c.tenant)}</code>",
        sso,
        _idp(c),
        escape(", ".join(c.domains) or "-"),
        escape(", ".join(c.hosts) or "-"),
        _values(settings, c),
    )
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def render_connections(settings: Settings, connections: list[Connection] | None, user_email: str) -> bytes:
    """The page (escaped here)."""
    intro = (
        f"<p>Signed in as <strong>{escape(user_email)}</strong> (<code>SAML_ADMIN_EMAILS</code>). "
        "Change connections with <code>saml-middleware connections add|update|enable|disable</code>; "
        "hand one to its customer's IT admin with "
        "<code>saml-middleware connections setup-link ID</code> (see docs/tenants.md).</p>"
    )
    if connections is None:
        listing = (
            "<p>This registry cannot be listed here: use <code>saml-middleware connections list</code>.</p>"
        )
    else:
        rows = "".join(_row(settings, c) for c in connections[:SHOWN])
        more = len(connections) - SHOWN
        listing = (
            f"<h2>Connections ({len(connections)})</h2><div><table><tr><th>Connection</th><th>SSO</th>"
            "<th>IdP</th><th>Domains</th><th>Hosts</th><th>Values for Entra (Basic SAML Configuration)"
            f"</th></tr>{rows}</table></div>"
        )
        if more > 0:
            listing += f"<p>{more} more: <code>saml-middleware connections list</code>.</p>"
    settings_rows = "".join(
        f"<tr><th>{escape(name)}</th><td><code>{escape(value)}</code></td></tr>"
        for name, value in masked_settings(settings)
        if value
    )
    body = (
        f"<h1>SAML setup: connections</h1>{intro}{listing}"
        f"<h2>Deployment settings</h2><table>{settings_rows}</table>"
    )
    return document("SAML setup: connections", body, style=_STYLE).encode()


class DeploymentSetup:
    """Serves ``{PREFIX}/setup`` for a deployment with connections.

    :param settings: the deployment's settings (``SAML_ADMIN_EMAILS``).
    :param connections: the lookup; listed when it has ``all()`` or can be iterated.
    :param session: the gate's ``session(cookie_header, host)``.
    :param challenge: the gate's answer to a visitor (to the sign-in page).
    """

    def __init__(
        self,
        settings: Settings,
        connections: ConnectionLookup,
        session: SessionReader,
        challenge: Callable[[HTTPRequest], HTTPResponse],
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.session = session
        self.challenge = challenge

    def __call__(self, request: HTTPRequest, resolve: object = None) -> HTTPResponse:
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse.html(405, page("Method not allowed", "Use GET."))
        found = self.session(request.headers.get("cookie"), request.headers.get("host"))
        if found is None:
            return self.challenge(request)
        session, refresh = found
        cookies = [refresh] if refresh else []
        email = session.user.email
        if normalize_email(email) not in self.settings.admin_emails:
            text = f"Signed in as {email}, which is not in SAML_ADMIN_EMAILS."
            return HTTPResponse.html(403, page("Not allowed", text), *cookies)
        body = render_connections(self.settings, _listed(self.connections), email)
        return HTTPResponse.html(200, body, *cookies)
