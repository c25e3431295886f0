"""A bounded HTTP load generator (used when ``wrk`` is not installed): loopback only.

``python benchmarks/load.py URL --seconds 4 --connections 16 --max-requests 200000 --header 'Cookie: x'``
prints ``Requests/sec: N`` (the line ``wrk`` prints) and ``Non-2xx: N``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import urlsplit

import httpx


async def _run(url: str, seconds: float, connections: int, cap: int, headers: dict[str, str]) -> None:
    host = urlsplit(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise SystemExit(f"refusing to load {host!r}: loopback only")
    done = 0
    bad = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=10) as client:

        async def worker() -> None:
            nonlocal done, bad
            while done < cap and time.perf_counter() < deadline:
                response = await client.get(url)
                done += 1
                bad += response.status_code >= 300

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    print(f"Requests/sec: {done / elapsed:.2f}")
    print(f"Non-2xx: {bad}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    asyncio.run(_run(args.url, min(args.seconds, 60.0), args.connections, args.max_requests, headers))


if __name__ == "__main__":
    main()
