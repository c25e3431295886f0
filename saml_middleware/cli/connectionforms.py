"""What ``saml-middleware connections add/update`` options mean as Connection fields, and how
``list``/``show`` print connections. No registry here: ``connections.py`` reads and writes."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..config import Settings
from ..configenv import env_values
from ..connections import OVERRIDABLE, Connection, settings_for, sign_on_url
from ..errors import ConfigError
from ..masking import redact
from ..protocol.logout import sls_url

__all__ = ["add_record_options", "base_settings", "build", "entra_values", "idp_summary", "table"]

_IDP_SOURCES = ("idp_metadata_url", "idp_metadata", "idp_sso_url")


def add_record_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    """The options ``add`` and ``update`` share (``update`` changes only those given)."""
    p.add_argument("--name", help="the customer's name, shown on pages")
    p.add_argument("--tenant", help="what the app knows the customer by (SAMLUser.tenant; default the id)")
    replaces = "" if adding else " (replaces the list)"
    p.add_argument("--domain", action="append", help=f"an e-mail domain of theirs, repeatable{replaces}")
    p.add_argument("--host", action="append", help=f"a host name routed to it, repeatable{replaces}")
    idp = p.add_mutually_exclusive_group()
    idp.add_argument("--metadata-url", help="the IdP's metadata URL (Entra: App Federation Metadata Url)")
    idp.add_argument("--metadata-file", help="the IdP's metadata XML file (Entra: Federation Metadata XML)")
    idp.add_argument("--sso-url", help="the IdP's login URL, with --idp-entity-id and --idp-cert")
    p.add_argument("--idp-entity-id", help="the IdP's entity ID (Entra: Microsoft Entra Identifier)")
    p.add_argument("--idp-cert", action="append", help="a PEM certificate file of the IdP, repeatable")
    p.add_argument("--idp-slo-url", help="the IdP's logout URL (with --sso-url)")
    p.add_argument("--sp-entity-id", help="this connection's SP entity ID (default .../c/ID/metadata)")
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a per-IdP setting, as its SAML_ variable would be given, e.g. allow_idp_initiated=true",
    )
    if adding:
        p.add_argument("--disabled", action="store_true", help="add it with SSO switched off")
    else:
        p.add_argument("--unset", action="append", metavar="NAME", help="drop a per-IdP setting")


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [f"cannot read the {what} {path}: {getattr(exc, 'strerror', None) or exc}"]
        ) from None


def _settings(
    assignments: Sequence[str], unset: Sequence[str], current: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    by_name = {f.name: f for f in fields(Settings)}
    out = dict(current)
    for item in assignments:
        raw_name, sep, value = item.partition("=")
        name = raw_name.strip().lower().removeprefix("saml_")
        if not sep or name not in OVERRIDABLE:
            problems.append(
                f"--set {item!r}: give NAME=VALUE with NAME one of {', '.join(sorted(OVERRIDABLE))}"
            )
            continue
        found = env_values([by_name[name]], {f"SAML_{name.upper()}": value}, problems)
        out.update(found)
    for raw_name in unset:
        out.pop(raw_name.strip().lower().removeprefix("saml_"), None)
    return out


def build(args: argparse.Namespace, current: Connection | None) -> Connection:
    """The connection ``args`` describe: ``current`` (for ``update``) with the options given.

    :raises ConfigError: listing every problem (unreadable files, bad ``--set``, bad fields).
    """
    problems: list[str] = []
    try:
        data = record_fields(args, current, problems)
    except ConfigError as exc:
        raise ConfigError(exc.problems + problems) from None
    try:
        connection = Connection.from_dict(data)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return connection


def record_fields(
    args: argparse.Namespace, current: Connection | None, problems: list[str]
) -> dict[str, Any]:
    """The record's fields; a bad ``--set`` is appended to ``problems`` (and left out).

    :raises ConfigError: an unreadable file.
    """
    data = current.to_dict() if current is not None else {"id": args.id}
    for option, name in (("name", "name"), ("tenant", "tenant"), ("sp_entity_id", "sp_entity_id")):
        if getattr(args, option) is not None:
            data[name] = getattr(args, option)
    if args.domain is not None:
        data["domains"] = [d for item in args.domain for d in item.split(",")]
    if args.host is not None:
        data["hosts"] = [h for item in args.host for h in item.split(",")]
    source: dict[str, Any] = {}
    if args.metadata_url:
        source["idp_metadata_url"] = args.metadata_url
        if not args.metadata_url.lower().startswith("https://"):  # what the SSRF guard would refuse
            problems.append(
                f"{args.id}: --metadata-url must start with https:// (a connection's metadata is "
                "fetched over https only; save a local copy with --metadata-file)"
            )
    if args.metadata_file:
        source["idp_metadata"] = _read(args.metadata_file, "metadata file")
    if args.sso_url:
        source["idp_sso_url"] = args.sso_url
    if source:  # a new IdP replaces the old one entirely
        data.update({n: "" for n in _IDP_SOURCES}, idp_entity_id="", idp_cert=[], idp_slo_url="")
        data.update(source)
    if args.idp_entity_id is not None:
        data["idp_entity_id"] = args.idp_entity_id
    if args.idp_cert:
        data["idp_cert"] = [_read(path, "certificate file") for path in args.idp_cert]
    if args.idp_slo_url is not None:
        data["idp_slo_url"] = args.idp_slo_url
    unset = getattr(args, "unset", None) or ()
    data["settings"] = _settings(args.set or (), unset, data.get("settings", {}), problems)
    if getattr(args, "disabled", False):
        data["enabled"] = False
    return data


def idp_summary(c: Connection) -> str:
    """How the connection's IdP is given, in a few words."""
    if c.idp_metadata_url:
        return f"metadata URL {redact(c.idp_metadata_url)}"
    if c.idp_metadata:
        return f"metadata XML ({len(c.idp_metadata.encode())} bytes)"
    if c.idp_sso_url:
        n = len(c.idp_cert)
        return (
            f"login URL {redact(c.idp_sso_url)}, entity ID {c.idp_entity_id}, {n} certificate{'s' * (n != 1)}"
        )
    return "not set up yet"


