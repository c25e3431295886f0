"""The few HTML pages the middleware itself shows. Generic by design: the
precise reason of a refusal goes to the log under the reference id, never to
the browser."""

from __future__ import annotations

from html import escape

__all__ = ["document", "page"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.5}h1{font-size:1.4rem}code{background:#f3f3f3;padding:.1rem .3rem}"
    "button{font-size:1rem;padding:.4rem 1rem}"
)


def document(title: str, body_html: str, *, style: str = _STYLE) -> str:
    """The shell of every HTML page: doctype, charset, viewport, ``title`` (escaped here),
    ``style`` and ``body_html`` (trusted markup, already escaped by the caller)."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head>"
        f"<body>{body_html}</body></html>"
    )


def page(title: str, *paragraphs: str, reference: str | None = None, extra_html: str = "") -> bytes:
    """A small UTF-8 HTML page. ``paragraphs`` are plain text (escaped here);
    ``extra_html`` is trusted markup built by the caller (already escaped)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if reference:
        body += f"<p>Reference: <code>{escape(reference)}</code></p>"
    return document(title, f"<h1>{escape(title)}</h1>{body}{extra_html}").encode()
