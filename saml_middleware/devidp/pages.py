"""The dev IdP's HTML pages, and a helper that lets tests play the browser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from html.parser import HTMLParser

from ..pages import document

__all__ = ["auto_post_form_fields", "auto_post_page", "message_page", "page"]

TITLE = "saml-middleware dev IdP (Entra-shaped)"

_STYLE = """
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{max-width:440px;margin:48px auto;background:#fff;padding:32px 44px;
box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
.note{font-size:13px;color:#555;word-break:break-all}
form{margin:0}
button{display:block;width:100%;text-align:left;margin:8px 0;padding:10px 12px;
border:1px solid #8a8886;background:#fff;font:inherit;cursor:pointer}
button:hover{background:#f3f2f1}
.who{font-weight:600}.mail{color:#555;font-size:13px}
a{color:#0067b8}
"""


def page(heading: str, body_html: str, *, title: str | None = None) -> str:
    """A complete HTML page; ``heading`` is escaped, ``body_html`` must already be safe."""
    return document(
        title or f"{heading} — {TITLE}", f"<main><h1>{escape(heading)}</h1>{body_html}</main>", style=_STYLE
    )


def message_page(heading: str, message: str) -> str:
    """A page with one escaped paragraph, for errors and the signed-out page."""
    return page(heading, f"<p>{escape(message)}</p>")


def hidden_inputs(fields: Mapping[str, str]) -> str:
    """``<input type="hidden">`` elements for ``fields``, escaped."""
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )


def user_button_forms(action: str, fields: Mapping[str, str], users: Iterable[tuple[str, str]]) -> str:
    """One POST form per ``(display_name, email)``: a button carrying ``fields`` and the e-mail."""
    forms = []
    for display_name, email in users:
        inputs = hidden_inputs({**fields, "email": email})
        forms.append(
            f'<form method="post" action="{escape(action)}">{inputs}'
            f'<button type="submit"><span class="who">{escape(display_name)}</span><br>'
            f'<span class="mail">{escape(email)}</span></button></form>'
        )
    return "".join(forms)


def auto_post_page(action: str, fields: Mapping[str, str]) -> str:
    """A page whose form POSTs ``fields`` to ``action`` by itself (with a no-script button)."""
    body = (
        f'<p>Signing you in to <span class="note">{escape(action)}</span>…</p>'
        f'<form method="post" action="{escape(action)}">{hidden_inputs(fields)}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        "<script>document.forms[0].submit();</script>"
    )
    return page("Working…", body)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action = attributes.get("action", "")
            self._in_form = True
        elif self._in_form and tag == "input" and attributes.get("type") == "hidden":
            name = attributes.get("name")
            if name:
                self.fields[name] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def auto_post_form_fields(html: str) -> tuple[str, dict[str, str]]:
    """The first form's ``action`` and its hidden inputs (name to value), unescaped.

    Lets tests act as the browser: POST the fields to the action.

    :raises ValueError: when the page has no form.
    """
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    if parser.action is None:
        raise ValueError("the page has no <form>")
    return parser.action, parser.fields
