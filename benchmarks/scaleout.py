"""Scale-out load: uvicorn workers sharing one redis-server, on loopback only.

Run: ``.venv/bin/python benchmarks/scaleout.py [--seconds 20] [--session-store both|server|cookie]``
(``--failover``: the Sentinel timeline too)

Phase 1 runs complete SP-initiated logins (GET a protected page -> 302, the
IdP's signed response -> POST /saml/acs -> 303, GET the page -> 200) from
concurrent clients; phase 2 sends authenticated GETs. Both phases are bounded
by ``--seconds``. The dev IdP signs in this process, and the clients share the
machine's cores with the server, so the figures are a floor. The app is
:mod:`scaleout_app`, served from the installed package (nothing is imported from tests/).

The app's own CPU time (the uvicorn process tree, read from ``/proc``; not Redis, not the
clients) is divided by the work done: CPU per login and per authenticated request, for cookie
and server sessions, and their ratio. ``--failover`` then runs logins against a Sentinel set
(one master, one replica, three sentinels), kills the master a third of the way in, and prints
the timeline: logins per half second, succeeded or answered 503.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from common import free_port, stop, tree_cpu_seconds, wait_ready

from saml_middleware.devidp import DevIdP

HERE = Path(__file__).resolve().parent
HTML = {"accept": "text/html"}


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """A throw-away redis-server on a free loopback port (nothing saved); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("scaleout needs redis-server (e.g. `make system-deps` as root)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_ready(proc, lambda: _pong(port), timeout=10):
            raise SystemExit(f"redis-server did not start on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


@contextmanager
def app_server(env: dict[str, str], workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """``uvicorn --workers N`` serving :func:`scaleout_app.make_asgi`; yields its URL and pid once healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--factory", "scaleout_app:make_asgi",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--workers", str(workers),
    ]  # fmt: skip
    full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("SAML_")}, **env}
    with open(log, "ab") as out, httpx.Client() as client:
        proc = subprocess.Popen(command, env=full_env, stdout=out, stderr=out)

        def healthy() -> bool:
            try:
                return client.get(url + "/saml/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            if not wait_ready(proc, healthy):
                raise SystemExit(f"uvicorn did not start: {log.read_text()[-2000:]}")
            yield url, proc.pid
        finally:
            stop(proc)


def login(client: httpx.Client, url: str, idp: DevIdP, path: str, email: str) -> bool:
    """One browser login through the app: redirect, the IdP's answer posted to the ACS, the page."""
    return login_status(client, url, idp, path, email) == 303


def login_status(client: httpx.Client, url: str, idp: DevIdP, path: str, email: str) -> int:
    """The ACS status of one login (303 when the page then answers too; 0: it never got there)."""
    redirect = client.get(url + path, headers=HTML)
    if redirect.status_code != 302:
        return 0
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    request = idp.parse_authn_request(query["SAMLRequest"][0])
    xml = idp.issue_response(
        email, acs_url=request.acs_url or "", audience=request.issuer, in_response_to=request.id
    )
    form = {"SAMLResponse": base64.b64encode(xml).decode("ascii"), "RelayState": query["RelayState"][0]}
    done = client.post(url + "/saml/acs", data=form)
    if done.status_code != 303:
        return done.status_code
    return 303 if client.get(url + "/", headers=HTML).status_code == 200 else 0


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
                    good = login(client, url, idp, f"/item/{i}", emails[i % len(emails)])
                except httpx.HTTPError:
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


def measure(
    mode: str, args: argparse.Namespace, env: dict[str, str], tmp: Path, idp: DevIdP
) -> dict[str, float]:
    """Both phases against one app server in ``mode``; prints them, returns the CPU figures."""
    with app_server({**env, "SAML_SESSION_STORE": mode}, args.workers, tmp / f"{mode}.log") as (url, pid):
        print(
            f"\nSAML_SESSION_STORE={mode}: uvicorn --workers {args.workers}, {os.cpu_count()} CPUs, loopback"
        )
        before = tree_cpu_seconds(pid)
        ok, errors, cookies = login_phase(url, idp, args.seconds, args.login_clients)
        login_cpu = tree_cpu_seconds(pid) - before
        print(
            f"logins:   {ok} complete in {args.seconds:.0f} s = {ok * 60 / args.seconds:,.0f} logins/minute, "
            f"{errors} errors ({args.login_clients} concurrent clients); "
            f"app CPU {1000 * login_cpu / max(ok, 1):.1f} ms per login"
        )
        if not cookies:
            raise SystemExit("no login completed")
        before = tree_cpu_seconds(pid)
        ok2, errors2 = asyncio.run(request_phase(url, cookies, args.seconds, args.request_clients))
        request_cpu = tree_cpu_seconds(pid) - before
        print(
            f"requests: {ok2 / args.seconds:,.0f} authenticated requests/second, {errors2} errors "
            f"({args.request_clients} concurrent clients, {len(cookies)} distinct sessions); "
            f"app CPU {1000 * request_cpu / max(ok2, 1):.2f} ms per request"
        )
    return {
        "login": login_cpu / max(ok, 1),
        "request": request_cpu / max(ok2, 1),
        "errors": float(errors + errors2),
    }


def failover(args: argparse.Namespace, env: dict[str, str], tmp: Path, idp: DevIdP) -> int:
    """Logins from two clients against a Sentinel set; the master is killed a third of the way in."""
    from sentinels import Sentinels

    ha = Sentinels(tmp)
    try:
        store = ha.start()
        env = {**env, "SAML_STORE_URL": store, "SAML_SESSION_STORE": "server"}
        with app_server(env, args.workers, tmp / "failover.log") as (url, _):
            print(f"\nfailover: {store}, server sessions; the master is killed at {args.seconds / 3:.1f} s")
            started, timeline, lock = time.monotonic(), [], threading.Lock()
            emails = [u.email for u in idp.users]

            def worker(n: int) -> None:
                i = n
                while time.monotonic() - started < args.seconds:
                    with httpx.Client(timeout=30) as client:
                        try:
                            status = login_status(client, url, idp, f"/item/{i}", emails[i % len(emails)])
                        except httpx.HTTPError:
                            status = 0
                    with lock:
                        timeline.append((time.monotonic() - started, status))
                    i += 2

            with ThreadPoolExecutor(2) as pool:
                running = [pool.submit(worker, n) for n in range(2)]
                time.sleep(args.seconds / 3)
                old = ha.master_port()
                ha.master.kill() if ha.master.port == old else ha.replica.kill()
                killed = time.monotonic() - started
                for future in running:
                    future.result()
        buckets: dict[int, list[int]] = {}
        for at, status in timeline:
            buckets.setdefault(int(at * 2), []).append(status)
        for half in sorted(buckets):
            statuses = buckets[half]
            others = len(statuses) - statuses.count(303) - statuses.count(503)
            print(
                f"  {half / 2:5.1f} s  {statuses.count(303):3d} ok  {statuses.count(503):3d} x 503"
                + (f"  {others} other" if others else "")
                + ("  <- master killed" if half == int(killed * 2) else "")
            )
        failed = [at for at, status in timeline if status != 303]
        if failed:
            print(f"logins not completed: {len(failed)}, from {failed[0]:.1f} s to {failed[-1]:.1f} s")
        recovered = [at for at, status in timeline if status == 303 and at > killed]
        print(
            f"first login after the kill completed at {recovered[0] - killed:.1f} s"
            if recovered
            else "no recovery"
        )
        return 0 if recovered else 1
    finally:
        ha.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--login-clients", type=int, default=8)
    parser.add_argument("--request-clients", type=int, default=32)
    parser.add_argument("--session-store", choices=["both", "server", "cookie"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--failover", action="store_true", help="also the Sentinel failover timeline")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir, redis_server() as redis_url:
        tmp = Path(tmp_dir)
        idp = DevIdP("http://idp.test")
        (tmp / "idp.xml").write_bytes(idp.metadata_xml())
        env = {
            "SAML_BASE_URL": "http://app.test",
            "SAML_SECRET_KEY": "benchmark-secret-key-0123456789",
            "SAML_IDP_METADATA_FILE": str(tmp / "idp.xml"),
            "SAML_STORE_URL": redis_url,
        }
        print(f"redis-server {redis_url}")
        modes = ["cookie", "server"] if args.session_store == "both" else [args.session_store]
        figures = {mode: measure(mode, args, env, tmp, idp) for mode in modes}
        if len(figures) == 2:
            cookie, server = figures["cookie"], figures["server"]
            print(
                f"\nserver / cookie app CPU: {server['login'] / cookie['login']:.2f} x per login, "
                f"{server['request'] / cookie['request']:.2f} x per authenticated request"
            )
        status = 0 if all(f["errors"] == 0 for f in figures.values()) else 1
        if args.failover:
            status |= failover(args, env, tmp, idp)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
