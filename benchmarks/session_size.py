"""Bytes per session and CPU per request with an Entra member of 150 groups (issue 17 item 6).

A real login through the dev IdP (150 group ids, Entra's most before its overage claim, plus
the dev user's own group and profile claims) into a server session; then:

* the record as earlier versions stored it (JSON, every list under the claim URI and its
  alias) and as it is stored now (each list once, zlib, ``v2:``);
* the cookie such a session would need (over 4 KB: ``SAML_SESSION_OVERFLOW`` decides);
* ``Gate.session`` per authenticated request: a small user's cookie session (seen before),
  a 150-group session in the store (server sessions, or a cookie session that overflowed),
  and decoding one record of each version.

    .venv/bin/python benchmarks/session_size.py [-n 5000]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from typing import Any

from common import (
    USER,
    Gate,
    MemoryReplayCache,
    MemorySessionStore,
    Session,
    acs_post,
    decode_record,
    encode_record,
    fresh_cookie,
    header,
    load_average,
    make_settings,
    session_cookie,
    timed,
    versions,
)

from saml_middleware.devidp import DEFAULT_USERS, DevIdP, with_groups


def v1_record(session: Session) -> bytes:
    """A record as versions before this one wrote it."""
    user = session.user.to_dict()
    data = {"u": user, "t": session.issued, "s": session.seen, "l": session.logout_token}
    return json.dumps(data, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="calls per timed row")
    parser.add_argument("--groups", type=int, default=150)
    args = parser.parse_args(argv)
    logging.getLogger("saml_middleware").setLevel(logging.ERROR)  # the overflow notice
    idp = DevIdP("https://login.example.com", sign="both", users=with_groups(DEFAULT_USERS, args.groups))
    base = make_settings(idp)
    store = MemorySessionStore()
    gate = Gate(replace(base, session_store="server"), replay=MemoryReplayCache(), session_store=store)
    done = gate.handle_endpoint(acs_post(gate, idp).request)
    assert done.status == 303, done.status
    cookie = session_cookie(v for k, v in done.headers if k == "set-cookie")
    [(sid, (_, record, _))] = store._records.items()
    session = decode_record(sid, record)
    assert session is not None and session.user.email == USER
    old = v1_record(session)
    manager: Any = gate.sessions  # the cookie it would have written: a private helper, measured
    would_be = len(manager._header(replace(session, stored=False)))
    groups = len(session.user.attributes["groups"])

    small = Gate(base)
    small_header = f"theme=dark; {fresh_cookie(small)}"
    spill = replace(base, session_overflow="server")
    overflow = Gate(spill, replay=MemoryReplayCache(), session_store=MemorySessionStore())
    answer = overflow.handle_endpoint(acs_post(overflow, idp).request)
    spilled = session_cookie(v for k, v in answer.headers if k == "set-cookie")
    assert spilled.startswith(f"{overflow.sessions.name}=~") and header(answer, "location"), spilled[:40]

    print(versions())
    print(f"# load average at start: {load_average()}")
    print(f"# a session of {USER} with {groups} groups, {len(session.user.attributes)} attribute names")
    print(f"{'record, as earlier versions stored it (JSON, lists twice)':62} {len(old):7d} bytes")
    print(f"{'record, stored now (each list once, zlib, v2)':62} {len(record):7d} bytes")
    print(f"{'  ratio':62} {len(record) / len(old):7.2f}")
    print(f"{'the Set-Cookie a cookie session would need (limit 4000)':62} {would_be:7d} bytes")
    print(f"{'the Set-Cookie of a server / overflowed session':62} {len(cookie):7d} bytes")
    rows = [
        ("Gate.session, small cookie session, seen before", lambda: small.session(small_header)),
        ("Gate.session, 150 groups, server session (memory store)", lambda: gate.session(cookie)),
        ("Gate.session, 150 groups, cookie overflowed to the store", lambda: overflow.session(spilled)),
        ("decode one record, v1 (JSON)", lambda: decode_record(sid, old)),
        ("decode one record, v2 (zlib + JSON + aliases)", lambda: decode_record(sid, record)),
        ("encode one record, v2", lambda: encode_record(session)),
    ]
    print(f"{'per call':62} {'p50 us':>7} {'p99 us':>7}")
    for name, work in rows:
        p50, p99 = timed(work, args.n)
        print(f"{name:62} {p50 * 1e6:7.1f} {p99 * 1e6:7.1f}")
    print(f"# load average at end: {load_average()}")


if __name__ == "__main__":
    main()
