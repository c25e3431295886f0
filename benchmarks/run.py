"""saml-middleware vs its peers, and the per-request cost of the middleware: one table.

Run: ``make bench`` (creates ``.benchvenv`` with the project, python3-saml and
pyinstrument; installs the ``xmlsec1`` and ``wrk`` binaries when run as root),
or ``.benchvenv/bin/python benchmarks/run.py``. docs/performance.md holds a
recorded run. Every ACS contender gets the same kind of input: a fresh
Entra-shaped response from the dev IdP (RSA-2048, SHA-256, Response and
Assertion signed), one new response per measurement.

Sections (``--sections``, comma-separated; default all):

* ``acs``: ours (protocol core; whole ACS endpoint) vs stock pysaml2 (``xmlsec1``
  binary) vs python3-saml (``OneLogin_Saml2_Auth.process_response``) vs the
  raw verify floor (python-xmlsec verifying the two signatures only).
* ``hot``: cookie check, in-process ASGI/WSGI overhead per authenticated
  request (wrapped tiny app minus bare app), login redirect.
* ``rps``: a wrapped hello-world under uvicorn vs the bare one, load from a
  second process on loopback (``wrk``, else ``benchmarks/load.py``).
* ``profile``: where the ACS time goes (pyinstrument, else cProfile).
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from common import (
    ACS,
    BASE,
    BROWSE,
    ENTITY,
    USER,
    acs_post,
    make_idp,
    make_settings,
    percentiles,
    responses,
    session_cookie,
)
from lxml import etree

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware
from saml_middleware.config import Settings
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.gate import Gate
from saml_middleware.gate.metadata_refresh import load_idp
from saml_middleware.protocol.sp import ServiceProvider
from saml_middleware.stores import MemoryReplayCache
from saml_middleware.user import SAMLUser

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.processes import free_port, port_open, stop, wait_ready  # noqa: E402

Row = tuple[str, float, float]  # name, p50 seconds, p99 seconds
Contender = tuple[Callable[[DevIdP, int], list[Any]], Callable[[Any], object]]
DS = "{http://www.w3.org/2000/09/xmldsig#}"


# -- ACS contenders: (prepare n inputs outside the clock, handle one input) ---------
def ours_core(settings: Settings) -> Contender:
    sp = ServiceProvider(settings, load_idp(settings), MemoryReplayCache())

    def run(item: tuple[str, str]) -> object:
        return sp.process_response(item[0], item[1]).user.email

    return (responses, run)


def ours_endpoint(settings: Settings) -> Contender:
    """``Gate.handle_endpoint`` for ``POST /saml/acs``: form, login cookie, checks, directory, session."""
    gate = Gate(settings)

    def prepare(idp: DevIdP, n: int) -> list[Any]:
        return [acs_post(gate, idp).request for _ in range(n)]

    def run(request: Any) -> object:
        response = gate.handle_endpoint(request)
        if response.status != 303:
            raise SystemExit(f"the gate refused the benchmark response: {response.status}")
        return response

    return (prepare, run)


def stock_pysaml2(idp: DevIdP, workdir: Path) -> Contender | None:
    """pysaml2's default backend: the ``xmlsec1`` binary, a subprocess per signature."""
    xmlsec = shutil.which("xmlsec1")
    if xmlsec is None:
        print("stock pysaml2 skipped: no xmlsec1 binary (apt-get install xmlsec1)", file=sys.stderr)
        return None
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    metadata = workdir / "idp.xml"
    metadata.write_bytes(idp.metadata_xml().lstrip(b"\xef\xbb\xbf"))
    config = SPConfig()
    config.load(
        {
            "entityid": ENTITY,
            "xmlsec_binary": xmlsec,
            "metadata": {"local": [str(metadata)]},
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
                    "allow_unsolicited": False,
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                }
            },
        }
    )
    client = Saml2Client(config=config)

    def run(item: tuple[str, str]) -> object:
        b64, rid = item
        result = client.parse_authn_request_response(b64, BINDING_HTTP_POST, outstanding={rid: "/"})
        if result is None or result.assertion is None:
            raise SystemExit("stock pysaml2 refused the benchmark response")
        return result.name_id

    return (responses, run)


