"""saml-middleware vs its peers, and the per-request cost of the middleware: one table.

Run: ``make bench`` (creates ``.benchvenv`` with the project, python3-saml and
pyinstrument; installs the ``xmlsec1`` and ``wrk`` binaries when run as root),
or ``.benchvenv/bin/python benchmarks/run.py``. docs/performance.md holds a
recorded run. Every ACS contender gets the same kind of input: a fresh
Entra-shaped response from the dev IdP (RSA-2048, SHA-256, Response and
Assertion signed), one new response per measurement.

Sections (``--sections``, comma-separated; default acs,hot,rps), one module each:

* ``acs`` (acs_peers.py): ours (protocol core; whole ACS endpoint) vs stock pysaml2
  (``xmlsec1`` binary) vs python3-saml vs the raw verify floor.
* ``hot`` (hot_path.py, overhead.py): cookie check, in-process ASGI/WSGI overhead per
  authenticated request (wrapped tiny app minus bare app), login redirect.
* ``rps`` (rps.py, helloapp.py, load.py): a wrapped hello-world under uvicorn vs the
  bare one, load from a second process on loopback (``wrk``, else ``load.py``).
* ``profile`` (acs_profile.py): where the ACS time goes (pyinstrument, else cProfile).
* ``access`` (access.py): a request with 50 access rules vs none, same run.

``compare.py`` runs ``acs,hot`` for two commits in alternation; ``memory.py`` and
``scaleout.py`` are separate runs.
"""

from __future__ import annotations

import argparse

import access
import acs_peers
import acs_profile
import hot_path
import rps
from common import load_average, make_idp, make_settings, versions

SECTIONS = ("acs", "hot", "rps", "profile", "access")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    parser.add_argument("--sections", default="acs,hot,rps", help=",".join(SECTIONS))
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    if unknown := sections - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(unknown))} (choose from {', '.join(SECTIONS)})")
    idp = make_idp()
    settings = make_settings(idp)
    print(f"# {versions()}")
    print(f"# load average at start: {load_average()}")
    if "acs" in sections:
        acs_peers.section(idp, settings, args.n)
    if "hot" in sections:
        hot_path.section(idp, settings, args.hot_n)
    if "access" in sections:
        access.section(settings, args.hot_n)
    if "rps" in sections:
        rps.section(args.rps_rounds, args.rps_seconds, args.connections, entra=args.rps_cookie == "entra")
    print(f"# load average at end: {load_average()}")
    if "profile" in sections:
        acs_profile.section(idp, settings, max(args.n, 500))


if __name__ == "__main__":
    main()
