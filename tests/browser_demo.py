"""``saml-middleware demo`` on two sites: the app at ``http://localhost:PORT``, the dev IdP at
``http://127.0.0.1:IDP_PORT``, so a browser's POST from the IdP to the ACS is cross-site.

Run as ``python -m tests.browser_demo PORT IDP_PORT`` (tests/test_browser.py does).
"""

from __future__ import annotations

import asyncio
import secrets
import sys

import uvicorn

from saml_middleware import SAMLMiddleware, Settings
from saml_middleware.demo import demo_app
from saml_middleware.devidp import DevIdP


def servers(port: int, idp_port: int) -> list[uvicorn.Server]:
    base = f"http://localhost:{port}"
    idp = DevIdP(
        f"http://127.0.0.1:{idp_port}", sp_acs_url=f"{base}/saml/acs", sp_entity_id=f"{base}/saml/metadata"
    )
    settings = Settings(
        base_url=base,
        secret_key=(secrets.token_urlsafe(32),),
        idp_metadata=idp.metadata_xml().decode("utf-8"),
        public_paths=("/public",),
        allow_idp_initiated=True,
    )
    app = SAMLMiddleware(demo_app(), settings=settings)
    return [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")),
        uvicorn.Server(uvicorn.Config(idp.app, host="127.0.0.1", port=idp_port, log_level="warning")),
    ]


async def _serve(all_servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(s.serve() for s in all_servers))


if __name__ == "__main__":
    asyncio.run(_serve(servers(int(sys.argv[1]), int(sys.argv[2]))))
