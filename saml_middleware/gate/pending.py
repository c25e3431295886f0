"""Pending logins (and SP-initiated logouts): one small cookie per flow, a bounded few per browser.

Each login started at the app gets its own signed cookie, named after its
opaque RelayState key and sent only to the ACS (two tabs can sign in at
once). Those cookies are invisible where a login starts, so a small index
cookie (``Path=/``) lists the pending keys, oldest first, with each cookie's
size. Starting a login keeps the newest :data:`MAX_PENDING` cookies within
:data:`MAX_PENDING_BYTES` and expires the others in the same response: a page
that triggers hundreds of logins leaves at most five small cookies, never a
``Cookie`` header that a proxy refuses (nginx: 8 KB per header line). A
dropped login fails at the ACS like any login whose cookie is gone
(``in_response_to``); the newest always completes.
"""

from __future__ import annotations

import re
from typing import Any

from ..config import Settings
from ..http import HTTPRequest
from ..sessions.cookies import CookieCodec, cookie_header, cookie_value

__all__ = ["MAX_PENDING", "MAX_PENDING_BYTES", "PENDING_AGE", "RELAY_KEY", "PendingCookies"]

#: At most this many logins (or logouts) pending per browser; the oldest are dropped first.
MAX_PENDING = 5
#: ... and at most this many bytes of them (``name=value``) together; the newest is always kept.
MAX_PENDING_BYTES = 3000
#: Seconds a pending login (or logout) lives: its cookie's ``Max-Age`` and signed timestamp.
PENDING_AGE = 600
#: An opaque RelayState key: it names the pending login (and logout) cookie.
RELAY_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")
_ENTRY = re.compile(r"([A-Za-z0-9_-]{16,64}):([0-9]{1,5})\Z")
#: Index entries looked at: an index is never longer than MAX_PENDING unless tampered with.
_READ_AT_MOST = 4 * MAX_PENDING


class PendingCookies:
    """The per-flow cookies of one kind (``"login"`` or ``"logout"``) and their index.

    :param kind: names the cookies: ``saml_<kind>_<RelayState>`` and the index ``saml_<kind>s``
        (``__Secure-`` / ``__Host-`` prefixed on https).
    :param path: the only path the per-flow cookies are sent to (the ACS, the SLS).

    The index holds ``<RelayState>:<bytes>`` entries joined by ``.``, oldest
    first, e.g. ``saml_logins=Jx3...:180.Qa9...:176``. It is not signed: it
    only decides which of the browser's own cookies to expire, and whatever it
    says, a login completes only with its signed cookie.
    """

    def __init__(self, settings: Settings, kind: str, path: str) -> None:
        self.https = settings.https
        self.path = path
        self.prefix = ("__Secure-" if self.https else "") + f"saml_{kind}_"
        self.index = ("__Host-" if self.https else "") + f"saml_{kind}s"
        # The IdP comes back with a cross-site POST (or redirect): SameSite=None,
        # which needs Secure. On plain http, browsers' default (Lax, with top-level
        # POSTs allowed for two minutes) is the only thing that works. The index
        # travels with the same attributes, so it is seen wherever its cookies are set.
        self.samesite = "None" if self.https else None

    def name(self, relay: str) -> str:
        """The cookie of the flow whose RelayState key is ``relay``."""
        return self.prefix + relay

    def start(self, header: str | None, relay: str, value: str) -> list[str]:
        """``Set-Cookie`` headers for a new flow: its cookie, the expiry of the
        oldest ones beyond the bound, and the updated index.

        :param header: the request's ``Cookie`` header (the index is read from it).
        """
        entries = [(k, n) for k, n in self._entries(header) if k != relay]
        entries.append((relay, len(self.name(relay)) + 1 + len(value)))
        kept: list[tuple[str, int]] = []
        total = 0
        for key, size in reversed(entries):  # newest first; the newest is always kept
            if not kept or (len(kept) < MAX_PENDING and total + size <= MAX_PENDING_BYTES):
                kept.append((key, size))
                total += size
        kept.reverse()
        kept_keys = {key for key, _ in kept}
        dropped = [key for key, _ in entries if key not in kept_keys]
        return [
            self._cookie(self.name(relay), value, self.path, PENDING_AGE),
            *(self._cookie(self.name(key), "", self.path, 0) for key in dropped),
            self._index(kept),
        ]

    def load(self, request: HTTPRequest, relay: str | None, codec: CookieCodec) -> dict[str, Any] | None:
        """The signed data of the flow ``relay`` (``"r"``: the request ID); ``None`` when ``relay``
        is no RelayState key or its cookie is missing, forged, expired or names no request."""
        if not relay or not RELAY_KEY.match(relay):
            return None
        raw = request.cookies.get(self.name(relay))
        data = codec.load_login(raw, max_age=PENDING_AGE) if raw else None
        if data is None or not isinstance(data.get("r"), str):
            return None
        return data

    def forget(self, request: HTTPRequest, relay: str | None) -> list[str]:
        """``Set-Cookie`` headers ending the flow ``relay``: its cookie deleted, the index updated
        (none when ``relay`` is no RelayState key)."""
        if not relay or not RELAY_KEY.match(relay):
            return []
        header = request.headers.get("cookie")
        headers = [self._cookie(self.name(relay), "", self.path, 0)]
        if header and cookie_value(header, self.index) is not None:
            headers.append(self._index([(k, n) for k, n in self._entries(header) if k != relay]))
        return headers

    def _entries(self, header: str | None) -> list[tuple[str, int]]:
        """The index in ``header``, oldest first; anything malformed is skipped."""
        raw = cookie_value(header, self.index) if header else None
        if not raw:
            return []
        found: dict[str, int] = {}
        for part in raw.split(".")[-_READ_AT_MOST:]:
            match = _ENTRY.match(part)
            if match:
                found.pop(match[1], None)
                found[match[1]] = int(match[2])
        return list(found.items())

    def _index(self, entries: list[tuple[str, int]]) -> str:
        if not entries:
            return self._cookie(self.index, "", "/", 0)
        return self._cookie(self.index, ".".join(f"{k}:{n}" for k, n in entries), "/", PENDING_AGE)

    def _cookie(self, name: str, value: str, path: str, max_age: int) -> str:
        return cookie_header(
            name, value, path=path, max_age=max_age, secure=self.https, samesite=self.samesite
        )
