"""The ``rps`` section: a wrapped hello-world under uvicorn vs the bare one, requests per second.

Each app (:mod:`helloapp`) runs in its own uvicorn process (1 worker); the load comes
from a second process on loopback (``wrk``, else :mod:`load`), in alternating rounds,
and the figure is the median of the per-round wrapped/bare ratios.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
from common import (
    Gate,
    acs_post,
    free_port,
    fresh_cookie,
    make_idp,
    make_settings,
    port_open,
    session_cookie,
    stop,
    wait_ready,
)

from saml_middleware.devidp import DevIdP

HERE = Path(__file__).resolve().parent


@contextmanager
def uvicorn_server(app: str, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``uvicorn --app-dir benchmarks <app>`` on loopback ``port``, until the block ends."""
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning", app,
    ]  # fmt: skip
    proc = subprocess.Popen(command, env={**os.environ, **env})
    try:
        if not wait_ready(proc, lambda: port_open(port)):
            raise SystemExit(f"uvicorn {app} did not start")
        yield proc
    finally:
        stop(proc)


def load(url: str, cookie: str, seconds: float, connections: int) -> float:
    """Requests per second against ``url`` from a second process (wrk, else load.py)."""
    header = f"Cookie: {cookie}"
    wrk = shutil.which("wrk")
    if wrk:
        command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-H", header, url]
    else:
        command = [
            sys.executable, str(HERE / "load.py"), url, "--seconds", str(seconds),
            "--connections", str(connections), "--header", header,
        ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    if "Non-2xx" in out and "Non-2xx: 0" not in out:
        raise SystemExit(f"non-2xx answers under load:\n{out}")
    return float(next(line for line in out.splitlines() if "Requests/sec" in line).split()[-1])


class RPS(NamedTuple):
    bare: float
    wrapped: float
    ratio: float  # median of the per-round wrapped/bare ratios
    rounds: str  # each round's ratio, sorted
    tool: str
    cookie_bytes: int


def entra_cookie(gate: Gate, idp: DevIdP) -> str:
    """A browser's ``Cookie`` header for ``gate`` holding the user a real login with the dev
    IdP's Entra-shaped claims produces, beside two unrelated cookies (analytics, a preference)."""
    acs_gate = Gate(make_settings(idp))  # the address the dev IdP's benchmark responses are for
    response = acs_gate.handle_endpoint(acs_post(acs_gate, idp).request)
    user = acs_gate.authenticate(session_cookie(v for k, v in response.headers if k == "set-cookie"))
    if user is None:
        raise SystemExit("the benchmark login did not produce a session")
    cookie = gate.sessions.create(user)[1].split(";")[0]
    return f"_ga=GA1.1.1234567890.1700000000; theme=dark; {cookie}"


def requests_per_second(rounds: int, seconds: float, connections: int, *, entra: bool = False) -> RPS:
    """Median requests/s of bare and wrapped hello-world, and the median of per-round ratios.

    Rounds alternate bare, wrapped, bare, wrapped...: each ratio compares two runs
    seconds apart, so a neighbour's load burst skews one round, not the figure.
    ``entra``: send :func:`entra_cookie` instead of a small session cookie."""
    ports = {"bare": free_port(), "wrapped": free_port()}
    env = {"BENCH_BASE_URL": f"http://127.0.0.1:{ports['wrapped']}"}  # the SP entity ID signs cookies
    idp = make_idp()
    gate = Gate(make_settings(idp, base_url=env["BENCH_BASE_URL"]))
    results: dict[str, list[float]] = {"bare": [], "wrapped": []}
    cookie = ""
    with (
        uvicorn_server("helloapp:bare", ports["bare"], env),
        uvicorn_server("helloapp:wrapped", ports["wrapped"], env),
    ):
        for _ in range(rounds):
            for name, port in ports.items():
                # fresh: no activity refresh during the round
                cookie = entra_cookie(gate, idp) if entra else fresh_cookie(gate)
                url = f"http://127.0.0.1:{port}/"
                check = httpx.get(url, headers={"cookie": cookie, "accept": "text/html"})
                if check.status_code != 200 or "set-cookie" in check.headers:
                    raise SystemExit(f"{name}: {check.status_code} {check.headers}")
                results[name].append(load(url, cookie, seconds, connections))
    ratios = sorted(w / b for b, w in zip(results["bare"], results["wrapped"], strict=True))
    return RPS(
        bare=statistics.median(results["bare"]),
        wrapped=statistics.median(results["wrapped"]),
        ratio=ratios[len(ratios) // 2],
        rounds=" ".join(f"{r:.0%}" for r in ratios),
        tool="wrk" if shutil.which("wrk") else "benchmarks/load.py",
        cookie_bytes=len(cookie),
    )


def uvicorn_flavour() -> str:
    parts = []
    for name in ("httptools", "uvloop"):
        try:
            __import__(name)
            parts.append(name)
        except ImportError:
            parts.append(f"no {name}")
    import uvicorn

    return f"uvicorn {uvicorn.__version__} ({', '.join(parts)}), 1 worker"


def section(rounds: int, seconds: float, connections: int, *, entra: bool) -> None:
    """Print the requests-per-second table."""
    rps = requests_per_second(rounds, seconds, connections, entra=entra)
    print(
        f"\nHello-world under {uvicorn_flavour()}; load: {rps.tool}, 1 thread, {connections} "
        f"connections, {seconds:g} s x {rounds} alternating rounds each, loopback; "
        f"Cookie header {rps.cookie_bytes} bytes"
    )
    print(f"{'app':48} {'median req/s':>12} {'vs bare':>8}")
    print(f"{'bare hello-world':48} {rps.bare:12.0f} {1:8.1%}")
    print(f"{'wrapped, authenticated (session cookie)':48} {rps.wrapped:12.0f} {rps.ratio:8.1%}")
    print(f"(vs bare: median over rounds of wrapped/bare, each pair back to back; rounds: {rps.rounds})")
