"""``X-Remote-Jwt``: the signed-in user as a short-lived JWT, for upstreams that want proof.

The identity headers (``X-Remote-User`` ...) are only as trustworthy as the network path
between the proxy and the upstream. With ``SAML_JWT=rs256`` (signed with the SP key,
public keys at ``{PREFIX}/jwks.json``) or ``SAML_JWT=hs256`` (``SAML_JWT_SECRET``, shared with
the upstream), ``saml-middleware proxy`` and ``{PREFIX}/auth`` also send ``X-Remote-Jwt``, which
the upstream verifies (issuer, audience, expiry) before believing anything: docs/forward-auth.md.

Claims: ``iss`` (``SAML_BASE_URL``), ``aud`` (``SAML_JWT_AUDIENCE``, default the upstream URL
in proxy mode and ``SAML_BASE_URL`` for ``/auth``), ``sub`` and ``email``, ``name``,
``groups`` and ``roles`` (Entra's claim URIs), ``tenant`` (with connections), ``iat``,
``nbf``, ``exp`` (``SAML_JWT_TTL`` seconds). A token is re-used for the same identity (the
same claims) for a few seconds, so a page with fifty assets costs one signature, not fifty,
whether the session is a cookie or lives in the store.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..jws import b64url, rsa_jwk, rsa_key_id, sign_hs256, sign_rs256
from ..pem import certificate_object, rsa_private_key
from ..user import SAMLUser

__all__ = ["GROUPS_CLAIM", "HEADER", "ROLES_CLAIM", "UpstreamJWT", "upstream_jwt"]

#: the header name (an ``X-Remote-*`` header: a client-sent one is always stripped)
HEADER = "X-Remote-Jwt"
#: Entra ID's group object ids and app roles, as the assertion names them
GROUPS_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
ROLES_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
#: signed-token cache bound (distinct signed-in users seen within the re-use window)
_CACHE_MAX = 4096


class UpstreamJWT:
    """Signs ``X-Remote-Jwt`` for one audience.

    :param settings: ``jwt`` (``rs256`` or ``hs256``; build with :func:`upstream_jwt`, which
        answers ``None`` for ``off``), ``jwt_secret``, ``jwt_ttl``, ``sp_key``/``sp_cert`` and
        ``sp_cert_next`` (published during a key rollover).
    :param audience: the ``aud`` claim: ``SAML_JWT_AUDIENCE`` wins over it.
    :param clock: epoch seconds (tests freeze it).

    >>> from saml_middleware import Settings
    >>> s = Settings(base_url="https://app.example.com", secret_key=("k" * 32,),
    ...              jwt="hs256", jwt_secret="s" * 32)
    >>> signer = UpstreamJWT(s, audience="http://127.0.0.1:8080", clock=lambda: 1000.0)
    >>> claims = signer.claims(SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", "B. Simon"), 1000.0)
    >>> claims["aud"], claims["exp"] - claims["iat"], signer.jwks()
    ('http://127.0.0.1:8080', 60, {'keys': []})
    """

    def __init__(self, settings: Settings, *, audience: str, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.issuer = settings.base_url
        self.audience = settings.jwt_audience or audience
        self.ttl = settings.jwt_ttl
        #: seconds a signed token is handed out again for the same user (a quarter of its life, at most 5)
        self.reuse = min(5.0, self.ttl / 4)
        self._cache: dict[tuple[object, ...], tuple[float, str]] = {}
        self._keys: list[dict[str, str]] = []
        if settings.jwt == "rs256":
            private = rsa_private_key(settings.sp_key)
            kid = rsa_key_id(private.public_key())
            self._sign: Callable[[dict[str, Any]], str] = lambda c: sign_rs256(c, private, kid=kid)
            self._keys.append(rsa_jwk(private.public_key()))
            if settings.sp_cert_next:  # the next key, published before it signs (rollover)
                upcoming = certificate_object(settings.sp_cert_next).public_key()
                jwk = rsa_jwk(upcoming)  # type: ignore[arg-type]  # an RSA key: validated by Settings
                if jwk["kid"] != kid:
                    self._keys.append(jwk)
        else:
            secret = settings.jwt_secret.encode()
            hs_kid = "hs256-" + b64url(hmac.new(secret, b"kid", hashlib.sha256).digest()[:9])
            self._sign = lambda c: sign_hs256(c, secret, kid=hs_kid)

    def claims(self, user: SAMLUser, now: float) -> dict[str, Any]:
        """The claims of ``user``'s token issued at ``now``."""
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user.email,
            "email": user.email,
            "name": user.display_name,
            "groups": list(user.attributes.get(GROUPS_CLAIM, ())),
            "roles": list(user.attributes.get(ROLES_CLAIM, ())),
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl,
        }
        if user.tenant:
            claims["tenant"] = user.tenant
        return claims

    def token(self, user: SAMLUser) -> str:
        """A signed token for ``user``: the one issued moments ago for the same claims, if any."""
        now = self.clock()
        attributes = user.attributes
        key = (
            user.email,
            user.display_name,
            user.tenant,
            tuple(attributes.get(GROUPS_CLAIM, ())),
            tuple(attributes.get(ROLES_CLAIM, ())),
        )
        hit = self._cache.get(key)
        if hit is not None and 0 <= now - hit[0] < self.reuse:
            return hit[1]
        token = self._sign(self.claims(user, now))
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now, token)
        return token

    def header(self, user: SAMLUser) -> tuple[str, str]:
        """``("X-Remote-Jwt", token)``."""
        return HEADER, self.token(user)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWKS document: the SP's public key(s) for RS256, no key for HS256 (a shared secret)."""
        return {"keys": list(self._keys)}


def upstream_jwt(
    settings: Settings, *, audience: str, clock: Callable[[], float] = time.time
) -> UpstreamJWT | None:
    """The signer ``SAML_JWT`` asks for, or ``None`` when it is ``off``."""
    if settings.jwt == "off":
        return None
    return UpstreamJWT(settings, audience=audience, clock=clock)
