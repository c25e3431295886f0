"""The admin setup page (``{SAML_PATH_PREFIX}/setup``): plain server-rendered, escaped HTML.

What to paste into the IdP (each with a copy button), the SP metadata link,
the IdP as loaded with its certificates, the effective settings with secrets
masked, and the last refusals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime, timezone
from html import escape

from ..config import Settings
from ..masking import redact, secrecy, shown_secret
from ..pages import document
from .audit import AuditEvent
from .expiry import CertificateStatus

__all__ = ["masked_settings", "render_setup"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.45}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;"
    "padding:.35rem .4rem;text-align:left;vertical-align:top}code{background:#f3f3f3;padding:.1rem .3rem;"
    "word-break:break-all}.scroll{overflow-x:auto}button{font-size:.85rem;padding:.2rem .6rem;"
    "margin-left:.4rem}.warning{color:#8a4b00}.fail{color:#b00020;font-weight:bold}"
)
_SCRIPT = (
    "document.querySelectorAll('button[data-copy]').forEach(function(b){b.addEventListener('click',"
    "function(){var t=document.getElementById(b.dataset.copy).textContent;"
    "navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';});});});"
)


def masked_settings(settings: Settings) -> list[tuple[str, str]]:
    """``(SAML_NAME, shown value)`` for every setting; long values summarised.

    Secrets are masked by the mark on their field (:func:`~saml_middleware.masking.secrecy`):
    keys and tokens show only whether they are set, URLs hide their credentials.
    """
    out = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        kind = secrecy(f)
        if kind is not None:
            shown = shown_secret(kind, value)
        elif f.name in ("idp_metadata", "sp_cert", "sp_cert_next"):
            shown = f"({len(value)} characters)" if value else ""
        elif f.name in ("idp_cert", "idp_metadata_cert"):
            shown = f"({len(value)} certificate{'s' if len(value) != 1 else ''})"
        elif isinstance(value, bool):
            shown = "true" if value else "false"  # as written in the environment
        elif isinstance(value, tuple):
            shown = ", ".join(value)
        elif isinstance(value, dict) or hasattr(value, "items"):
            shown = ", ".join(f"{k}={v}" for k, v in dict(value).items())
        else:
            shown = redact(str(value))  # unmarked fields too: a credential never shows
        out.append(("SAML_" + f.name.upper(), shown))
    return out


def _copy_row(label: str, ident: str, value: str) -> str:
    return (
        f"<tr><th>{escape(label)}</th><td><code id={ident}>{escape(value)}</code>"
        f"<button type=button data-copy={ident}>Copy</button></td></tr>"
    )


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_setup(
    settings: Settings,
    *,
    idp_entity_id: str,
    idp_sso_url: str,
    certificates: Iterable[CertificateStatus],
    refusals: Iterable[AuditEvent],
    logout_url: str | None,
    user_email: str,
) -> bytes:
    """The page as UTF-8 HTML; every value is escaped here."""
    base = settings.base_url
    rows = [
        _copy_row("Identifier (Entity ID)", "v-entity", settings.sp_entity_id),
        _copy_row("Reply URL (Assertion Consumer Service URL)", "v-acs", settings.acs_url),
        _copy_row("Sign-on URL", "v-signon", base + "/"),
    ]
    if logout_url:
        rows.append(_copy_row("Logout URL", "v-logout", logout_url))
    metadata = escape(settings.metadata_path)
    certs = "".join(
        f"<tr><td>{escape(c.role.upper())}</td><td>{escape(c.subject)}</td><td><code>{escape(c.sha256)}</code>"
        f"</td><td class={c.level}>{escape(c.not_after.strftime('%Y-%m-%d'))} "
        f"({c.days_left:.0f} days)</td></tr>"
        for c in certificates
    )
    settings_rows = "".join(
        f"<tr><th>{escape(name)}</th><td><code>{escape(value)}</code></td></tr>"
        for name, value in masked_settings(settings)
    )
    refused = "".join(
        f"<tr><td>{escape(_time(r.time))}</td><td><code>{escape(r.reason or '')}</code></td>"
        f"<td><code>{escape(r.ref or '')}</code></td><td>{escape(r.email or '')}</td></tr>"
        for r in refusals
    )
    body = (
        f"<p>Signed in as {escape(user_email)}.</p>"
        "<h2>Give these to the identity provider</h2>"
        f"<div class=scroll><table>{''.join(rows)}</table></div>"
        f'<p><a href="{metadata}" download="sp-metadata.xml">Download the SP metadata (XML)</a></p>'
        "<h2>Identity provider as loaded</h2><div class=scroll><table>"
        f"<tr><th>Entity ID</th><td><code>{escape(idp_entity_id)}</code></td></tr>"
        f"<tr><th>Sign-on URL</th><td><code>{escape(redact(idp_sso_url))}</code></td></tr></table></div>"
        "<h2>Certificates</h2><div class=scroll><table><tr><th>Role</th><th>Subject</th>"
        f"<th>SHA-256 fingerprint</th><th>Expires</th></tr>{certs}</table></div>"
        "<h2>Recent refusals (newest first)</h2><div class=scroll><table><tr><th>Time</th><th>Reason</th>"
        f"<th>Reference</th><th>E-mail</th></tr>{refused or '<tr><td colspan=4>None</td></tr>'}"
        "</table></div>"
        f"<h2>Effective settings</h2><div class=scroll><table>{settings_rows}</table></div>"
    )
    return document(
        "SAML setup", f"<h1>SAML setup</h1>{body}<script>{_SCRIPT}</script>", style=_STYLE
    ).encode()
