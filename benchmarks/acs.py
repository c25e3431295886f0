"""ACS time per response: saml-middleware vs stock pysaml2, same responses, same run.

Run: ``make bench`` (installs the xmlsec1 binary for the stock-pysaml2 peer when missing).
Prints medians (p50) and p99 in milliseconds and the ratio; docs/performance.md
holds the figures of a recorded run.

Stock pysaml2 uses its default crypto backend, the ``xmlsec1`` binary (a
subprocess per signature), configured the way its users must configure it for
Entra ID (``want_response_signed=False``, ``want_assertions_or_response_signed=True``).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from saml_middleware.config import Settings  # noqa: E402
from saml_middleware.devidp import DevIdP  # noqa: E402
from saml_middleware.gate import Gate  # noqa: E402
from saml_middleware.http import HTTPRequest  # noqa: E402
from saml_middleware.sp import ServiceProvider  # noqa: E402
from saml_middleware.stores import MemoryReplayCache  # noqa: E402
from saml_middleware.user import SAMLUser  # noqa: E402

BASE = "https://app.example.com"
ACS = BASE + "/saml/acs"
ENTITY = BASE + "/saml/metadata"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


def responses(idp: DevIdP, n: int, sign: str) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        rid = f"_bench{i:06d}"
        xml = idp.issue_response(
            "b.simon@contoso.com",
            acs_url=ACS,
            audience=ENTITY,
            in_response_to=rid,
            sign=sign,  # type: ignore[arg-type]
        )
        out.append((base64.b64encode(xml).decode(), rid))
    return out


def measure(work: Callable[[str, str], object], batch: list[tuple[str, str]]) -> list[float]:
    samples = []
    for b64, rid in batch:
        start = time.perf_counter()
        work(b64, rid)
        samples.append(time.perf_counter() - start)
    return samples


def ours_core(settings: Settings, idp: DevIdP) -> Callable[[str, str], object]:
    from saml_middleware.idp import load_idp

    sp = ServiceProvider(settings, load_idp(settings), MemoryReplayCache())

    def run(b64: str, rid: str) -> object:
        return sp.process_response(b64, rid).user.email

    return run


def ours_gate(settings: Settings) -> Callable[[str, str], object]:
    """The whole ACS endpoint: form parsing, login cookie, checks, directory, session cookie."""
    gate = Gate(settings)
    login = gate.handle_endpoint(HTTPRequest("GET", "/saml/login", query="next=/"))
    cookie = next(v for k, v in login.headers if k == "set-cookie").split(";")[0]
    relay = login.headers[0][1].split("RelayState=")[1].split("&")[0]
    name, value = cookie.split("=", 1)
    state = gate.codec.load_login(value, max_age=600)
    assert state is not None

    def run(b64: str, rid: str) -> object:
        # a login cookie naming this response's request, as the browser would carry it
        pending = gate.codec.dump_login({"r": rid, "n": "/"})
        from urllib.parse import urlencode

        body = urlencode({"SAMLResponse": b64, "RelayState": relay}).encode()
        request = HTTPRequest(
            "POST",
            "/saml/acs",
            headers={"content-type": "application/x-www-form-urlencoded", "cookie": f"{name}={pending}"},
            body=body,
        )
        response = gate.handle_endpoint(request)
        if response.status != 303:
            raise SystemExit(f"gate refused the benchmark response: {response.status}")
        return response

    return run


def stock_pysaml2(idp: DevIdP, workdir: Path) -> Callable[[str, str], object] | None:
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

    def run(b64: str, rid: str) -> object:
        result = client.parse_authn_request_response(b64, BINDING_HTTP_POST, outstanding={rid: "/"})
        if result is None or result.assertion is None:
            raise SystemExit("stock pysaml2 refused the benchmark response")
        return result.name_id

    return run


def hot_path(settings: Settings, n: int = 2000) -> list[tuple[str, float, float]]:
    """The per-request cookie check and the login redirect, in milliseconds."""
    gate = Gate(settings)
    idp_user = SAMLUser("b.simon@contoso.com", "b.simon@contoso.com", "B.Simon", {"role": ["x"]})
    _, set_cookie = gate.sessions.create(idp_user)
    header = f"other=1; {set_cookie.split(';')[0]}"
    browse = HTTPRequest("GET", "/reports", headers={"accept": "text/html"})
    out = []
    for name, work in (
        ("authenticated request: cookie check", lambda: gate.authenticate(header)),
        ("  same, cookie not seen before", lambda: (gate.sessions._cache.clear(), gate.authenticate(header))),
        ("login redirect (AuthnRequest built)", lambda: gate.challenge(browse)),
    ):
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            work()
            samples.append(time.perf_counter() - start)
        out.append((name, *percentiles(samples)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="responses per contender")
    parser.add_argument("--sign", default="both", choices=["assertion", "response", "both"])
    args = parser.parse_args()
    idp = DevIdP("https://login.example.com", sign=args.sign)  # type: ignore[arg-type]
    settings = Settings(
        base_url=BASE, secret_key=("bench-secret-key-0123456789",), idp_metadata=idp.metadata_xml().decode()
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        contenders = {
            "saml-middleware, protocol core": ours_core(settings, idp),
            "saml-middleware, whole ACS endpoint": ours_gate(settings),
            "stock pysaml2 7.x (xmlsec1 binary)": stock_pysaml2(idp, Path(tmp)),
        }
        for name, work in contenders.items():
            if work is None:
                continue
            batch = responses(idp, args.n, args.sign)
            work(*batch[0])  # warm-up (first-call imports and caches)
            rows.append((name, *percentiles(measure(work, batch[1:]))))
    hot = hot_path(settings)
    reference = rows[0][1]
    print(f"ACS time per Entra-shaped response (RSA-2048, SHA-256, signed: {args.sign}), n={args.n - 1}")
    print(f"{'contender':40} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs ours':>12}")
    for name, p50, p99 in rows:
        print(f"{name:40} {p50:8.2f} {p99:8.2f} {p50 / reference:11.1f}x")
    print()
    for name, p50, p99 in hot:
        print(f"{name:40} {p50 * 1000:7.1f}us p99 {p99 * 1000:.1f}us")


if __name__ == "__main__":
    main()
