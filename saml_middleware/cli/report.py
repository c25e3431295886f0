"""How every verb of ``saml-middleware`` reports a problem: a message on stderr and an exit status."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from ..config import Settings
from ..errors import ConfigError
from ..masking import redact
from ..protocol.metadata import IdPInfo

__all__ = ["binding_summary", "check_upstream", "load_settings", "report", "warn"]


def report(message: object, status: int = 1) -> int:
    """Print ``message`` on stderr (a :class:`ConfigError` lists every problem); return ``status``."""
    print(str(message), file=sys.stderr)
    return status


def warn(lines: Iterable[str]) -> None:
    """Each of ``lines`` on stderr as ``warning: ...``."""
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def load_settings() -> Settings | None:
    """The settings from the environment, or ``None`` once their problems are reported."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        report(exc)
        return None


def binding_summary(idp: IdPInfo, settings: Settings) -> str:
    """How AuthnRequests travel to ``idp``, and why, for ``check``.

    >>> settings = Settings(base_url="https://app.example.com", secret_key=("k" * 32,))
    >>> binding_summary(IdPInfo("e", "https://idp/sso", (), sso_binding="post"), settings)
    'HTTP-POST (SAML_AUTHN_REQUEST_BINDING=auto: the IdP lists no HTTP-Redirect login endpoint)'
    """
    name = {"redirect": "HTTP-Redirect", "post": "HTTP-POST"}[idp.sso_binding]
    setting = f"SAML_AUTHN_REQUEST_BINDING={settings.authn_request_binding}"
    if settings.authn_request_binding == "auto" and idp.sso_binding == "post":
        return f"{name} ({setting}: the IdP lists no HTTP-Redirect login endpoint)"
    return f"{name} ({setting})"


def check_upstream(url: str) -> int:
    """Proxy mode: any HTTP answer from the upstream counts (it may well be a 404 or a 401)."""
    import httpx  # only `check --upstream` needs it

    try:
        answer = httpx.get(url, timeout=5.0, follow_redirects=False)
    except httpx.HTTPError as exc:
        return report(f"\nUpstream {redact(url)}: NOT reachable ({type(exc).__name__}: {redact(str(exc))})")
    print(f"\nUpstream {redact(url)}: reachable (HTTP {answer.status_code})")
    return 0
