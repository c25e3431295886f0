"""The HTML of a connection's setup page and of a test sign-in's result.

Server-rendered, every value escaped here, no external asset. Every response carries a
strict Content-Security-Policy: nothing loads from anywhere, the one inline style and the
one inline script (the copy buttons) are allowed by their SHA-256 hashes only, forms post
only to this site, and no other site may frame the page.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape

from ..config import Settings
from ..connections import Connection, sign_on_url
from ..http import HTTPResponse
from ..pages import document
from ..pem import certificate_summary
from ..protocol.logout import sls_url
from ..protocol.metadata import IdPInfo
from ..user import SAMLUser

__all__ = ["CSP", "SetupView", "render_setup_page", "render_test_result", "secure_html", "setup_error_page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:56rem;margin:1.5rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.45}h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #ddd;"
    "padding:.35rem .4rem;text-align:left;vertical-align:top}code{background:#f3f3f3;padding:.1rem .3rem;"
    "word-break:break-all}button,.button{font-size:.9rem;padding:.25rem .7rem;margin:.2rem .4rem .2rem 0}"
    "label{display:block;margin:.4rem 0}input[type=url],input[type=text],textarea{width:100%;"
    "box-sizing:border-box}textarea{min-height:8rem;font-family:monospace}fieldset{margin:.8rem 0}"
    ".ok{color:#05612a;font-weight:bold}.fail{color:#b00020;font-weight:bold}.note{color:#555}"
)
_SCRIPT = (
    "document.querySelectorAll('button[data-copy]').forEach(function(b){b.addEventListener('click',"
    "function(){var t=document.getElementById(b.dataset.copy).textContent;"
    "navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';});});});"
)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


#: the Content-Security-Policy of every setup response
CSP = (
    f"default-src 'none'; style-src {_hash(_STYLE)}; script-src {_hash(_SCRIPT)}; img-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def secure_html(status: int, body: bytes, *cookies: str) -> HTTPResponse:
    """An HTML response with the strict headers of the setup pages."""
    response = HTTPResponse.html(status, body, *cookies)
    response.headers.extend(
        [
            ("content-security-policy", CSP),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ]
    )
    return response


def _doc(title: str, body: str) -> bytes:
    return document(title, f"<h1>{escape(title)}</h1>{body}<script>{_SCRIPT}</script>", style=_STYLE).encode()


def setup_error_page(status: int, message: str, *cookies: str) -> HTTPResponse:
    """A refusal (``message`` is plain text, escaped here)."""
    title = "Setup link not valid" if status == 403 else "Cannot do that"
    return secure_html(status, _doc(title, f"<p class=fail>{escape(message)}</p>"), *cookies)


@dataclass(frozen=True)
class SetupView:
    """What the page shows.

    :param settings: the connection's own Settings (its Identifier, Reply URL...).
    :param connection: the record as saved.
    :param idp: the IdP as saved and loaded (``None``: none yet, or not loadable without a fetch).
    :param csrf: the token every form carries.
    :param notice: a line confirming what was just done; ``error``: what was refused.
    """

    settings: Settings
    connection: Connection
    idp: IdPInfo | None
    csrf: str
    notice: str = ""
    error: str = ""


def _copy_row(label: str, ident: str, value: str, note: str = "") -> str:
    extra = f"<br><span class=note>{escape(note)}</span>" if note else ""
    return (
        f"<tr><th>{escape(label)}</th><td><code id={ident}>{escape(value)}</code>"
        f"<button type=button data-copy={ident}>Copy</button>{extra}</td></tr>"
    )


def _hidden(view: SetupView, **fields: str) -> str:
    pairs = {"csrf": view.csrf, **fields}
    return "".join(f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in pairs.items())


def _claims(s: Settings, connection: Connection) -> str:
    if s.email_attribute == "nameid":
        email = "the Unique User Identifier (Name identifier) as an e-mail address: set it to user.mail"
    elif s.email_attribute:
        email = f"the claim {s.email_attribute} holding the user's e-mail address"
    else:
        email = (
            "the Unique User Identifier (Name ID) when it is an e-mail address, else the emailaddress "
            "claim (user.mail). Entra's default Name ID is user.userprincipalname: if that is not your "
            "users' e-mail address, change the Unique User Identifier to user.mail"
        )
    rows = [("E-mail address", email)]
    if connection.domains:
        rows.append(
            ("E-mail domains", "only addresses ending in " + ", ".join("@" + d for d in connection.domains))
        )
    rows.extend(("Claim " + name, claim) for name, claim in s.attribute_map.items())
    if s.user_id_attribute:
        rows.append(("Immutable user id", f"the claim {s.user_id_attribute} (Entra: user.objectid)"))
    rows.append(("Name", "givenname and surname (Entra's defaults), shown to the application"))
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)


def _idp_state(view: SetupView) -> str:
    c = view.connection
    if not c.idp_configured:
        return "<p class=fail>No identity provider saved yet.</p>"
    rows = []
    if c.idp_metadata_url:
        rows.append(("App Federation Metadata Url", c.idp_metadata_url))
    if view.idp is not None:
        rows += [("Microsoft Entra Identifier", view.idp.entity_id), ("Login URL", view.idp.sso_url)]
        for pem in view.idp.certificates:
            info = certificate_summary(pem)
            rows.append(
                (
                    "Signing certificate",
                    f"{info['subject']}, SHA-256 {info['sha256']}, expires {info['not_after'][:10]}",
                )
            )
    table = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>" for k, v in rows)
    return f"<p class=ok>Identity provider saved.</p><table>{table}</table>"


def render_setup_page(view: SetupView) -> bytes:
    """The setup page: the Entra tutorial's steps, from the application's side."""
    s, c = view.settings, view.connection
    setup = s.path_prefix + "/setup"
    action = escape(setup)
    switch = (
        f"<p class=ok>Single sign-on is ON for {escape(c.name)}.</p>"
        f'<form method=post action="{action}/enable">{_hidden(view, enabled="false")}'
        "<button>Turn SSO off</button></form>"
        if c.enabled
        else f"<p>Single sign-on is OFF: nobody is sent to your identity provider yet.</p>"
        f'<form method=post action="{action}/enable">{_hidden(view, enabled="true")}'
        f"<button{'' if c.idp_configured else ' disabled'}>Enable SSO</button></form>"
    )
    test = (
        f'<p><a class=button href="{action}/test?csrf={escape(view.csrf)}">Test sign-in</a></p>'
        if c.idp_configured
        else "<p class=note>Save the identity provider first.</p>"
    )
    body = (
        (f"<p class=ok>{escape(view.notice)}</p>" if view.notice else "")
        + (f"<p class=fail>{escape(view.error)}</p>" if view.error else "")
        + f"<p>Connecting <b>{escape(c.name)}</b> to single sign-on with Microsoft Entra ID "
        "(any SAML 2.0 identity provider works the same way).</p>"
        "<h2>1. Create the application in Entra</h2><p>In the Microsoft Entra admin center: Identity, "
        "Applications, Enterprise applications, New application, Create your own application "
        "(integrate any other application you don't find in the gallery). Then Single sign-on, SAML.</p>"
        "<h2>2. Basic SAML Configuration</h2><p>Choose Edit and paste these values (or Upload metadata "
        "file with the file below), then Save.</p><table>"
        + _copy_row("Identifier (Entity ID)", "v-entity", s.sp_entity_id, "tick Default")
        + _copy_row("Reply URL (Assertion Consumer Service URL)", "v-acs", s.acs_url)
        + _copy_row("Sign on URL", "v-signon", sign_on_url(s))
        + _copy_row("Logout URL (optional)", "v-logout", sls_url(s))
        + f'</table><p><a href="{action}/sp-metadata.xml" download="sp-metadata.xml">Download the '
        "SP metadata file</a> (for Upload metadata file).</p>"
        "<h2>3. Attributes &amp; Claims</h2><p>What this application reads from the sign-in:</p>"
        f"<table>{_claims(s, c)}</table>"
        "<h2>4. SAML Certificates: give us your identity provider</h2>"
        + _idp_state(view)
        + "<p>Any one of these three (each replaces what was saved before):</p>"
        f'<fieldset><legend>App Federation Metadata Url</legend><form method=post action="{action}/idp">'
        + _hidden(view, source="url")
        + "<label>App Federation Metadata Url <input type=url name=metadata_url required "
        'placeholder="https://login.microsoftonline.com/.../federationmetadata.xml?appid=..."></label>'
        "<button>Save</button></form></fieldset>"
        f'<fieldset><legend>Federation Metadata XML</legend><form method=post action="{action}/idp" '
        f'enctype="multipart/form-data">{_hidden(view, source="xml")}'
        "<label>Federation Metadata XML file (at most 2 MB) <input type=file name=metadata_file "
        'accept=".xml,application/xml,text/xml" required></label><button>Upload</button></form></fieldset>'
        f'<fieldset><legend>Set up by hand</legend><form method=post action="{action}/idp" '
        f'enctype="multipart/form-data">{_hidden(view, source="manual")}'
        + "<label>Login URL <input type=url name=sso_url required></label>"
        "<label>Microsoft Entra Identifier <input type=text name=idp_entity_id required></label>"
        "<label>Certificate (Base64): the downloaded .cer file <input type=file name=certificate_file "
        'accept=".cer,.pem,.crt"></label><label>or its text, pasted <textarea name=certificate>'
        "</textarea></label><button>Save</button></form></fieldset>"
        "<h2>5. Users and groups</h2><p>In Entra, assign the users or groups who may use this application "
        "(Users and groups, Add user/group).</p>"
        "<h2>6. Test sign-in</h2><p>Signs you in through your identity provider and shows what it sent "
        "(or exactly why it was refused). It signs nobody in and changes nothing for your users.</p>"
        + test
        + "<h2>7. Enable SSO</h2>"
        + switch
    )
    return _doc(f"Single sign-on set-up: {c.name}", body)


#: what to change in Entra, by reason code (the admin's side of ``saml-middleware verify``'s hints)
ENTRA_HINTS = {
    "audience": "the Identifier (Entity ID) in Basic SAML Configuration is not the one on the setup page",
    "destination": "the Reply URL in Basic SAML Configuration is not the one on the setup page",
    "recipient": "the Reply URL in Basic SAML Configuration is not the one on the setup page",
    "issuer": "the Microsoft Entra Identifier saved here is not the tenant that answered",
    "signature_invalid": "the certificate saved here is not the one Entra signs with: save the current "
    "Certificate (Base64) or the metadata again",
    "weak_algorithm": "set the Signing Algorithm to SHA-256 in SAML Certificates",
    "no_email": "add the emailaddress claim (user.mail) in Attributes & Claims",
    "domain_not_allowed": "the signed-in e-mail is not in this connection's domains",
    "email_domain": "the signed-in e-mail is not in this connection's domains",
    "expired": "check the clock of the identity provider, then try again",
    "in_response_to": "start the test again from the setup page",
}


def render_test_result(
    base: Settings,
    connection: Connection,
    user: SAMLUser | None,
    *,
    reason: str = "",
    detail: str = "",
    meaning: str = "",
) -> bytes:
    """The result of a test sign-in: the identity and claims received, or the refusal."""
    back = escape(f"{base.path_prefix}/c/{connection.id}/setup")
    if user is not None:
        rows = [("E-mail", user.email), ("NameID", user.name_id), ("Display name", user.display_name)]
        claims = "".join(
            f"<tr><th>{escape(k)}</th><td><code>{escape(', '.join(v))}</code></td></tr>"
            for k, v in sorted(user.attributes.items())
        )
        identity = "".join(
            f"<tr><th>{escape(k)}</th><td><code>{escape(v or '')}</code></td></tr>" for k, v in rows
        )
        body = (
            "<p class=ok>Test sign-in succeeded: the identity provider's response passed every check.</p>"
            f"<p>No one was signed in, nothing was changed.</p><h2>Identity</h2><table>{identity}</table>"
            f"<h2>Claims received</h2><table>{claims or '<tr><td>none</td></tr>'}</table>"
        )
        title = "Test sign-in succeeded"
    else:
        hint = ENTRA_HINTS.get(reason, "")
        body = (
            f"<p class=fail>Refused: <code>{escape(reason)}</code></p>"
            f"<table><tr><th>Meaning</th><td>{escape(meaning)}</td></tr>"
            f"<tr><th>Detail</th><td><code>{escape(detail)}</code></td></tr>"
            + (f"<tr><th>What to change</th><td>{escape(hint)}</td></tr>" if hint else "")
            + "</table><p>No one was signed in, nothing was changed.</p>"
        )
        title = "Test sign-in refused"
    return _doc(title, body + f'<p><a href="{back}">Back to the set-up</a></p>')
