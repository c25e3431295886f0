"""Shared pieces of the benchmarks: the dev IdP, settings, fresh responses, statistics, RSS."""

from __future__ import annotations

import base64
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from saml_middleware.config import Settings
from saml_middleware.devidp import DevIdP
from saml_middleware.gate.gate import Gate
from saml_middleware.http import HTTPRequest

BASE = "https://app.example.com"
ACS = BASE + "/saml/acs"
ENTITY = BASE + "/saml/metadata"
SECRET = "bench-secret-key-0123456789"
USER = "b.simon@contoso.com"
BROWSE = HTTPRequest("GET", "/reports", headers={"accept": "text/html"})


def make_idp(sign: str = "both") -> DevIdP:
    """The Entra-shaped dev IdP (RSA-2048, SHA-256)."""
    return DevIdP("https://login.example.com", sign=sign)  # type: ignore[arg-type]


def make_settings(idp: DevIdP, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "base_url": BASE,
        "secret_key": (SECRET,),
        "idp_metadata": idp.metadata_xml().decode(),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def fresh_response(idp: DevIdP, request_id: str, sign: str = "both") -> str:
    """A new signed response (new Response and Assertion IDs, new timestamps), base64."""
    xml = idp.issue_response(USER, acs_url=ACS, audience=ENTITY, in_response_to=request_id, sign=sign)  # type: ignore[arg-type]
    return base64.b64encode(xml).decode()


def responses(idp: DevIdP, n: int, sign: str = "both") -> list[tuple[str, str]]:
    """``n`` fresh ``(SAMLResponse, request ID)`` pairs."""
    return [(fresh_response(idp, f"_bench{i:06d}", sign), f"_bench{i:06d}") for i in range(n)]


@dataclass(frozen=True)
class AcsPost:
    """A browser's POST to the ACS, as it arrives after the login redirect."""

    request: HTTPRequest
    request_id: str


def login(gate: Gate) -> tuple[str, str, str]:
    """Start a login through the gate: ``(request ID, RelayState, login cookie pair)``."""
    from saml_middleware.devidp.authnrequest import parse_authn_request

    redirect = gate.challenge(BROWSE)
    location = next(v for k, v in redirect.headers if k == "location")
    query = parse_qs(urlsplit(location).query)
    cookie = next(v for k, v in redirect.headers if k == "set-cookie").split(";")[0]
    return parse_authn_request(query["SAMLRequest"][0]).id, query["RelayState"][0], cookie


def acs_post(gate: Gate, idp: DevIdP, sign: str = "both") -> AcsPost:
    """A full browser round: login redirect, then a fresh IdP response for it, posted to the ACS."""
    request_id, relay, cookie = login(gate)
    body = urlencode({"SAMLResponse": fresh_response(idp, request_id, sign), "RelayState": relay}).encode()
    request = HTTPRequest(
        "POST",
        "/saml/acs",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(len(body)),
            "cookie": cookie,
        },
        body=body,
    )
    return AcsPost(request, request_id)


def session_cookie(set_cookie_headers: Iterator[str] | list[str]) -> str:
    """The ``name=value`` of the session cookie among ``Set-Cookie`` values."""
    for value in set_cookie_headers:
        if "saml_session=" in value.split(";")[0]:
            return value.split(";")[0]
    raise SystemExit("no session cookie was set")


def percentiles(samples: list[float]) -> tuple[float, float]:
    """``(p50, p99)`` of ``samples``, in the samples' unit."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (``VmRSS``) or peak (``VmHWM``), in MB (10^6 bytes)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"{field} not in /proc/self/status")
