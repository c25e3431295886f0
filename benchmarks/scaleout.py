"""Scale-out load: 2 uvicorn workers sharing one redis-server, on loopback only.

Run: ``.venv/bin/python benchmarks/scaleout.py [--seconds 20] [--session-store server|cookie]``

Phase 1 runs complete SP-initiated logins (GET a protected page -> 302, the
IdP's signed response -> POST /saml/acs -> 303, GET the page -> 200) from
concurrent clients; phase 2 sends authenticated GETs. Both phases are bounded
by ``--seconds``. The dev IdP signs in this process, and the clients share the
machine's cores with the server, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saml_middleware.devidp import DevIdP  # noqa: E402
from tests.appserver import HTML, AppServer, finish_login, idp_answer, start_login  # noqa: E402
from tests.redisserver import RedisServer, free_port  # noqa: E402


def no_redis(reason: str) -> NoReturn:
    raise SystemExit(f"scaleout needs redis-server: {reason} (e.g. `make system-deps` as root)")


def login_phase(url: str, idp: DevIdP, seconds: float, clients: int) -> tuple[int, int, list[str]]:
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    ok, errors, cookies = [0], [0], []
    emails = [u.email for u in idp.users]

    def worker(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            with httpx.Client(timeout=30) as client:
                try:
                    saml_request, relay = start_login(client, url, f"/item/{i}")
                    done = finish_login(
                        client, url, idp_answer(idp, saml_request, relay, emails[i % len(emails)])
                    )
                    page = client.get(url + "/", headers=HTML)
                    good = done.status_code == 303 and page.status_code == 200
                except (httpx.HTTPError, AssertionError):
                    good = False
                with lock:
                    if good:
                        ok[0] += 1
                        cookies.append(client.cookies["saml_session"])
                    else:
                        errors[0] += 1
            i += clients

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return ok[0], errors[0], cookies


async def request_phase(url: str, cookies: list[str], seconds: float, clients: int) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    ok = errors = 0

    async def worker(n: int) -> None:
        nonlocal ok, errors
        headers = {"cookie": f"saml_session={cookies[n % len(cookies)]}", "accept": "application/json"}
        async with httpx.AsyncClient(timeout=30) as client:
            while time.monotonic() < deadline:
                response = await client.get(url + "/api/me", headers=headers)
                if response.status_code == 200 and response.json()["user"]:
                    ok += 1
                else:
                    errors += 1

    await asyncio.gather(*(worker(n) for n in range(clients)))
    return ok, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--login-clients", type=int, default=8)
    parser.add_argument("--request-clients", type=int, default=32)
    parser.add_argument("--session-store", choices=["server", "cookie"], default="server")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        redis = RedisServer(on_unavailable=no_redis)
        redis.start()
        idp = DevIdP("http://idp.test")
        (tmp / "idp.xml").write_bytes(idp.metadata_xml())
        env = {
            "SAML_BASE_URL": "http://app.test",
            "SAML_SECRET_KEY": "benchmark-secret-key-0123456789",
            "SAML_IDP_METADATA_FILE": str(tmp / "idp.xml"),
            "SAML_STORE_URL": redis.url,
            "SAML_SESSION_STORE": args.session_store,
        }
        server = AppServer("uvicorn", free_port(), env, tmp / "server.log", workers=args.workers)
        try:
            server.start()
            print(
                f"uvicorn --workers {args.workers} + redis-server {redis.url}, "
                f"SAML_SESSION_STORE={args.session_store}, {os.cpu_count()} CPUs, loopback"
            )
            ok, errors, cookies = login_phase(server.url, idp, args.seconds, args.login_clients)
            print(
                f"logins:   {ok} complete in {args.seconds:.0f} s = "
                f"{ok * 60 / args.seconds:,.0f} logins/minute, "
                f"{errors} errors ({args.login_clients} concurrent clients)"
            )
            if not cookies:
                return 1
            ok2, errors2 = asyncio.run(request_phase(server.url, cookies, args.seconds, args.request_clients))
            print(
                f"requests: {ok2 / args.seconds:,.0f} authenticated requests/second, {errors2} errors "
                f"({args.request_clients} concurrent clients, {len(cookies)} distinct sessions)"
            )
        finally:
            server.stop()
            redis.stop()
    return 0 if errors == 0 and errors2 == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
