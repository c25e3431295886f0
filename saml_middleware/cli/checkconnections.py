"""``saml-middleware check`` with ``SAML_CONNECTIONS``: the registry, every connection, the deployment.

What it does, in order:

1. opens the registry ``SAML_CONNECTIONS`` names and reads every connection (a registry that
   cannot be opened or read is an error naming the problem, its password masked);
2. builds the deployment-wide parts as the middleware does (session store, user directory);
3. for each connection: derives its settings (``settings_for``), builds its gate (its users,
   its keys, its access rules), loads its IdP when it is inline (metadata XML, or Login URL +
   entity ID + certificate) and checks its certificates' expiry. An IdP given by metadata URL
   is fetched on first use, so ``check`` fetches it only with ``--fetch``.

Exit status: 0 ready; 1 the registry or the deployment is broken, or an **enabled** connection
is (a disabled one only warns); 2 valid but no connection yet (to do: add one). A connection
whose IdP is not given yet (its admin has a setup link) is listed, and does not fail the check.
"""

from __future__ import annotations

import argparse
import time

from ..config import Settings
from ..connections import Connection, ConnectionIndex, open_registry, settings_for
from ..errors import ConfigError
from ..gate.gate import Gate
from ..gate.metadata_refresh import load_idp
from ..gate.tenants import TenantGate
from ..masking import redact
from ..ops.configcheck import quiet_not_configured_log
from ..ops.expiry import certificate_statuses, quiet_expiry_log
from ..protocol.logout import sls_url
from ..protocol.metadata import IdPInfo
from .access import print_access
from .connectionforms import idp_summary
from .report import check_upstream, report, warn

__all__ = ["check_connections"]


def _line(label: str, value: object) -> None:
    print(f"  {label + ':':<27}{value}")


def check_connections(settings: Settings, args: argparse.Namespace, stored: str | None = None) -> int:
    """``check`` for a deployment with connections (see the module docstring).

    :param settings: the deployment's settings (``SAML_CONNECTIONS`` set).
    :param args: ``check``'s options (``--fetch``, ``--upstream``).
    :param stored: the store's problem, when ``check`` found one.
    :returns: the exit status.
    """
    label = f"SAML_CONNECTIONS={redact(settings.connections)}"
    try:
        registry = open_registry(settings.connections)
        try:
            connections = sorted(registry.all(), key=lambda c: c.id)
        finally:
            dispose = getattr(registry, "dispose", None)
            if callable(dispose):
                dispose()
    except ConfigError as exc:
        return report("\n".join(f"error: {redact(p)}" for p in exc.problems))
    except Exception as exc:  # a driver's own error: reported, never a traceback
        return report(f"error: {label}: {type(exc).__name__}: {redact(str(exc))}")
    try:
        if stored:
            raise ConfigError([stored])
        with quiet_expiry_log(), quiet_not_configured_log():
            deployment = TenantGate(settings, ConnectionIndex(connections))  # store, sessions, users
    except ConfigError as exc:
        return report(exc)
    enabled = sum(c.enabled for c in connections)
    print("Configuration OK (deployment-wide)\n")
    if not settings.enabled:
        print("SAML_ENABLED=false: SSO is switched off for every connection: every request passes")
        print("through to the app untouched until it is set to true.\n")
    _deployment(settings, label, len(connections), enabled)
    if not connections:
        print("\nTo do (exit status 2 until done):")
        print("  1. add a connection per customer: saml-middleware connections add ID --domain DOMAIN ...")
        status = 2
    else:
        broken = 0
        built: dict[str, Gate] = {}  # each connection's gate, for --user
        for c in connections:
            problems, notes = _connection(settings, c, deployment, built, fetch=args.fetch)
            problems = [_own(p) for p in problems]
            verdict = "OK" if not problems else f"{len(problems)} problem(s), listed on stderr"
            _line("Check", verdict if c.enabled or not problems else verdict + " (SSO off: a warning)")
            warn(f"connection {c.id}: {n}" for n in notes)
            if problems and c.enabled:
                broken += 1
                report("\n".join(f"error: connection {c.id}: {redact(p)}" for p in problems))
            elif problems:
                warn(f"connection {c.id} (disabled): {redact(p)}" for p in problems)
        ready = len(connections) - broken
        print(f"\n{len(connections)} connections checked: {ready} without problems, {broken} broken")
        status = 1 if broken else 0
        _access(connections, built, args)
    if args.upstream:
        status = max(status, check_upstream(args.upstream))
    return status


#: a connection's IdP fields, named as the connection's admin gave them (not as env variables)
_OWN = (
    ("SAML_IDP_METADATA_URL", "its IdP metadata URL"),
    ("SAML_IDP_METADATA", "its IdP metadata XML"),
    ("SAML_IDP_SSO_URL", "its IdP login URL"),
    ("SAML_IDP_ENTITY_ID", "its IdP entity ID"),
    ("SAML_IDP_CERT", "its IdP certificate"),
    ("SAML_IDP_SLO_URL", "its IdP logout URL"),
)