def python3_saml(idp: DevIdP) -> Contender | None:
    """python3-saml (OneLogin), strict, settings object built once, as its docs show."""
    try:
        from onelogin.saml2.auth import OneLogin_Saml2_Auth
        from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
        from onelogin.saml2.settings import OneLogin_Saml2_Settings
    except ImportError:
        print("python3-saml skipped: not installed (make bench installs it in .benchvenv)", file=sys.stderr)
        return None
    cert = "".join(idp.cert_pem.strip().splitlines()[1:-1])
    saml_settings = OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": ENTITY,
                "assertionConsumerService": {"url": ACS, "binding": C.BINDING_HTTP_POST},
                "NameIDFormat": C.NAMEID_EMAIL_ADDRESS,
            },
            "idp": {
                "entityId": idp.entity_id,
                "singleSignOnService": {"url": idp.sso_url, "binding": C.BINDING_HTTP_REDIRECT},
                "x509cert": cert,
            },
            "security": {
                "wantAssertionsSigned": True,
                "wantMessagesSigned": False,
                "rejectDeprecatedAlgorithm": True,
                "requestedAuthnContext": False,
            },
        },
        sp_validation_only=True,
    )
    host = BASE.split("://", 1)[1]

    def prepare(idp: DevIdP, n: int) -> list[Any]:
        return [
            (
                {
                    "https": "on",
                    "http_host": host,
                    "script_name": "/saml/acs",
                    "get_data": {},
                    "post_data": {"SAMLResponse": b64},
                },
                rid,
            )
            for b64, rid in responses(idp, n)
        ]

    def run(item: tuple[dict[str, Any], str]) -> object:
        auth = OneLogin_Saml2_Auth(item[0], old_settings=saml_settings)
        auth.process_response(request_id=item[1])
        if auth.get_errors() or not auth.is_authenticated():
            raise SystemExit(f"python3-saml refused the benchmark response: {auth.get_last_error_reason()}")
        return auth.get_nameid()

    return (prepare, run)


def verify_floor(idp: DevIdP) -> Contender:
    """The floor: base64, parse, and python-xmlsec verifying the two signatures; no other check."""
    import xmlsec

    key = xmlsec.Key.from_memory(idp.cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)

    def run(item: tuple[str, str]) -> object:
        root = etree.fromstring(base64.b64decode(item[0]), parser)
        xmlsec.tree.add_ids(root, ["ID"])
        signatures = list(root.iter(DS + "Signature"))
        if len(signatures) != 2:
            raise SystemExit("expected two signatures")
        for signature in signatures:
            ctx = xmlsec.SignatureContext()
            ctx.key = key
            ctx.verify(signature)
        return root

    return (responses, run)


def time_contender(contender: Contender, idp: DevIdP, n: int) -> tuple[float, float]:
    prepare, run = contender
    items = prepare(idp, n + 1)
    run(items[0])  # warm-up: first-call imports and caches
    samples = []
    for item in items[1:]:
        start = time.perf_counter()
        run(item)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


# -- the per-request path, in process ---------------------------------------------
def fresh_cookie(gate: Gate) -> str:
    """A just-created session cookie (so no activity refresh falls in the measurement)."""
    user = SAMLUser(USER, USER, "B.Simon", {"role": ["reader"], "groups": ["a", "b"]})
    return gate.sessions.create(user)[1].split(";")[0]


async def _hello_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


