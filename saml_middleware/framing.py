"""Message framing a request must not be ambiguous about (RFC 9112 section 6).

A request carrying both ``Content-Length`` and ``Transfer-Encoding``, or two different
``Content-Length`` values, is read one way by this server and possibly another way by the
next hop: request smuggling. Such a request is refused (``bad_framing``, 400) before anything
is forwarded or handed to the application.
"""

from __future__ import annotations

from collections.abc import Iterable

from .paths import BadPath

__all__ = ["check_request", "framing_problem"]


def check_request(method: str | None, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a tunnel request or ambiguous framing before anything else reads the request.

    :raises BadPath: ``bad_request_target`` for ``CONNECT`` (a tunnel, for forward proxies
        only); ``bad_framing`` when :func:`framing_problem` finds a problem.
    """
    if method == "CONNECT":
        raise BadPath("bad_request_target", "CONNECT")
    problem = framing_problem(headers)
    if problem is not None:
        raise BadPath("bad_framing", problem)


def framing_problem(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why the framing of a request with these ASGI ``headers`` is ambiguous, or ``None``.

    >>> framing_problem([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")])
    'both Content-Length and Transfer-Encoding'
    >>> framing_problem([(b"content-length", b"5")]) is None
    True
    """
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    for name, value in headers:
        low = name.lower()
        if low == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif low == b"transfer-encoding":
            codings += [v.strip().lower() for v in value.split(b",")]
    if lengths and codings:
        return "both Content-Length and Transfer-Encoding"
    if len(lengths) > 1 or any(not v.isdigit() for v in lengths):
        return "conflicting or invalid Content-Length values"
    if codings and codings[-1] != b"chunked":
        return "a Transfer-Encoding whose last coding is not chunked"
    return None
