"""Shared pieces of the benchmarks: the dev IdP, settings, fresh logins, statistics, processes.

Every import of the package's internals (below the public ``saml_middleware`` and
``saml_middleware.devidp`` faces) is gathered here, so that moving a module means
changing one line in the benchmarks. Nothing here (or anywhere in ``benchmarks/``)
imports from ``tests/``: the benchmarks run against an installed package.
"""

from __future__ import annotations

import base64
import os
import platform
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from saml_middleware import SAMLUser, Settings

# -- the package's internals (the only place the benchmarks name them; and the dev IdP) --
from saml_middleware.connections import Connection, ConnectionIndex
from saml_middleware.devidp import DevIdP
from saml_middleware.gate import Gate
from saml_middleware.gate.metadata_refresh import load_idp
from saml_middleware.gate.surface import RequestGate
from saml_middleware.gate.tenants import TenantGate
from saml_middleware.http import HTTPRequest, HTTPResponse
from saml_middleware.protocol.sp import ServiceProvider
from saml_middleware.sessions.cookie import CookieSessionManager
from saml_middleware.sessions.record import decode_record, encode_record
from saml_middleware.sessions.session import Session
from saml_middleware.stores import MemoryReplayCache, MemorySessionStore

__all__ = [
    "Connection",
    "ConnectionIndex",
    "CookieSessionManager",
    "Gate",
    "HTTPRequest",
    "HTTPResponse",
    "MemoryReplayCache",
    "MemorySessionStore",
    "RequestGate",
    "ServiceProvider",
    "Session",
    "TenantGate",
    "alternating",
    "decode_record",
    "encode_record",
    "load_idp",
]

BASE = "https://app.example.com"
ACS = BASE + "/saml/acs"
ENTITY = BASE + "/saml/metadata"
SECRET = "bench-secret-key-0123456789"
USER = "b.simon@contoso.com"
BROWSE = HTTPRequest("GET", "/reports", headers={"accept": "text/html"})

#: (name, p50 seconds, p99 seconds)
Row = tuple[str, float, float]


# -- the IdP, the settings, fresh responses ---------------------------------------------
def make_idp() -> DevIdP:
    """The Entra-shaped dev IdP (RSA-2048, SHA-256), signing Response and Assertion."""
    return DevIdP("https://login.example.com", sign="both")


def make_settings(idp: DevIdP, *, base_url: str = BASE, sp_key: str = "", sp_cert: str = "") -> Settings:
    """The benchmarks' SP: ``base_url``, one secret key, ``idp``'s metadata inline."""
    return Settings(
        base_url=base_url,
        secret_key=(SECRET,),
        idp_metadata=idp.metadata_xml().decode(),
        sp_key=sp_key,
        sp_cert=sp_cert,
    )


def fresh_response(idp: DevIdP, request_id: str) -> str:
    """A new signed response (new Response and Assertion IDs, new timestamps), base64."""
    xml = idp.issue_response(USER, acs_url=ACS, audience=ENTITY, in_response_to=request_id)
    return base64.b64encode(xml).decode()


def responses(idp: DevIdP, n: int) -> list[tuple[str, str]]:
    """``n`` fresh ``(SAMLResponse, request ID)`` pairs."""
    return [(fresh_response(idp, f"_bench{i:06d}"), f"_bench{i:06d}") for i in range(n)]


@dataclass(frozen=True)
class AcsPost:
    """A browser's POST to the ACS, as it arrives after the login redirect."""

    request: HTTPRequest
    request_id: str


def header(response: HTTPResponse, name: str) -> str:
    """The first ``name`` header of a gate response."""
    return next(v for k, v in response.headers if k == name)


def acs_post(gate: Gate, idp: DevIdP) -> AcsPost:
    """A full browser round: login redirect, then a fresh IdP response for it, posted to the ACS."""
    redirect = gate.challenge(BROWSE)
    query = parse_qs(urlsplit(header(redirect, "location")).query)
    login_cookie = header(redirect, "set-cookie").split(";")[0]
    request_id = idp.parse_authn_request(query["SAMLRequest"][0]).id
    form = {"SAMLResponse": fresh_response(idp, request_id), "RelayState": query["RelayState"][0]}
    body = urlencode(form).encode()
    request = HTTPRequest(
        "POST",
        "/saml/acs",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(len(body)),
            "cookie": login_cookie,
        },
        body=body,
    )
    return AcsPost(request, request_id)


def session_cookie(set_cookie_headers: Iterable[str]) -> str:
    """The ``name=value`` of the session cookie among ``Set-Cookie`` values."""
    for value in set_cookie_headers:
        if "saml_session=" in value.split(";")[0]:
            return value.split(";")[0]
    raise SystemExit("no session cookie was set")


def fresh_cookie(gate: RequestGate) -> str:
    """A just-created session cookie ``name=value`` (so no activity refresh falls in a measurement)."""
    user = SAMLUser(USER, USER, "B.Simon", {"role": ["reader"], "groups": ["a", "b"]})
    return gate.sessions.create(user)[1].split(";")[0]


# -- statistics ---------------------------------------------------------------------
def percentiles(samples: list[float]) -> tuple[float, float]:
    """``(p50, p99)`` of ``samples``, in the samples' unit."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def timed(work: Callable[[], object], n: int) -> tuple[float, float]:
    """``(p50, p99)`` seconds of ``n`` calls of ``work``."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def alternating(
    works: Mapping[str, Callable[[], object]], n: int, chunk: int = 500
) -> dict[str, tuple[float, float]]:
    """``(p50, p99)`` seconds per call of each of ``works``, timed in alternating chunks of
    ``chunk`` calls (about ``n`` calls each), so drift on a shared machine hits them all alike."""
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(max(1, n // chunk)):
        for name, work in works.items():
            out = samples[name]
            for _ in range(chunk):
                start = time.perf_counter()
                work()
                out.append(time.perf_counter() - start)
    return {name: percentiles(values) for name, values in samples.items()}


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (``VmRSS``) or peak (``VmHWM``), in MB (10^6 bytes)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"{field} not in /proc/self/status")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def versions() -> str:
    """The table's first line: Python, CPUs, and the versions of the XML/SAML stacks."""
    from importlib.metadata import PackageNotFoundError, version

    out = [f"Python {platform.python_version()}", f"{os.cpu_count()} CPUs"]
    for dist in ("lxml", "xmlsec", "pysaml2", "python3-saml"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} -")
    binary = shutil.which("xmlsec1")
    if binary:
        out.append(subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip())
    return ", ".join(out)


# -- child processes on loopback ------------------------------------------------------
def free_port() -> int:
    """A loopback port free right now (another process may still take it before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on loopback ``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def wait_ready(proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``ready()`` until it is true, or ``proc`` exits or ``timeout`` passes (``False``)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Terminate ``proc``; kill it if it is still there after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live descendants (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(c) for c in children.read().split())
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return total
