"""``saml-middleware sessions list|revoke``: the sessions kept in the store (offboarding, incidents).

Only the store is needed: ``SAML_STORE_URL`` and the namespace the app's sessions live
under, its SP entity ID (``SAML_SP_ENTITY_ID``, else ``{SAML_BASE_URL}{SAML_PATH_PREFIX}/metadata``;
with ``--connection ID``, ``{SAML_BASE_URL}{SAML_PATH_PREFIX}/c/{ID}/metadata``; ``--entity-id``
overrides both). The secret keys and the IdP set-up are not read, so the command runs where
only the store's address is known.

* ``sessions list EMAIL`` - one line per live session of the user;
* ``sessions revoke EMAIL`` - ends them, on every instance;
* ``sessions revoke --connection ID`` / ``sessions revoke --all`` - every session of the
  connection / of the app (asks first, unless ``--yes``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime, timezone

from ..config import Settings
from ..configenv import env_values
from ..errors import ConfigError, StoreUnavailable
from ..ops.audit import AuditEvent, emit
from ..sessions.record import decode_record
from ..stores import SessionStore, open_stores, store_scheme
from .report import report

__all__ = ["add_sessions_command", "list_command", "revoke_command", "store_target"]

#: the settings these commands read (and nothing else: no secret, no IdP)
_READ = ("store_url", "sp_entity_id", "base_url", "path_prefix", "session_store")
_CONNECTION_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def store_target(args: argparse.Namespace, environ: dict[str, str] | None = None) -> tuple[str, str, str]:
    """``(store URL, namespace, session kind)`` from the options and the environment.

    :raises ConfigError: naming what is missing (never printing a password).
    """
    problems: list[str] = []
    wanted = [f for f in fields(Settings) if f.name in _READ]
    values = env_values(wanted, dict(os.environ) if environ is None else environ, problems)
    url = args.store_url or values.get("store_url", "memory://")
    if problems:
        raise ConfigError(problems)
    store_scheme(url)  # refuses unknown schemes, password masked
    base = str(values.get("base_url", "")).rstrip("/")
    prefix = "/" + str(values.get("path_prefix", "/saml")).strip("/")
    connection = args.connection
    if connection is not None and not _CONNECTION_ID.match(connection):
        raise ConfigError([f"--connection {connection!r}: a connection id is a slug ([a-z0-9-], 1-63)"])
    # with connections every session lives under the deployment's entity ID, its id starting
    # with its connection's ("acme.<random>"): --connection selects by that prefix
    if args.entity_id:
        namespace = args.entity_id
    elif not values.get("sp_entity_id"):
        if not base:
            raise ConfigError(
                ["sessions needs SAML_BASE_URL (or --entity-id, the SP entity ID the sessions live under)"]
            )
        namespace = f"{base}{prefix}/metadata"
    else:
        namespace = str(values["sp_entity_id"])
    return url, namespace, str(values.get("session_store", "cookie"))


def _open(args: argparse.Namespace, clock: Callable[[], float]) -> tuple[SessionStore, str] | int:
    """The session store and its namespace, or the exit status once the problem is reported."""
    try:
        url, namespace, kind = store_target(args)
    except ConfigError as exc:
        return report(exc)
    if store_scheme(url) == "memory":
        return report(
            f"sessions {args.action} needs SAML_SESSION_STORE=server and SAML_STORE_URL=redis://...: "
            "a memory:// store lives inside each app process, and cookie sessions cannot be ended "
            "from outside (they expire after SAML_SESSION_MAX_AGE; rotate SAML_SECRET_KEY to end all)"
        )
    if kind != "server":
        print(
            "note: SAML_SESSION_STORE=cookie: only sessions that overflowed into the store "
            "(SAML_SESSION_OVERFLOW) are there; the others live in their cookies",
            file=sys.stderr,
        )
    try:
        # the index lifetime matters only to writes, which these commands never make
        _, store = open_stores(url, namespace=namespace, session_max_age=28800, clock=clock)
    except ConfigError as exc:
        return report(exc)
    return store, namespace


def _of_connection(found: dict[str, bytes], connection: str | None) -> dict[str, bytes]:
    """The sessions of ``connection`` (their ids start with ``connection.``), or all of them."""
    return found if connection is None else {k: v for k, v in found.items() if k.startswith(connection + ".")}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_command(args: argparse.Namespace, *, clock: Callable[[], float] = time.time) -> int:
    """Print the live sessions of ``args.email``: id (its first 8 characters), login time,
    last activity, connection and tenant, number of attributes."""
    opened = _open(args, clock)
    if isinstance(opened, int):
        return opened
    store, namespace = opened
    try:
        found = _of_connection(store.sessions(args.email), args.connection)
    except StoreUnavailable as exc:
        return report(f"cannot list sessions: {exc}")
    rows = []
    for sid, record in sorted(found.items()):
        session = decode_record(sid, record)
        if session is None:
            rows.append(f"{sid[:8]}  (unreadable record)")
            continue
        user = session.user
        where = f"connection={user.connection or '-'} tenant={user.tenant or '-'}"
        rows.append(
            f"{sid[:8]}  signed in {_when(session.issued)}  last seen {_when(session.seen)}  "
            f"{where}  {len(user.attributes)} attributes"
        )
    print(f"{len(rows)} session{'' if len(rows) == 1 else 's'} of {args.email} under {namespace}")
    for row in rows:
        print("  " + row)
    return 0


def revoke_command(
    args: argparse.Namespace,
    *,
    clock: Callable[[], float] = time.time,
    confirm: Callable[[str], str] | None = None,
) -> int:
    """End the sessions of ``args.email``, or every session of the namespace (``--all``, or
    ``--connection`` without an e-mail: confirmed first unless ``--yes``); prints how many ended.

    Exit status 1 when the store is ``memory://`` (it lives inside each app process) or cannot
    be reached, or the confirmation is not given.
    """
    everyone = args.all or (args.email is None and args.connection is not None)
    if args.email is None and not everyone:
        return report("sessions revoke needs an EMAIL, --connection ID or --all")
    if args.email is not None and args.all:
        return report("give either an EMAIL or --all, not both")
    opened = _open(args, clock)
    if isinstance(opened, int):
        return opened
    store, namespace = opened
    if everyone and not args.yes:
        try:
            scope = f"of connection {args.connection} " if args.connection else ""
            answer = (confirm or input)(f"End every session {scope}under {namespace}? Type 'yes' to go on: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            return report("nothing ended (not confirmed; --yes skips the question)")
    sid_prefix = f"{args.connection}." if args.connection else ""
    try:
        if everyone:
            ended = store.revoke_all(sid_prefix)
        elif sid_prefix:  # one user's sessions of one connection
            ends = list(_of_connection(store.sessions(args.email), args.connection))
            for sid in ends:
                store.delete(sid, args.email)
            ended = len(ends)
        else:
            ended = store.revoke(args.email)
    except StoreUnavailable as exc:
        return report(f"cannot revoke: {exc}")
    emit(AuditEvent("revocation", clock(), email=None if everyone else args.email))
    whose = f"under {namespace}" if everyone else f"of {args.email}"
    if args.connection:
        whose += f" (connection {args.connection})"
    print(f"ended {ended} session{'' if ended == 1 else 's'} {whose}")
    return 0


def add_sessions_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sessions list`` and ``sessions revoke`` on the ``saml-middleware`` parser."""
    sessions = sub.add_parser("sessions", help="list or end the sessions kept in SAML_STORE_URL")
    actions = sessions.add_subparsers(dest="action", required=True)

    def where(p: argparse.ArgumentParser) -> None:
        p.add_argument("--connection", metavar="ID", help="the sessions of this connection (many tenants)")
        p.add_argument("--entity-id", metavar="URL", help="the SP entity ID the sessions live under")
        p.add_argument("--store-url", metavar="URL", help="instead of SAML_STORE_URL")

    listing = actions.add_parser("list", help="the live sessions of a user")
    listing.add_argument("email")
    where(listing)
    listing.set_defaults(func=list_command)
    revoke = actions.add_parser("revoke", help="end sessions on every instance: a user's, or all")
    revoke.add_argument("email", nargs="?")
    revoke.add_argument("--all", action="store_true", help="every session (of the app, or of --connection)")
    revoke.add_argument("--yes", action="store_true", help="do not ask before ending many sessions")
    where(revoke)
    revoke.set_defaults(func=revoke_command)
