"""The ``hot`` section: the per-request path, in process.

The cookie check (``Gate.session``) with the cookie seen before and not, the ASGI/WSGI
overhead per authenticated request (:mod:`overhead`), and the login redirect
(``Gate.challenge``), unsigned and signed with an RSA-2048 SP key.
"""

from __future__ import annotations

import overhead
from common import BROWSE, Gate, fresh_cookie, make_settings, timed

from saml_middleware import Settings
from saml_middleware.devidp import DevIdP, generate_keypair

#: (name, p50 seconds, p99 seconds, note)
HotRow = tuple[str, float, float, str]


def rows(idp: DevIdP, settings: Settings, n: int) -> list[HotRow]:
    gate = Gate(settings)
    header = f"theme=dark; {fresh_cookie(gate)}"

    def unseen() -> object:
        gate.sessions.forget_cached()
        return gate.session(header)

    out: list[HotRow] = [
        ("cookie check (Gate.session), seen before", *timed(lambda: gate.session(header), n), ""),
        ("cookie check, cookie not seen before", *timed(unseen, n), "one HMAC + JSON"),
    ]
    for name, measure in (("ASGI", overhead.asgi), ("WSGI", overhead.wsgi)):
        bare, wrapped = measure(settings, n * 5)
        note = f"wrapped {wrapped[1] * 1e6:.2f}us - bare {bare[1] * 1e6:.2f}us"
        out.append(
            (f"{name} authenticated request overhead", wrapped[1] - bare[1], wrapped[2] - bare[2], note)
        )
    key, cert = generate_keypair("bench SP")
    signed = Gate(make_settings(idp, sp_key=key, sp_cert=cert))
    out.append(("login redirect (AuthnRequest, deflate)", *timed(lambda: gate.challenge(BROWSE), n), ""))
    out.append(("login redirect, signed (SP key, RSA-2048)", *timed(lambda: signed.challenge(BROWSE), n), ""))
    return out


def section(idp: DevIdP, settings: Settings, n: int) -> None:
    """Print the per-request table, in microseconds."""
    table = rows(idp, settings, n)
    print(f"\nPer-request path, in process (n={n}; ASGI/WSGI n={n * 5}, tiny app)")
    print(f"{'row':48} {'p50 us':>8} {'p99 us':>8}  note")
    for name, p50, p99, note in table:
        print(f"{name:48} {p50 * 1e6:8.2f} {p99 * 1e6:8.2f}  {note}")
