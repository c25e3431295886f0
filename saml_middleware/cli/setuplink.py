"""``saml-middleware connections setup-link ID``: the URL that hands a connection's set-up to
the customer's IT admin (valid ``SAML_SETUP_LINK_TTL`` seconds; see ``docs/tenants.md``, Part 2)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime, timezone

from ..config import Settings
from ..connections import ConnectionRegistry, open_registry
from ..connections.setuplink import issue_setup_link
from ..errors import ConfigError
from .report import load_settings, report

__all__ = ["add_setup_link_command", "print_setup_link", "setup_link_command"]


def print_setup_link(
    settings: Settings, registry: ConnectionRegistry, connection_id: str, *, now: float
) -> int:
    """Print the setup link of ``connection_id`` (exit 0), or refuse an unknown id (exit 1)."""
    connection = registry.get(connection_id)
    if connection is None:
        known = ", ".join(sorted(c.id for c in registry.all())[:10]) or "none yet"
        return report(f"no connection {connection_id!r} (known: {known}); add it first with connections add")
    expires = datetime.fromtimestamp(int(now) + settings.setup_link_ttl, timezone.utc)
    print(issue_setup_link(settings, connection.id, now=now))
    print(
        f"valid until {expires:%Y-%m-%d %H:%M} UTC for {connection.name}'s IT admin only: whoever holds "
        "it can set up and switch on this connection's single sign-on"
    )
    return 0


def setup_link_command(args: argparse.Namespace, *, clock: Callable[[], float] = time.time) -> int:
    """The verb: the registry from ``SAML_CONNECTIONS``."""
    settings = load_settings()
    if settings is None:
        return 1
    if not settings.connections:
        return report("connections setup-link needs SAML_CONNECTIONS (where connections are kept)")
    try:
        registry = open_registry(settings.connections)
        return print_setup_link(settings, registry, args.id, now=clock())
    except ConfigError as exc:  # cannot be opened or reached (the message masks the password)
        return report(exc)


def add_setup_link_command(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``setup-link ID`` on the ``connections`` verb's sub-parsers."""
    link = actions.add_parser("setup-link", help="print a self-service setup URL for the customer's IT admin")
    link.add_argument("id", help="the connection id, e.g. acme")
    link.set_defaults(func=setup_link_command)