def _hello_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _interleaved(bare: Callable[[], object], wrapped: Callable[[], object], n: int) -> tuple[Row, Row]:
    """Per-call times of two callables, in alternating chunks so drift hits both alike."""
    samples: dict[str, list[float]] = {"bare": [], "wrapped": []}
    chunk = 500
    for _ in range(max(1, n // chunk)):
        for name, work in (("bare", bare), ("wrapped", wrapped)):
            out = samples[name]
            for _ in range(chunk):
                start = time.perf_counter()
                work()
                out.append(time.perf_counter() - start)
    return ("bare", *percentiles(samples["bare"])), ("wrapped", *percentiles(samples["wrapped"]))


def asgi_overhead(settings: Settings, n: int) -> tuple[Row, Row]:
    wrapped = SAMLMiddleware(_hello_asgi, settings)
    assert wrapped.gate is not None
    cookie = fresh_cookie(wrapped.gate)
    scope: MutableMapping[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/reports",
        "raw_path": b"/reports",
        "query_string": b"",
        "headers": [
            (b"host", b"app.example.com"),
            (b"accept", b"text/html"),
            (b"cookie", f"theme=dark; {cookie}".encode()),
        ],
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def drive(app: Any) -> Callable[[], object]:
        # one coroutine driven by hand: no event loop overhead in either figure
        def call() -> object:
            coro = app(scope, receive, send)
            try:
                coro.send(None)
            except StopIteration:
                return None
            raise SystemExit("the app awaited something real")

        return call

    drive(wrapped)()
    if statuses[-1] != 200:
        raise SystemExit(f"the wrapped ASGI app answered {statuses[-1]}, not 200")
    return _interleaved(drive(_hello_asgi), drive(wrapped), n)


def wsgi_overhead(settings: Settings, n: int) -> tuple[Row, Row]:
    wrapped = SAMLWSGIMiddleware(_hello_wsgi, settings)
    assert wrapped.gate is not None
    cookie = fresh_cookie(wrapped.gate)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/reports",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "HTTP_HOST": "app.example.com",
        "HTTP_ACCEPT": "text/html",
        "HTTP_COOKIE": f"theme=dark; {cookie}",
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    wrapped(dict(environ), start_response)
    if statuses[-1] != "200 OK":
        raise SystemExit(f"the wrapped WSGI app answered {statuses[-1]}, not 200")
    # both get a fresh copy of the environ, as a server makes one per request
    return _interleaved(
        lambda: _hello_wsgi(dict(environ), start_response),
        lambda: wrapped(dict(environ), start_response),
        n,
    )


def timed(work: Callable[[], object], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def hot_path(idp: DevIdP, settings: Settings, n: int) -> list[tuple[str, float, float, str]]:
    """Rows of (name, p50, p99, note); times in seconds."""
    from saml_middleware.protocol.keys import generate_keypair

    gate = Gate(settings)
    header = f"theme=dark; {fresh_cookie(gate)}"
    rows = [
        ("cookie check (Gate.session), seen before", *timed(lambda: gate.session(header), n), ""),
        (
            "cookie check, cookie not seen before",
            *timed(lambda: (gate.sessions.forget_cached(), gate.session(header)), n),
            "one HMAC + JSON",
        ),
    ]
    for name, measure in (("ASGI", asgi_overhead), ("WSGI", wsgi_overhead)):
        bare, wrapped = measure(settings, n * 5)
        rows.append(
            (
                f"{name} authenticated request overhead",
                wrapped[1] - bare[1],
                wrapped[2] - bare[2],
                f"wrapped {wrapped[1] * 1e6:.2f}us - bare {bare[1] * 1e6:.2f}us",
            )
        )
    key, cert = generate_keypair("bench SP")
    signed = Gate(make_settings(idp, sp_key=key, sp_cert=cert))
    rows.append(("login redirect (AuthnRequest, deflate)", *timed(lambda: gate.challenge(BROWSE), n), ""))
    rows.append(
        ("login redirect, signed (SP key, RSA-2048)", *timed(lambda: signed.challenge(BROWSE), n), "")
    )
    return rows


# -- requests per second under uvicorn ----------------------------------------------
@contextmanager
def uvicorn_server(app: str, port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        app,
    ]
    proc = subprocess.Popen(command, env={**os.environ, **env})
    try:
        if not wait_ready(proc, lambda: port_open(port), timeout=30):
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
            sys.executable,
            str(HERE / "load.py"),
            url,
            "--seconds",
            str(seconds),
            "--connections",
            str(connections),
            "--header",
            header,
        ]
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
    import httpx

    ports = {"bare": free_port(), "wrapped": free_port()}
    env = {"BENCH_BASE_URL": f"http://127.0.0.1:{ports['wrapped']}"}  # the SP entity ID signs cookies
    idp = make_idp()
    settings = make_settings(idp, base_url=env["BENCH_BASE_URL"])
    gate = Gate(settings)
    results: dict[str, list[float]] = {"bare": [], "wrapped": []}
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
    for module, name in (("httptools", "httptools"), ("uvloop", "uvloop")):
        try:
            __import__(module)
            parts.append(name)
        except ImportError:
            parts.append(f"no {name}")
    import uvicorn

    return f"uvicorn {uvicorn.__version__} ({', '.join(parts)}), 1 worker"


# -- where the ACS time goes --------------------------------------------------------
def profile(idp: DevIdP, settings: Settings, n: int) -> None:
    gate = Gate(settings)
    requests = [acs_post(gate, idp).request for _ in range(n)]
    gate.handle_endpoint(requests.pop())
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for request in requests:
            gate.handle_endpoint(request)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for request in requests:
        gate.handle_endpoint(request)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


# -- the table ------------------------------------------------------------------------
def versions() -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="responses per ACS contender")
    parser.add_argument("--hot-n", type=int, default=20_000, help="calls per hot-path row")
    parser.add_argument("--rps-rounds", type=int, default=15)
    parser.add_argument("--rps-seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rps-cookie",
        choices=("small", "entra"),
        default="small",
        help="small: a session cookie of about 330 bytes; entra: a real login's cookie with Entra claims, "
        "beside two other cookies",
    )
    parser.add_argument("--sections", default="acs,hot,rps", help="acs,hot,rps,profile")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    idp = make_idp()
    settings = make_settings(idp)
    print(f"# {versions()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "acs" in sections:
        acs_table(idp, settings, args.n)
    if "hot" in sections:
        rows = hot_path(idp, settings, args.hot_n)
        print(f"\nPer-request path, in process (n={args.hot_n}; ASGI/WSGI n={args.hot_n * 5}, tiny app)")
        print(f"{'row':48} {'p50 us':>8} {'p99 us':>8}  note")
        for name, p50, p99, note in rows:
            print(f"{name:48} {p50 * 1e6:8.2f} {p99 * 1e6:8.2f}  {note}")
    if "rps" in sections:
        rps = requests_per_second(
            args.rps_rounds, args.rps_seconds, args.connections, entra=args.rps_cookie == "entra"
        )
        print(
            f"\nHello-world under {uvicorn_flavour()}; load: {rps.tool}, 1 thread, {args.connections} "
            f"connections, {args.rps_seconds:g} s x {args.rps_rounds} alternating rounds each, loopback; "
            f"Cookie header {rps.cookie_bytes} bytes"
        )
        print(f"{'app':48} {'median req/s':>12} {'vs bare':>8}")
        print(f"{'bare hello-world':48} {rps.bare:12.0f} {1:8.1%}")
        print(f"{'wrapped, authenticated (session cookie)':48} {rps.wrapped:12.0f} {rps.ratio:8.1%}")
        print(f"(vs bare: median over rounds of wrapped/bare, each pair back to back; rounds: {rps.rounds})")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if "profile" in sections:
        print("\nWhere the whole-ACS-endpoint time goes:")
        profile(idp, settings, max(args.n, 500))


def acs_table(idp: DevIdP, settings: Settings, n: int) -> None:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        contenders: dict[str, Contender | None] = {
            "ours: protocol core (ServiceProvider)": ours_core(settings),
            "ours: whole ACS endpoint (Gate)": ours_endpoint(settings),
            "python3-saml process_response": python3_saml(idp),
            "stock pysaml2 (xmlsec1 binary)": stock_pysaml2(idp, Path(tmp)),
            "floor: python-xmlsec, 2 signatures only": verify_floor(idp),
        }
        for name, contender in contenders.items():
            if contender is not None:
                rows.append((name, *time_contender(contender, idp, n)))
    core, endpoint = rows[0][1], rows[1][1]
    print(f"\nACS, a fresh Entra-shaped response each (RSA-2048, SHA-256, Response+Assertion signed), n={n}")
    print(f"{'contender':48} {'p50 ms':>8} {'p99 ms':>8} {'/ours core':>11} {'/ours ACS':>10}")
    for name, p50, p99 in rows:
        print(f"{name:48} {p50 * 1e3:8.2f} {p99 * 1e3:8.2f} {p50 / core:10.1f}x {p50 / endpoint:9.1f}x")


if __name__ == "__main__":
    main()
