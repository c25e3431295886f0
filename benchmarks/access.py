"""The ``access`` section: what 50 access rules cost per request, against none, in the same run.

Two wrapped ASGI apps (a tiny app, the same signed-in session): one with no access rules, one
with a rules file of 50 rules (49 on their own first segment, a glob every third, methods every
fifth, then ``/`` for the e-mail domain). Requests cycle over paths that hit early, late and no
specific rule; the two apps are timed in alternating chunks (:func:`overhead.interleaved`), so
machine drift hits both alike. The policy's ``decide`` alone is timed too.

Run: ``.benchvenv/bin/python benchmarks/access.py`` or ``benchmarks/run.py --sections access``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from common import USER, fresh_cookie, make_idp, make_settings, timed
from overhead import asgi_driver, hello_asgi, interleaved

from saml_middleware import SAMLMiddleware, SAMLUser, Settings
from saml_middleware.access import AccessPolicy, load_rules

PATHS = ["/section0/a", "/section24/b/c", "/section48/x", "/app/page", "/", "/section7", "/reports/q1"]


def rules_file(directory: Path, count: int = 50) -> Path:
    """``count`` rules: ``count - 1`` specific ones, then ``/`` for the domain of the bench user."""
    lines = []
    for i in range(count - 1):
        path = f"/section{i}/**" if i % 3 == 0 else f"/section{i}"
        methods = '\nmethods = ["GET", "POST"]' if i % 5 == 0 else ""
        lines.append(f'[[rule]]\npath = "{path}"{methods}\ngroups = ["a", "group-{i}"]\n')
    lines.append('[[rule]]\npath = "/"\ndomains = ["contoso.com"]\n')
    target = directory / "access.toml"
    target.write_text("\n".join(lines))
    return target


def _driver(app: SAMLMiddleware, cookie: str) -> Callable[[], object]:
    statuses: list[int] = []
    headers = [(b"host", b"app.example.com"), (b"accept", b"text/html"), (b"cookie", cookie.encode())]
    call = asgi_driver(app, PATHS, headers, statuses)
    for _ in PATHS:
        call()
    if set(statuses) != {200}:
        raise SystemExit(f"the wrapped app answered {sorted(set(statuses))}, not 200 only")
    return call


def rows(settings: Settings, n: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        rules = rules_file(Path(tmp))
        none = SAMLMiddleware(hello_asgi, settings)
        fifty = SAMLMiddleware(hello_asgi, replace(settings, access_rules=str(rules)))
        if none.gate is None or fifty.gate is None:
            raise SystemExit("the benchmark settings left the middleware disabled")
        bare, ruled = interleaved(
            _driver(none, fresh_cookie(none.gate)), _driver(fifty, fresh_cookie(fifty.gate)), n
        )
        policy = AccessPolicy(load_rules(str(rules)))
    user = SAMLUser(USER, USER, "B.Simon", {"groups": ["a", "b"]}, authn_instant=0.0)
    paths = itertools.cycle(PATHS)
    decide = timed(lambda: policy.decide("GET", next(paths), user, 1.0), n)
    empty = AccessPolicy()
    skip = timed(lambda: empty.active and empty.decide("GET", next(paths), user, 1.0), n)
    return [
        ("ASGI request, no access rules", bare[1], bare[2]),
        ("ASGI request, 50 access rules", ruled[1], ruled[2]),
        ("  difference (50 rules - none)", ruled[1] - bare[1], ruled[2] - bare[2]),
        ("AccessPolicy.decide, 50 rules", *decide),
        ("no rules: the adapters' `if access.active`", *skip),
    ]


def section(settings: Settings, n: int) -> None:
    """Print the access-rule table, in microseconds (medians and p99)."""
    print(f"\nAccess rules, in process (n={n} per row, paths cycling over {len(PATHS)})")
    print(f"{'row':48} {'p50 us':>8} {'p99 us':>8}")
    for name, p50, p99 in rows(settings, n):
        print(f"{name:48} {p50 * 1e6:8.2f} {p99 * 1e6:8.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=50_000)
    args = parser.parse_args(argv)
    section(make_settings(make_idp()), args.n)


if __name__ == "__main__":
    main()
