"""``saml-middleware connections ...``: add, list, show, update, enable, disable, remove,
import and export the connections in ``SAML_CONNECTIONS`` (or ``--connections URL``).

Exit status: 0 done; 1 refused or invalid (every problem listed on stderr); 2 usage. A
change is live on every instance within ``SAML_CONNECTIONS_REFRESH`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..connections import Connection, ConnectionRegistry, open_registry
from ..connections.file import parse_connections
from ..connections.registry import claimed_elsewhere
from ..errors import ConfigError
from ..masking import redact
from .connectionforms import (
    add_record_options,
    base_settings,
    build,
    entra_values,
    idp_summary,
    table,
)
from .report import report
from .setuplink import add_setup_link_command

__all__ = ["add_connections_command"]

Verb = Callable[[ConnectionRegistry, argparse.Namespace], int]


def _registry(args: argparse.Namespace) -> ConnectionRegistry | int:
    url = args.connections or os.environ.get("SAML_CONNECTIONS", "")
    if not url and os.environ.get("SAML_CONNECTIONS_FILE"):  # the _FILE form, as for every variable
        try:
            url = Path(os.environ["SAML_CONNECTIONS_FILE"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            return report(
                f"SAML_CONNECTIONS_FILE: cannot read {os.environ['SAML_CONNECTIONS_FILE']}: {exc.strerror}"
            )
    if not url:
        return report(
            "no connections registry: set SAML_CONNECTIONS (e.g. sqlite:///var/lib/app/connections.db) "
            "or pass --connections URL",
            2,
        )
    try:
        return open_registry(url)
    except ConfigError as exc:
        return _refused(exc)


def _refused(exc: ConfigError) -> int:
    """Every problem on stderr, one ``error:`` line each; exit status 1."""
    return report("\n".join(f"error: {redact(p)}" for p in exc.problems))


def _run(verb: Verb) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        registry = _registry(args)
        if isinstance(registry, int):
            return registry
        try:
            return verb(registry, args)
        except ConfigError as exc:  # invalid, refused (domain taken, read-only), unreachable
            return _refused(exc)
        except Exception as exc:  # a driver's own error: reported, never a traceback
            return report(f"error: {type(exc).__name__}: {redact(str(exc))}")
        finally:
            dispose = getattr(registry, "dispose", None)
            if callable(dispose):
                dispose()

    return command


def _existing(registry: ConnectionRegistry, connection_id: str) -> Connection:
    found = registry.get(connection_id)
    if found is None:
        raise ConfigError([f"no connection {connection_id!r} (see `saml-middleware connections list`)"])
    return found


def _add(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    if registry.get(args.id) is not None:
        return report(
            f"connection {args.id} exists; change it with `saml-middleware connections update {args.id}`"
        )
    connection = build(args, None)
    registry.put(connection)
    state = "SSO on" if connection.enabled else "SSO off"
    print(f"added {connection.id} ({connection.name}), {state}; IdP: {idp_summary(connection)}")
    print(f"the values to paste into the IdP: saml-middleware connections show {connection.id}")
    return 0


def _update(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    connection = build(args, _existing(registry, args.id))
    registry.put(connection)
    print(f"updated {connection.id} ({connection.name}); IdP: {idp_summary(connection)}")
    return 0


def _switch(enabled: bool) -> Verb:
    def verb(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
        current = _existing(registry, args.id)
        if enabled and not current.idp_configured:
            return report(
                f"connection {args.id} has no IdP yet: give it with `connections update {args.id} "
                "--metadata-url URL` (or --metadata-file, or --sso-url with --idp-entity-id and --idp-cert)"
            )
        registry.put(Connection.from_dict({**current.to_dict(), "enabled": enabled}))
        print(f"{args.id}: SSO {'enabled' if enabled else 'disabled'}")
        return 0

    return verb


def _remove(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    if not registry.remove(args.id):
        return report(f"no connection {args.id!r}")
    print(f"removed {args.id}")
    return 0


def _list(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    connections = sorted(registry.all(), key=lambda c: c.id)
    if args.json:
        print(json.dumps([c.to_dict() for c in connections], indent=2))
    elif not connections:
        print("no connections yet: add one with `saml-middleware connections add ID --domain DOMAIN`")
    else:
        print(table(connections))
    return 0


def _show(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    c = _existing(registry, args.id)
    base = base_settings()
    print(f"Connection:   {c.id}\nName:         {c.name}\nTenant:       {c.tenant}")
    print(f"SSO:          {'enabled' if c.enabled else 'disabled'}")
    print(f"Domains:      {', '.join(c.domains) or '-'}\nHosts:        {', '.join(c.hosts) or '-'}")
    print(f"IdP:          {idp_summary(c)}")
    for name, value in sorted(c.settings.items()):
        print(f"  {name} = {redact(str(value)) if 'key' not in name else '(set)'}")
    print(
        "\nGive these to the IdP (Entra: Enterprise application > Single sign-on > Basic SAML Configuration):"
    )
    for label, value in entra_values(base, c):
        print(f"  {label + ':':<27}{value}")
    return 0


def _import(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except OSError as exc:
        return report(f"cannot read {args.file}: {exc.strerror}")
    except ValueError as exc:
        return report(f"{args.file}: not valid JSON: {exc}")
    batch = parse_connections(data, args.file)
    known = {c.id for c in registry.all()}
    put_many = getattr(registry, "put_many", None)
    if callable(put_many):
        put_many(batch)  # one transaction: all or none
    else:
        ids = {c.id for c in batch}
        kept = [c for c in registry.all() if c.id not in ids]
        problems = [p for i, c in enumerate(batch) for p in claimed_elsewhere(c, kept + batch[:i])]
        if problems:
            raise ConfigError(problems)
        for c in batch:
            registry.put(c)
    replaced = sum(c.id in known for c in batch)
    print(f"imported {len(batch)} connections ({len(batch) - replaced} new, {replaced} replaced)")
    return 0


def _export(registry: ConnectionRegistry, args: argparse.Namespace) -> int:
    connections = sorted(registry.all(), key=lambda c: c.id)
    sys.stdout.write(json.dumps([c.to_dict() for c in connections], indent=2) + "\n")
    return 0


def add_connections_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``connections VERB ...`` on the ``saml-middleware`` parser."""
    registry_help = "the registry (default: $SAML_CONNECTIONS)"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--connections", metavar="URL", default=argparse.SUPPRESS, help=registry_help)
    parser = sub.add_parser(
        "connections", help="manage the IdP connections of many tenants (SAML_CONNECTIONS)"
    )
    parser.add_argument("--connections", metavar="URL", help=registry_help)
    verbs = parser.add_subparsers(dest="verb", required=True)

    def verb(name: str, func: Verb, help_: str) -> argparse.ArgumentParser:
        p = verbs.add_parser(name, help=help_, parents=[common])
        p.set_defaults(func=_run(func))
        return p

    add = verb("add", _add, "add a connection (one customer organisation's IdP)")
    add.add_argument("id", help="a slug: a-z, 0-9 and '-', used in URLs")
    add_record_options(add, adding=True)
    update = verb("update", _update, "change the options given, keep the rest")
    update.add_argument("id")
    add_record_options(update, adding=False)
    for name, func, help_ in (
        ("enable", _switch(True), "switch its SSO on"),
        ("disable", _switch(False), "switch its SSO off: its users are no longer sent to its IdP"),
        ("remove", _remove, "delete it"),
        ("show", _show, "the record and the values to paste into the IdP (needs SAML_BASE_URL)"),
    ):
        verb(name, func, help_).add_argument("id")
    verb("list", _list, "every connection").add_argument("--json", action="store_true")
    verb("import", _import, "add or replace the connections of a JSON file (all or nothing)").add_argument(
        "file"
    )
    verb("export", _export, "every connection as JSON (what import reads)")
    add_setup_link_command(verbs)
