"""``saml-middleware dev-idp --tenants N``: the dev IdP playing N Entra tenants on one server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from ..protocol.keys import generate_keypair
from .report import report

__all__ = ["dev_idp_tenants", "idp_key_pair"]


def idp_key_pair(kdir: Path) -> tuple[str, str]:
    """The key pair kept in ``kdir`` (made on first use): the IdP's certificate survives restarts."""
    if not (kdir / "idp-key.pem").exists():
        kdir.mkdir(parents=True, exist_ok=True)
        key, cert = generate_keypair()
        (kdir / "idp-key.pem").write_text(key)
        os.chmod(kdir / "idp-key.pem", 0o600)
        (kdir / "idp-cert.pem").write_text(cert)
    return (kdir / "idp-key.pem").read_text(), (kdir / "idp-cert.pem").read_text()


def dev_idp_tenants(args: argparse.Namespace, public_host: str) -> int:
    """Serve the tenants; print each one's metadata URL and the ``connections add`` line for it.

    ``--key-dir DIR`` keeps tenant *k*'s key pair in ``DIR/tenant{k}/``.
    """
    from ..devidp import load_users  # only ``demo`` and ``dev-idp`` load the dev IdP
    from ..devidp.tenants import dev_tenants, tenant_domain, tenants_app

    root = f"http://{public_host}:{args.idp_port}"
    count = args.tenants
    keys = [
        idp_key_pair(Path(args.key_dir) / f"tenant{n}") if args.key_dir else None for n in range(1, count + 1)
    ]
    try:
        users = load_users(args.users) if args.users else None
        idps = dev_tenants(root, count, users=users, keys=keys, sign=args.sign)
    except ValueError as exc:
        return report(f"dev-idp: {exc}", 2)
    print(f"dev IdP (Entra-shaped) playing {count} tenants at {root}/")
    for number, idp in enumerate(idps, 1):
        domain = tenant_domain(number)
        print(f"  tenant {number}: users @{domain}, entity ID {idp.entity_id}")
        print(f"    metadata:  {idp.metadata_url}")
        print(  # a connection's metadata URL must be https (the SSRF guard): this one is saved as XML
            f"    add it:    curl -so tenant{number}.xml {idp.metadata_url} && saml-middleware connections "
            f"add tenant{number} --domain {domain} --metadata-file tenant{number}.xml",
            flush=True,
        )
    uvicorn.run(tenants_app(idps), host=args.host, port=args.idp_port, log_level="warning")
    return 0