def table(connections: Sequence[Connection]) -> str:
    """``connections list``: one aligned row per connection."""
    rows = [("ID", "NAME", "TENANT", "SSO", "DOMAINS", "HOSTS", "IDP")]
    for c in sorted(connections, key=lambda c: c.id):
        idp = "metadata-url" if c.idp_metadata_url else "metadata" if c.idp_metadata else ""
        idp = idp or ("login-url" if c.idp_sso_url else "-")
        sso = "on" if c.enabled else "off"
        rows.append((c.id, c.name, c.tenant, sso, ",".join(c.domains) or "-", ",".join(c.hosts) or "-", idp))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def base_settings() -> Settings:
    """The deployment's settings, or (without a full configuration) its base URL and prefix.

    :raises ConfigError: ``SAML_BASE_URL`` is not set.
    """
    try:
        return Settings.from_env()
    except ConfigError:
        base = os.environ.get("SAML_BASE_URL", "")
        if not base:
            raise ConfigError(
                ["set SAML_BASE_URL (the app's public URL) to compute the values to paste into the IdP"]
            ) from None
        prefix = os.environ.get("SAML_PATH_PREFIX", "/saml")
        return Settings(base_url=base, path_prefix=prefix, secret_key=("x" * 32,))


def entra_values(base: Settings, c: Connection) -> list[tuple[str, str]]:
    """Entra's "Basic SAML Configuration" for ``c``: Identifier, Reply URL, Sign on URL, Logout URL."""
    s = settings_for(base, c)
    return [
        ("Identifier (Entity ID)", s.sp_entity_id),
        ("Reply URL (ACS URL)", s.acs_url),
        ("Sign on URL", sign_on_url(s)),
        ("Logout URL", sls_url(s)),
        ("SP metadata", s.base_url + s.metadata_path),
    ]
