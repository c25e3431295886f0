"""Sending a message to the IdP: a redirect (HTTP-Redirect binding) or a page that posts a form.

An IdP that takes no HTTP-Redirect (Google Workspace's and OneLogin's metadata list HTTP-POST
only) gets the HTTP-POST binding: a 200 page holding one form whose ``action`` is the IdP
endpoint from its metadata and whose hidden fields are the base64 message and the RelayState
key, submitted by a one-line script. The page's ``Content-Security-Policy`` allows exactly that
script and that style by their SHA-256 hashes (no ``unsafe-inline``), nothing else (no other
source, no framing, no ``<base>``); a ``<noscript>`` button submits it without JavaScript.
Every value is HTML-escaped (they are base64 and our own random key anyway).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from html import escape

from ..http import HTTPResponse
from ..pages import document
from ..protocol.outgoing import LoginRequest

__all__ = ["CONTENT_SECURITY_POLICY", "SCRIPT", "post_form", "send"]

#: The page's only script: submit the form.
SCRIPT = "document.forms[0].submit();"
_STYLE = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}"


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


#: Sent with the page: the script and the style by hash, nothing else loads or frames it.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(_STYLE)}; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
]


def post_form(
    action: str, fields: Mapping[str, str], *cookies: str, title: str = "Signing in"
) -> HTTPResponse:
    """200: the page that POSTs ``fields`` to ``action`` by itself, with ``cookies`` set.

    :param action: the IdP endpoint from its metadata (an http(s) URL).
    :raises ValueError: when ``action`` is not an http(s) URL (never a ``javascript:`` target).
    """
    if not action.startswith(("https://", "http://")):
        raise ValueError(f"the form target {action!r} is not an http(s) URL")
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<form method="post" action="{escape(action)}">{inputs}'
        "<noscript><p>JavaScript is off: press Continue to go on.</p>"
        '<button type="submit">Continue</button></noscript></form>'
        f"<script>{SCRIPT}</script>"
    )
    page = document(title, body, style=_STYLE).encode()
    return HTTPResponse(200, _HEADERS + [("set-cookie", c) for c in cookies], page)


def send(message: LoginRequest, status: int, *cookies: str, title: str = "Signing in") -> HTTPResponse:
    """``message`` on its binding: a ``status`` redirect (HTTP-Redirect), or the form page (HTTP-POST)."""
    if message.form is None:
        return HTTPResponse.redirect(status, message.url, *cookies)
    return post_form(message.url, message.form, *cookies, title=title)
