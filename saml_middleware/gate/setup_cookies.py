"""The setup page's signed cookies and CSRF tokens, each bound to one connection.

* the **admin cookie** (``saml_setup``, ``Path={PREFIX}/c/{id}/setup``): set when a valid
  setup link is opened, so the token can leave the address bar; it names the connection
  and a random nonce and expires after :data:`ADMIN_AGE` seconds (never after the link);
* the **CSRF token** of every form: the nonce signed for that connection, so a form
  posted from another site, another browser or another connection's page is refused;
* the **test cookie** (``saml_setuptest``, ``Path={PREFIX}/c/{id}/acs``): marks the
  one login started by "Test sign-in" (the connection, the AuthnRequest ID and the
  RelayState key), so the ACS hands that response to the setup page, not to a session.

Each kind has its own itsdangerous salt (and the deployment's base URL in it), so no
cookie of one kind passes as another, nor as a session or login cookie.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from ..config import Settings
from ..http import HTTPRequest
from ..sessions.cookies import cookie_header

__all__ = ["ADMIN_AGE", "TEST_AGE", "AdminSession", "PendingTest", "SetupCookies"]

#: seconds an opened setup link keeps the admin signed in to the page (capped by the link's expiry)
ADMIN_AGE = 3600
#: seconds a test sign-in may take at the IdP
TEST_AGE = 600


@dataclass(frozen=True)
class AdminSession:
    """Who holds an opened setup link: the connection and the nonce its CSRF tokens sign."""

    connection: str
    nonce: str
    expires: int


@dataclass(frozen=True)
class PendingTest:
    """A test sign-in under way: its connection, AuthnRequest ID and RelayState key."""

    connection: str
    request_id: str
    relay: str


class SetupCookies:
    """Makes and reads the setup page's cookies (see the module docstring).

    :param settings: the deployment's settings (secret keys, base URL, prefix).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        keys = list(reversed(settings.secret_key))  # the newest key signs, every key verifies
        bound = settings.base_url
        self._admin = URLSafeSerializer(keys, salt=f"saml-middleware.setup-admin|{bound}")
        self._test = URLSafeSerializer(keys, salt=f"saml-middleware.setup-test|{bound}")
        self._csrf_keys = keys
        https = settings.https
        self.secure = https
        self.admin_name = ("__Secure-" if https else "") + "saml_setup"
        self.test_name = ("__Secure-" if https else "") + "saml_setuptest"

    def _prefix(self, connection_id: str) -> str:
        return f"{self.settings.path_prefix}/c/{connection_id}"

    # -- the admin cookie ---------------------------------------------------
    def admin_cookie(self, session: AdminSession, now: float) -> str:
        value = self._admin.dumps({"c": session.connection, "n": session.nonce, "e": session.expires})
        return cookie_header(
            self.admin_name,
            str(value),
            path=self._prefix(session.connection) + "/setup",
            max_age=max(int(session.expires - now), 1),
            secure=self.secure,
            samesite="Lax",  # the link arrives by e-mail or chat: a top-level GET from elsewhere
        )

    def admin(self, request: HTTPRequest, connection_id: str, now: float) -> AdminSession | None:
        """The admin session in ``request`` for ``connection_id``; ``None`` when missing, forged,
        expired or made for another connection."""
        data = self._load(self._admin, request.cookies.get(self.admin_name))
        if data is None or data.get("c") != connection_id or not isinstance(data.get("n"), str):
            return None
        expires = data.get("e")
        if not isinstance(expires, int) or now >= expires:
            return None
        return AdminSession(connection_id, data["n"], expires)

    # -- CSRF -----------------------------------------------------------------
    def csrf_token(self, session: AdminSession) -> str:
        """The token every form of ``session``'s page carries."""
        return self._csrf_signature(session, self._csrf_keys[-1])

    def csrf_ok(self, session: AdminSession, token: str | None) -> bool:
        """Is ``token`` the CSRF token of ``session`` (under any current key)?"""
        if not token:
            return False
        return any(hmac.compare_digest(token, self._csrf_signature(session, k)) for k in self._csrf_keys)

    def _csrf_signature(self, session: AdminSession, key: str) -> str:
        message = f"saml-middleware.setup-csrf|{self.settings.base_url}|{session.connection}|{session.nonce}"
        return hmac.new(key.encode(), message.encode(), "sha256").hexdigest()

    # -- the test cookie ------------------------------------------------------
    def test_cookie(self, test: PendingTest, now: float) -> str:
        value = self._test.dumps(
            {"c": test.connection, "r": test.request_id, "k": test.relay, "e": int(now) + TEST_AGE}
        )
        return self._test_header(test.connection, str(value), TEST_AGE)

    def forget_test(self, connection_id: str) -> str:
        return self._test_header(connection_id, "", 0)

    def _test_header(self, connection_id: str, value: str, max_age: int) -> str:
        # the IdP comes back with a cross-site POST: SameSite=None (needs Secure) on https,
        # the browsers' default on plain http, as the pending-login cookies (pending.py)
        return cookie_header(
            self.test_name,
            value,
            path=self._prefix(connection_id) + "/acs",
            max_age=max_age,
            secure=self.secure,
            samesite="None" if self.secure else None,
        )

    def pending_test(self, request: HTTPRequest, connection_id: str, now: float) -> PendingTest | None:
        """The test sign-in this browser started for ``connection_id``, if any and not expired."""
        data = self._load(self._test, request.cookies.get(self.test_name))
        if data is None or data.get("c") != connection_id:
            return None
        request_id, relay, expires = data.get("r"), data.get("k"), data.get("e")
        if not (isinstance(request_id, str) and isinstance(relay, str) and isinstance(expires, int)):
            return None
        if now >= expires:
            return None
        return PendingTest(connection_id, request_id, relay)

    @staticmethod
    def _load(serializer: URLSafeSerializer, raw: str | None) -> dict[str, Any] | None:
        if not raw:
            return None
        try:
            data = serializer.loads(raw)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None
