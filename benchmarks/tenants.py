"""Many tenants: does an authenticated request cost the same with 10,000 connections as with one?

``python benchmarks/tenants.py [--n N]`` prints, in process (no network, no event loop):

* the cookie check (``session``) and a whole authenticated WSGI request: single-IdP ``Gate``,
  then ``TenantGate`` with 1 and with 10,000 connections (host routing on, host given);
* finding a connection by host and by e-mail domain among 10,000;
* starting a login from the sign-in page (``/saml/login?email=``: lookup + AuthnRequest);
* memory per connection whose gate is built (IdP metadata parsed), over 200 of them.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable
from typing import Any

from common import (
    BASE,
    USER,
    Connection,
    ConnectionIndex,
    Gate,
    HTTPRequest,
    TenantGate,
    alternating,
    make_idp,
    make_settings,
    rss_mb,
    timed,
)

from saml_middleware import SAMLUser, SAMLWSGIMiddleware


def connections(n: int, metadata: str) -> list[Connection]:
    return [
        Connection(
            f"c{i}", domains=(f"c{i}.example",), hosts=(f"c{i}.app.example.com",), idp_metadata=metadata
        )
        for i in range(n)
    ]


def tenant_cookie(gate: TenantGate, conn: Connection) -> str:
    user = SAMLUser(USER, USER, "B.Simon", {"role": ["reader"]}, connection=conn.id, tenant=conn.tenant)
    return gate.sessions.create(user)[1].split(";")[0]


def wsgi_request(middleware: SAMLWSGIMiddleware, cookie: str, host: str) -> Callable[[], object]:
    """One authenticated request through ``middleware`` per call."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/reports",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "HTTP_COOKIE": cookie,
        "HTTP_HOST": host,
    }

    return lambda: middleware(dict(environ), lambda status, headers, exc_info=None: None)


def checker(gate: TenantGate, cookie: str, host: str) -> Callable[[], object]:
    return lambda: gate.session(cookie, host)


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"hello"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per measurement")
    n = parser.parse_args().n
    idp = make_idp()
    settings = make_settings(idp)
    metadata = idp.metadata_xml().decode()
    rows: list[tuple[str, float, float]] = []

    single = SAMLWSGIMiddleware(hello, settings)
    assert isinstance(single.gate, Gate)
    user = SAMLUser(USER, USER, "B.Simon", {"role": ["reader"]})
    cookie = single.gate.sessions.create(user)[1].split(";")[0]
    single_gate = single.gate
    rows.append(("single IdP: cookie check", *timed(lambda: single_gate.session(cookie), n)))
    # the three authenticated-request rows are timed in alternating chunks: one comparison
    requests = {"single IdP": wsgi_request(single, cookie, "app.example.com")}
    gate: TenantGate | None = None
    records: list[Connection] = []
    for count in (1, 10_000):
        records = connections(count, metadata)
        tenant = SAMLWSGIMiddleware(hello, settings, connections=ConnectionIndex(records))
        assert isinstance(tenant.gate, TenantGate)
        gate = tenant.gate
        host = records[-1].hosts[0]
        c = tenant_cookie(gate, records[-1])
        assert gate.session(c, host) is not None
        rows.append((f"{count} connections: cookie check", *timed(checker(gate, c, host), n)))
        requests[f"{count} connections"] = wsgi_request(tenant, c, host)
    for name, times in alternating(requests, n).items():
        rows.append((f"{name}: authenticated WSGI request", *times))
    assert gate is not None
    last = gate
    index = ConnectionIndex(records)
    rows.append(("10,000 connections: by host", *timed(lambda: index.by_host("c9999.app.example.com"), n)))
    rows.append(
        ("10,000 connections: by e-mail domain", *timed(lambda: index.by_email("a@c4242.example"), n))
    )
    signin = HTTPRequest(
        "GET", "/saml/login", query="email=alice%40c4242.example", headers={"accept": "text/html"}
    )
    assert last.handle_endpoint(signin).status == 302  # builds c4242's gate once
    rows.append(
        ("sign-in page to the IdP (login start)", *timed(lambda: last.handle_endpoint(signin), n // 10))
    )

    gc.collect()
    before = rss_mb()
    pool_gate = TenantGate(settings, ConnectionIndex(records), pool_size=200)
    for conn in records[:200]:
        pool_gate.pool.gate(conn)
    gc.collect()
    per_gate_kb = (rss_mb() - before) * 1e3 / 200

    print(f"{'measurement':52} {'p50 us':>9} {'p99 us':>9}")
    for name, p50, p99 in rows:
        print(f"{name:52} {p50 * 1e6:9.2f} {p99 * 1e6:9.2f}")
    print(f"memory per connection with its gate built: {per_gate_kb:.0f} kB (200 built under {BASE})")


if __name__ == "__main__":
    main()
