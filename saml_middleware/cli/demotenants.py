"""``saml-middleware demo --tenants``: the sign-in page routing two companies to two tenants.

With no configuration: the dev IdP plays three Entra tenants (``dev-idp --tenants``), and the
demo app is wrapped by the middleware over a connections registry in a temporary SQLite file
(removed on exit) holding

* ``contoso`` (Contoso, ``@contoso.com``: dev IdP tenant 1) and ``fabrikam`` (Fabrikam,
  ``@fabrikam.com``: tenant 2), both set up and enabled: ``/`` asks for the work e-mail, and its
  domain sends the browser to that company's tenant;
* ``northwind`` (Northwind Traders, ``@northwindtraders.com``: tenant 3), not set up yet: the
  banner prints the setup link its IT admin would get from ``connections setup-link northwind``,
  and where tenant 3's Federation Metadata XML is, to upload on that page.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ..asgi import SAMLMiddleware
from ..config import Settings
from ..connections import Connection, open_registry
from ..connections.setuplink import issue_setup_link
from .demo import demo_app, listen_or_explain
from .devtenants import idp_key_pair
from .report import report

__all__ = ["COMPANIES", "TenantDemo", "demo_tenants_command", "tenant_demo"]

#: (connection id, company name, e-mail domain); the last one is left for its admin to set up
COMPANIES = (
    ("contoso", "Contoso", "contoso.com"),
    ("fabrikam", "Fabrikam", "fabrikam.com"),
    ("northwind", "Northwind Traders", "northwindtraders.com"),
)


@dataclass(frozen=True)
class TenantDemo:
    """The demo's servers and what the banner says about them."""

    #: the app's base URL
    base: str
    #: the dev IdP's index page (its tenants)
    idp_index: str
    #: per company set up: (connection id, name, e-mails to try)
    companies: list[tuple[str, str, list[str]]]
    #: the deployment admin (may open ``/saml/setup``)
    admin: str
    #: the registry URL (``connections list --connections URL`` works while the demo runs)
    registry: str
    #: the third company's setup link, and its tenant's Federation Metadata XML URL
    setup_link: str
    setup_metadata: str
    #: app, dev IdP
    servers: list[uvicorn.Server]


def tenant_demo(args: argparse.Namespace, workdir: Path, idp_host: str) -> TenantDemo:
    """Build the demo (nothing listens yet): the registry in ``workdir``, the servers."""
    from ..devidp import DEFAULT_USERS, load_users, with_groups  # only demo and dev-idp load it
    from ..devidp.tenants import dev_tenants, tenants_app

    base = f"http://{args.public_host}:{args.port}"
    root = f"http://{idp_host}:{args.idp_port}"
    count = len(COMPANIES)
    keys = [
        idp_key_pair(Path(args.key_dir) / f"tenant{n}") if args.key_dir else None for n in range(1, count + 1)
    ]
    users = with_groups(load_users(args.users) if args.users else DEFAULT_USERS, args.groups)
    idps = dev_tenants(
        root,
        count,
        users=users,
        keys=keys,
        domains=[domain for _, _, domain in COMPANIES],
        sign=args.sign,
        sso_binding=args.sso_binding,
    )
    registry_url = f"sqlite:///{workdir / 'connections.db'}"
    registry = open_registry(registry_url)
    for (cid, name, domain), idp in zip(COMPANIES[:-1], idps[:-1], strict=True):
        registry.put(Connection(cid, name=name, domains=(domain,), idp_metadata=idp.metadata_xml().decode()))
    cid, name, domain = COMPANIES[-1]
    registry.put(Connection(cid, name=name, domains=(domain,), enabled=False))
    dispose = getattr(registry, "dispose", None)
    if callable(dispose):
        dispose()
    admin = idps[0].users[0].email
    settings = Settings(
        base_url=base,
        secret_key=(secrets.token_urlsafe(32),),
        connections=registry_url,
        connections_refresh=1,  # a change (setup page, `connections` command) is live within a second
        public_paths=("/public",),
        admin_emails=(admin,),
    )
    app = SAMLMiddleware(demo_app(admin), settings=settings)
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")),
        uvicorn.Server(
            uvicorn.Config(tenants_app(idps), host=args.host, port=args.idp_port, log_level="warning")
        ),
    ]
    companies = [
        (c[0], c[1], [u.email for u in idp.users[:2]]) for c, idp in zip(COMPANIES, idps, strict=True)
    ]
    return TenantDemo(
        base=base,
        idp_index=f"{root}/",
        companies=companies[:-1],
        admin=admin,
        registry=registry_url,
        setup_link=issue_setup_link(settings, cid, now=time.time()),
        setup_metadata=idps[-1].metadata_url,
        servers=servers,
    )


def _banner(demo: TenantDemo) -> None:
    lines = [f"saml-middleware demo --tenants: open {demo.base}/ and sign in with a work e-mail"]
    for cid, name, emails in demo.companies:
        lines.append(f"  {name} (connection {cid}): {', '.join(emails)}")
    email = demo.companies[-1][2][0]
    lines += [
        f"  straight to a company's IdP: {demo.base}/saml/login?email={email}",
        f"  dev IdP tenants: {demo.idp_index}",
        f"  deployment admin page (sign in as {demo.admin}): {demo.base}/saml/setup",
        f"  connections: saml-middleware connections list --connections {demo.registry}",
        f"  {COMPANIES[-1][1]} is not set up yet. Its IT admin's setup link "
        f"(what `saml-middleware connections setup-link {COMPANIES[-1][0]}` prints):",
        f"    {demo.setup_link}",
        f"    its IdP: download {demo.setup_metadata}",
        "    and upload it there as the Federation Metadata XML; then Test sign-in, Enable SSO",
        "  stop with Ctrl-C",
    ]
    print("\n".join(lines), flush=True)


async def _serve(servers: Sequence[uvicorn.Server], sockets: Sequence[socket.socket]) -> None:
    await asyncio.gather(*(s.serve(sockets=[sock]) for s, sock in zip(servers, sockets, strict=True)))


def demo_tenants_command(args: argparse.Namespace, idp_host: str) -> int:
    """``demo --tenants``: listen, build, print the banner, serve until Ctrl-C."""
    sockets = listen_or_explain(args.host, [(args.port, "--port"), (args.idp_port, "--idp-port")])
    if sockets is None:
        return 1
    with tempfile.TemporaryDirectory(prefix="saml-demo-") as workdir:
        try:
            try:
                demo = tenant_demo(args, Path(workdir), idp_host)
            except ValueError as exc:  # a bad --users file
                return report(f"demo: {exc}", 2)
            _banner(demo)
            asyncio.run(_serve(demo.servers, sockets))
        except KeyboardInterrupt:
            print("saml-middleware demo: stopped", flush=True)
        finally:
            for sock in sockets:
                sock.close()
    return 0