def _own(problem: str) -> str:
    """``problem`` with the connection's IdP fields named as such.

    >>> _own("SAML_IDP_METADATA: not usable XML metadata")
    'its IdP metadata XML: not usable XML metadata'
    """
    for variable, name in _OWN:
        if problem.startswith(variable + ":"):
            return name + problem[len(variable) :]
    return problem


def _access(connections: list[Connection], built: dict[str, Gate], args: argparse.Namespace) -> None:
    """``check --user EMAIL --path P``: the access rules of the connection the e-mail's domain picks."""
    email = getattr(args, "user", None)
    if not email:
        return
    found = ConnectionIndex(connections).by_email(email)
    gate = built.get(found.id) if found is not None else None
    if found is None or gate is None:
        why = "no connection has its domain" if found is None else f"connection {found.id} is broken"
        print(f"\nAccess for {email}: {why}")
        return
    print(f"\nAccess for {email}: connection {found.id}'s rules")
    print_access(gate.settings, gate.access.policy, args)


def _deployment(settings: Settings, label: str, count: int, enabled: int) -> None:
    print("Deployment-wide (every connection shares these):")
    _line("Connections registry", f"{label} ({count} connections, {enabled} with SSO on)")
    _line("Changes live within", f"{settings.connections_refresh} s (SAML_CONNECTIONS_REFRESH)")
    _line("Routing", ", ".join(settings.connection_routing) + " (SAML_CONNECTION_ROUTING)")
    _line("Sign-in page", f"{settings.base_url}{settings.login_path}")
    _line("Setup links valid for", f"{settings.setup_link_ttl} s (SAML_SETUP_LINK_TTL)")
    _line("Sessions", f"{settings.session_store} (SAML_SESSION_STORE), store {redact(settings.store_url)}")
    _line("Users", f"{redact(settings.users)} (SAML_USERS; a connection may set its own)")


def _connection(
    base: Settings, c: Connection, deployment: TenantGate, built: dict[str, Gate], *, fetch: bool
) -> tuple[list[str], list[str]]:
    """Print ``c`` and what its IdP loads as; return its (problems, warnings)."""
    print(f"\nConnection {c.id} ({c.name}): SSO {'on' if c.enabled else 'off'}")
    _line("Tenant", c.tenant)
    _line("Domains", ", ".join(c.domains) or "-")
    _line("Hosts", ", ".join(c.hosts) or "-")
    _line("IdP", idp_summary(c))
    try:
        s = settings_for(base, c)
    except ConfigError as exc:
        return list(exc.problems), []
    _line("Identifier (Entity ID)", s.sp_entity_id)
    _line("Reply URL (ACS URL)", s.acs_url)
    _line("Logout URL", sls_url(s))
    if not c.idp_configured:
        _line(
            "IdP as loaded", f"none yet: its admin gives it (saml-middleware connections setup-link {c.id})"
        )
        return _build(c, deployment, None, built), []
    if c.idp_metadata_url and not fetch:
        _line("IdP as loaded", "fetched from its metadata URL on first use (check --fetch loads it now)")
        return _build(c, deployment, None, built), []
    try:
        with quiet_expiry_log():
            idp = load_idp(s, fetcher=deployment.pool.fetch, connection=c.id)  # the SSRF guard too
    except ConfigError as exc:
        return list(exc.problems), []
    except Exception as exc:  # a fetch or parse failing its own way: that connection's problem
        return [f"its IdP does not load: {type(exc).__name__}: {exc}"], []
    _line("IdP entity ID", idp.entity_id)
    _line("IdP login URL", redact(idp.sso_url))
    problems = _build(c, deployment, idp, built)
    notes = []
    for status in certificate_statuses(idp.certificates, s.sp_cert, time.time()):
        _line("Certificate", f"{status.subject}, expires {status.not_after:%Y-%m-%d} ({status.role})")
        if status.level == "fail":
            problems.append(status.message)
        elif status.level == "warning":
            notes.append(status.message)
    return problems, notes


def _build(c: Connection, deployment: TenantGate, idp: IdPInfo | None, built: dict[str, Gate]) -> list[str]:
    """Build ``c``'s gate as the middleware would (users, keys, access rules) into ``built``;
    its problems."""
    blank = IdPInfo("", "", (), None, "redirect", "redirect")  # its IdP is loaded apart (above)
    try:
        with quiet_expiry_log(), quiet_not_configured_log():
            built[c.id] = deployment.pool.build(c, idp=idp or blank)
    except ConfigError as exc:
        return list(exc.problems)
    except Exception as exc:  # e.g. a key that does not load: reported, never a traceback
        return [f"{type(exc).__name__}: {exc}"]
    return []
