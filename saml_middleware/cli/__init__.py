"""The ``saml-middleware`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn

from ..asgi import SAMLMiddleware
from ..config import Settings
from ..errors import ConfigError
from ..masking import redact
from ..ops.expiry import expiry_report, quiet_expiry_log
from ..protocol.keys import generate_keypair
from ..protocol.logout import sls_url
from ..serve.runner import add_server_options, proxy_command, run_command
from .access import access_options, print_access
from .checkconnections import check_connections
from .connections import add_connections_command
from .demo import demo_app, listen_or_explain
from .demotenants import demo_tenants_command
from .devtenants import dev_idp_tenants, idp_key_pair
from .report import binding_summary, check_upstream, load_settings, report, warn
from .sessions import add_sessions_command

__all__ = ["main"]

if TYPE_CHECKING:
    from ..devidp import DevIdP


def _cmd_check(args: argparse.Namespace) -> int:
    """Exit 0: ready; 1: errors (listed); 2: valid but incomplete (no IdP yet; a to-do list)."""
    from ..gate.gate import Gate
    from ..gate.notconfigured import idp_todo
    from ..ops.configcheck import config_warnings, mark_reported, quiet_not_configured_log, store_problem
    from ..ops.storecheck import store_warnings
    from ..pem import certificate_summary

    settings: Settings | None = None
    stored: str | None = None
    try:
        settings = Settings.from_env()
        stored = store_problem(settings)
        warnings = config_warnings(settings) + ([] if stored else store_warnings(settings))
        mark_reported(warnings)  # printed below: the gate need not log them too
        warn(warnings)
        if settings.connections:  # many tenants: the registry and each connection (checkconnections.py)
            return check_connections(settings, args, stored)
        # expiring certificates and the missing IdP are reported below, once
        with quiet_expiry_log(), quiet_not_configured_log():
            gate = Gate(settings)  # builds everything a request would need: IdP, store, directory
        if stored:
            raise ConfigError([stored])
    except ConfigError as exc:
        if settings is None:  # a misspelled variable is the likeliest cause of a missing one
            warn(config_warnings(None))
        problems = exc.problems + ([stored] if stored and stored not in exc.problems else [])
        return report(ConfigError(problems))
    idp = gate.idp
    print("Configuration OK\n" if gate.configured else "Configuration incomplete: no IdP yet (to do below)\n")
    if not settings.enabled:
        print("SAML_ENABLED=false: SSO is switched off. Every request, /saml/... included, passes")
        print("through to the app untouched until it is set to true.\n")
    print("Give these to the IdP (Entra: Basic SAML Configuration):")
    print(f"  Identifier (Entity ID):    {settings.sp_entity_id}")
    print(f"  Reply URL (ACS URL):       {settings.acs_url}")
    print(f"  Sign on URL:               {settings.base_url}/")
    print(f"  Logout URL:                {sls_url(settings)}")
    print(f"  SP metadata:               {settings.base_url}{settings.metadata_path}")
    print_access(settings, gate.access.policy, args)
    if not gate.configured:
        print("\nTo do (exit status 2 until done):")
        for number, item in enumerate(idp_todo(settings), 1):
            print(f"  {number}. {item}")
        return 1 if args.upstream and check_upstream(args.upstream) else 2
    print("\nIdP as loaded:")
    print(f"  Entity ID:                 {idp.entity_id}")
    print(f"  Login URL:                 {redact(idp.sso_url)}")
    print(f"  AuthnRequest binding:      {binding_summary(idp, settings)}")
    for pem in idp.certificates:
        info = certificate_summary(pem)
        print(f"  Signing certificate:       {info['subject']}, expires {info['not_after']}")
    status = expiry_report(idp.certificates, settings.sp_cert, time.time())
    if args.upstream:
        status = max(status, check_upstream(args.upstream))
    return status


def _cmd_metadata(args: argparse.Namespace) -> int:
    from ..protocol.sp import sp_metadata_xml

    settings = load_settings()
    if settings is None:
        return 1
    sys.stdout.write(sp_metadata_xml(settings).decode() + "\n")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify_capture

    return verify_capture(Path(args.file), now=args.now, request_id=args.request_id)


def _cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out_dir).resolve()  # absolute: the printed SAML_SP_KEY works from any directory
    out.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = generate_keypair(args.cn)
    key_path, cert_path = out / "sp-key.pem", out / "sp-cert.pem"
    for path in (key_path, cert_path):
        if path.exists() and not args.force:
            return report(f"{path} exists; pass --force to overwrite")
    key_path.write_text(key_pem)
    os.chmod(key_path, 0o600)
    cert_path.write_text(cert_pem)
    print(f"wrote {key_path} and {cert_path}")
    print(f"SAML_SP_KEY={key_path}\nSAML_SP_CERT={cert_path}")
    print(f"SAML_SECRET_KEY={secrets.token_urlsafe(32)}")
    return 0


async def _serve(*servers: uvicorn.Server, sockets: Sequence[socket.socket]) -> None:
    """Each server on its own, already listening, socket."""
    await asyncio.gather(*(s.serve(sockets=[sock]) for s, sock in zip(servers, sockets, strict=True)))


def _dev_idp(
    args: argparse.Namespace, sp_acs_url: str | None = None, sp_entity_id: str | None = None
) -> DevIdP:
    """The dev IdP from command-line options; ``--key-dir`` keeps its key pair across restarts."""
    from ..devidp import DEFAULT_USERS, DevIdP, load_users, with_groups  # only demo and dev-idp load it

    key_pem, cert_pem = idp_key_pair(Path(args.key_dir)) if args.key_dir else (None, None)
    return DevIdP(
        f"http://{_idp_host(args)}:{args.idp_port}",
        users=with_groups(load_users(args.users) if args.users else DEFAULT_USERS, args.groups),
        key_pem=key_pem,
        cert_pem=cert_pem,
        sign=args.sign,
        sp_acs_url=sp_acs_url,
        sp_entity_id=sp_entity_id,
        sso_binding=args.sso_binding,
        sp_cert_pem=Path(args.sp_cert).read_text() if getattr(args, "sp_cert", None) else None,
    )


def _cmd_dev_idp(args: argparse.Namespace) -> int:
    if args.tenants is not None:
        return dev_idp_tenants(args, _idp_host(args))
    idp = _dev_idp(args, args.sp_acs, args.sp_entity_id)
    print(f"dev IdP (Entra-shaped) at http://{_idp_host(args)}:{args.idp_port}/")
    print(f"  metadata:  {idp.metadata_url}")
    print(f"  login URL: {idp.sso_url}", flush=True)
    uvicorn.run(idp.app, host=args.host, port=args.idp_port, log_level="warning")
    return 0


def _idp_host(args: argparse.Namespace) -> str:
    return str(args.idp_public_host or args.public_host)


def demo_servers(args: argparse.Namespace) -> tuple[str, str, list[uvicorn.Server]]:
    """The demo: the dev IdP and the wrapped demo app, configured for each other.

    :returns: the app's base URL, the demo admin (the dev IdP's first user, who may open
        ``/saml/setup``) and the two servers (app, IdP).
    """
    base = f"http://{args.public_host}:{args.port}"
    idp = _dev_idp(args, sp_acs_url=f"{base}/saml/acs", sp_entity_id=f"{base}/saml/metadata")
    admin = idp.users[0].email
    settings = Settings(
        base_url=base,
        secret_key=(secrets.token_urlsafe(32),),
        idp_metadata=idp.metadata_xml().decode("utf-8"),
        public_paths=("/public",),
        allow_idp_initiated=True,
        admin_emails=(admin,),
    )
    app = SAMLMiddleware(demo_app(admin), settings=settings)
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")),
        uvicorn.Server(uvicorn.Config(idp.app, host=args.host, port=args.idp_port, log_level="warning")),
    ]
    return base, admin, servers


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.tenants:
        return demo_tenants_command(args, _idp_host(args))
    sockets = listen_or_explain(args.host, [(args.port, "--port"), (args.idp_port, "--idp-port")])
    if sockets is None:
        return 1
    base, admin, servers = demo_servers(args)
    print(f"saml-middleware demo: open {base}/ and pick a user at the dev IdP", flush=True)
    print(f'  dev IdP "My Apps" (IdP-initiated login): http://{_idp_host(args)}:{args.idp_port}/', flush=True)
    print(f"  setup page (sign in as {admin}): {base}/saml/setup", flush=True)
    print("  stop with Ctrl-C", flush=True)
    try:
        asyncio.run(_serve(*servers, sockets=sockets))
    except KeyboardInterrupt:
        print("saml-middleware demo: stopped", flush=True)
    finally:
        for sock in sockets:
            sock.close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="saml-middleware", description="SAML 2.0 SSO for any web app.")
    sub = parser.add_subparsers(dest="command", required=True)

    def idp_options(p: argparse.ArgumentParser, idp_port: int) -> None:
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
        p.add_argument("--public-host", default="localhost", help="host name browsers use")
        p.add_argument("--idp-port", type=int, default=idp_port)
        p.add_argument(
            "--idp-public-host",
            help="host name browsers use for the IdP (default: --public-host); e.g. 127.0.0.1 "
            "with an app on localhost puts them on different sites, like a real IdP",
        )
        p.add_argument("--users", help="JSON file of test users (see devidp/users.json)")
        p.add_argument("--sign", choices=["assertion", "response", "both"], default="assertion")
        p.add_argument("--groups", type=int, default=0, metavar="N", help="N more groups for every user")
        p.add_argument("--key-dir", help="keep the IdP key pair here across restarts")
        p.add_argument(
            "--sso-binding",
            choices=["both", "post", "redirect"],
            default="both",
            help="the bindings its metadata lists (post: HTTP-POST only, as Google Workspace and OneLogin)",
        )

    demo = sub.add_parser("demo", help="the dev IdP plus a wrapped demo app, no configuration")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--tenants", action="store_true", help="two companies, two tenants, one sign-in page")
    idp_options(demo, 8001)
    demo.set_defaults(func=_cmd_demo)

    dev = sub.add_parser("dev-idp", help="the Entra-shaped development IdP alone")
    idp_options(dev, 8001)
    dev.add_argument("--port", type=int, dest="idp_port", default=argparse.SUPPRESS, help="= --idp-port")
    dev.add_argument("--sp-acs", help="ACS URL for IdP-initiated launches")
    dev.add_argument("--sp-entity-id", help="SP entity ID for IdP-initiated launches")
    dev.add_argument(
        "--tenants",
        type=int,
        metavar="N",
        help="play N Entra tenants (own entity ID, key and users @tenantK.example each) under /tenantK",
    )
    dev.add_argument("--sp-cert", help="the SP certificate (PEM file): requests must be signed by it")
    dev.set_defaults(func=_cmd_dev_idp)

    sub.add_parser("metadata", help="print the SP metadata").set_defaults(func=_cmd_metadata)
    check = sub.add_parser("check", help="validate the configuration and print a summary")
    check.add_argument("--upstream", help="proxy mode: also check that this upstream URL answers")
    check.add_argument("--fetch", action="store_true", help="with connections: load metadata URLs now")
    access_options(check)
    check.set_defaults(func=_cmd_check)

    verify = sub.add_parser("verify", help="validate a captured SAMLResponse against the configuration")
    verify.add_argument("file")
    verify.add_argument("--now", help="ISO 8601 time to validate at (default: now)")
    verify.add_argument("--request-id", help="the AuthnRequest ID the response answers")
    verify.set_defaults(func=_cmd_verify)

    keygen = sub.add_parser("keygen", help="write a new SP key pair and print a secret key")
    keygen.add_argument("--out-dir", default=".")
    keygen.add_argument("--cn", default="saml-middleware SP")
    keygen.add_argument("--force", action="store_true")
    keygen.set_defaults(func=_cmd_keygen)

    run = sub.add_parser("run", help="serve an ASGI or WSGI app (module:attribute) wrapped by the middleware")
    run.add_argument("app", help="import path, e.g. myproject.wsgi:application or main:app")
    run.add_argument("--factory", action="store_true", help="APP is a function returning the app")
    run.add_argument("--interface", choices=["auto", "asgi", "wsgi"], default="auto")
    run.add_argument("--app-dir", default=".", help="put this directory first on sys.path (default .)")
    add_server_options(run)
    run.set_defaults(func=run_command)

    proxy = sub.add_parser("proxy", help="serve an authenticated reverse proxy to URL")
    proxy.add_argument("upstream", help="the service to protect, e.g. http://127.0.0.1:8080")
    add_server_options(proxy)
    proxy.set_defaults(func=proxy_command)
    add_sessions_command(sub)
    add_connections_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))
