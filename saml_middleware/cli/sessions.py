"""``saml-middleware sessions revoke EMAIL``: end every session of a user (offboarding)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ..errors import ConfigError, StoreUnavailable
from ..ops.audit import AuditEvent, emit
from ..stores import open_stores, store_scheme
from .report import load_settings, report

__all__ = ["add_sessions_command", "revoke_command"]


def revoke_command(args: argparse.Namespace, *, clock: Callable[[], float] = time.time) -> int:
    """Revoke through the configured store; prints how many sessions ended.

    Exit status 1 when the configuration cannot revoke anything (cookie
    sessions, or a ``memory://`` store that lives inside each app process), or
    the store cannot be reached.
    """
    settings = load_settings()
    if settings is None:
        return 1
    if settings.session_store != "server" or store_scheme(settings.store_url) == "memory":
        return report(
            "sessions revoke needs SAML_SESSION_STORE=server and SAML_STORE_URL=redis://...: "
            "cookie sessions cannot be ended from outside (they expire after SAML_SESSION_MAX_AGE; "
            "rotate SAML_SECRET_KEY to end all of them)"
        )
    try:
        _, store = open_stores(
            settings.store_url,
            namespace=settings.sp_entity_id,
            session_max_age=settings.session_max_age,
            clock=clock,
        )
        ended = store.revoke(args.email)
    except (ConfigError, StoreUnavailable) as exc:
        return report(f"cannot revoke: {exc}")
    emit(AuditEvent("revocation", clock(), email=args.email))
    print(f"ended {ended} session{'' if ended == 1 else 's'} of {args.email}")
    return 0


def add_sessions_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sessions revoke EMAIL`` on the ``saml-middleware`` parser."""
    sessions = sub.add_parser("sessions", help="manage server-side sessions (SAML_SESSION_STORE=server)")
    actions = sessions.add_subparsers(dest="action", required=True)
    revoke = actions.add_parser("revoke", help="end every session of a user, on every instance")
    revoke.add_argument("email")
    revoke.set_defaults(func=revoke_command)
