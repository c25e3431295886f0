"""Path decisions: safe return paths and public path prefixes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

__all__ = ["is_public", "safe_return_path"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_return_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site, else ``None``.

    Refuses absolute URLs and schemes (``https://evil``, ``javascript:``),
    protocol-relative ``//host``, backslash tricks (``/\\host``), control
    characters, and the same hidden behind percent-encoding (``/%2F%2Fhost``).

    >>> safe_return_path("/reports?q=1#top"), safe_return_path("//evil.example")
    ('/reports?q=1#top', None)
    """
    if not value or len(value) > 2048 or not value.startswith("/"):
        return None
    decoded = value
    for _ in range(3):  # percent-encoding nested up to three times
        if _CONTROL.search(decoded) or decoded.startswith("//"):
            return None
        decoded = unquote(decoded)
    if _CONTROL.search(decoded) or decoded.startswith("//"):
        return None
    # A Location header is ASCII: percent-encode anything else (existing escapes kept).
    return quote(value, safe="/?#&=;:@!$'()*+,%-._~[]")


def is_public(path: str, prefixes: Sequence[str]) -> bool:
    """True if ``path`` is one of ``prefixes`` or below it (``/static`` covers ``/static/x``)."""
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)
