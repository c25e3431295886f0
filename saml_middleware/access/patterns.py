"""Path patterns of access rules, and the keys a request path is matched by.

A pattern is either a **prefix** or a **glob**:

* a prefix (no ``*`` and no ``?``) covers the path itself and everything below it, on segment
  boundaries: ``/admin`` matches ``/admin``, ``/admin/`` and ``/admin/users``, never
  ``/administrator``. ``/`` matches every path. A trailing ``/`` on the pattern changes nothing.
* a glob matches the whole path: ``*`` is any run of characters inside one segment, ``?`` one
  character other than ``/``, and ``**`` as a whole segment any number of segments (zero
  included): ``/api/*/admin`` matches ``/api/v2/admin`` only, ``/api/**/export`` matches
  ``/api/export`` and ``/api/a/b/export``, ``/reports/**`` matches ``/reports`` and all below.
  A trailing ``/`` on the request path is ignored.

Matching is **case-insensitive** for ``A-Z`` (``/ADMIN`` is ``/admin``): many servers and
frameworks (IIS, anything on a case-insensitive file system, some routers) serve both
spellings, and a rule must not be dodged by changing the case. Other characters compare as
they are (no Unicode case folding).

A request is matched by the decoded form of its canonical path
(:func:`~saml_middleware.paths.canonical_path`: ``%2e`` decoded, dot-segments removed). When
that path still holds something a later hop may read differently (an empty segment ``//``, a
``;`` parameter as Tomcat or Spring strip it, a ``.`` or ``..`` once an encoded ``%2F`` is taken
as a separator), it is matched a second time in that reading too, and the request must pass
both (:func:`match_keys`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["Pattern", "compile_pattern", "lower_ascii", "match_keys", "normalized_key"]

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\#\[\]{}]")


def lower_ascii(text: str) -> str:
    """``text`` with ``A-Z`` lower-cased and nothing else.

    >>> lower_ascii("/ADMIN/Caf\\u00c9") == "/admin/caf\\u00c9"  # the accented capital stays
    True
    """
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class Pattern:
    """A compiled pattern: ``regex`` (source, anchored at the end) and the first literal segment
    (``None`` when the first segment has a wildcard, or for ``/``): rules are indexed by it."""

    __slots__ = ("first", "glob", "regex", "text")

    def __init__(self, text: str, regex: str, first: str | None, glob: bool) -> None:
        self.text, self.regex, self.first, self.glob = text, regex, first, glob


def compile_pattern(text: str) -> tuple[Pattern | None, list[str]]:
    """The compiled pattern, or ``None`` and the problems with it.

    >>> compile_pattern("/Admin/")[0].regex
    '/admin(?:/.*)?\\\\Z'
    >>> compile_pattern("/api/**/x")[1], compile_pattern("admin")[1]
    ([], ["must start with '/'"])
    """
    problems: list[str] = []
    if not text.startswith("/"):
        return None, ["must start with '/'"]
    if _FORBIDDEN.search(text):
        problems.append("has a space, control character, backslash, '#', '[', ']', '{' or '}'")
    decoded = lower_ascii(unquote(text))
    segments = decoded.rstrip("/").split("/")[1:] if decoded.rstrip("/") else []
    for segment in segments:
        if segment in ("", ".", "..") or ";" in segment:
            problems.append("has an empty, '.' or '..' segment, or a ';' (paths are matched without them)")
            break
        if "**" in segment and segment != "**":
            problems.append("'**' must be a whole segment (/a/**/b)")
            break
    if problems:
        return None, problems
    glob = "*" in decoded or "?" in decoded
    first = segments[0] if segments and not any(c in segments[0] for c in "*?") else None
    if not glob:
        prefix = "/" + "/".join(segments) if segments else ""
        regex = re.escape(prefix) + r"(?:/.*)?\Z" if prefix else r"/.*\Z"
        return Pattern(text, regex, first, False), []
    parts = []
    for segment in segments:
        if segment == "**":
            parts.append(r"(?:/[^/]*)*")
        else:
            body = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in segment)
            parts.append("/" + body)
    return Pattern(text, "".join(parts) + r"/?\Z", first, True), []


def normalized_key(key: str) -> str:
    """``key`` as a lenient hop may read it: ``\\`` as ``/`` (an encoded ``%5C`` reaches the app
    decoded), empty and ``.`` segments dropped, ``..`` applied, ``;`` parameters cut from each segment.

    >>> normalized_key("//admin;jsessionid=1/./x/../y/")
    '/admin/y'
    """
    kept: list[str] = []
    for segment in key.replace("\\", "/").split("/"):
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
        else:
            kept.append(segment)
    return "/" + "/".join(kept)


def match_keys(path: str) -> tuple[str, ...]:
    """The keys rules are matched against for ``path`` (decoded canonical path): one, or two
    when a lenient reading differs. A request passes only if every key passes.

    >>> match_keys("/Admin/x"), match_keys("//admin/"), match_keys("/a/../admin")
    (('/admin/x',), ('//admin/', '/admin'), ('/a/../admin', '/admin'))
    """
    key = path.lower() if path.isascii() else path.translate(_ASCII_LOWER)
    if "//" in key or ";" in key or "/." in key or "\\" in key:
        other = normalized_key(key)
        if other != key and other + "/" != key:
            return key, other
    return (key,)
