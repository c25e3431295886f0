"""Memory after many logins: does the process come back to (near) where it started?

Run: ``.benchvenv/bin/python benchmarks/memory.py`` (``-n 100000``, the default;
``make bench`` runs it). Each login is a full round through the gate, as in
production with the in-memory stores: the login redirect (``Gate.challenge``),
a fresh response from the dev IdP for that request (new IDs, new signatures),
``POST /saml/acs`` (every check, replay cache, directory, session cookie), then
one authenticated request with the new session cookie (the session cache).

Prints RSS (``VmRSS``) at the start (after a warm-up of 1,000 logins), every
10%, and the end, with the sizes of the replay cache and the session cache.
The in-memory replay cache keeps every assertion and request ID until it
expires (an hour or more for Entra), so over 100,000 logins within an hour it
only stops growing at its ``max_entries`` bound.
"""

from __future__ import annotations

import argparse
import gc
import time

from common import (
    CookieSessionManager,
    Gate,
    MemoryReplayCache,
    acs_post,
    make_idp,
    make_settings,
    rss_mb,
    session_cookie,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="logins")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--budget-mb", type=float, default=50.0)
    parser.add_argument("--replay-max", type=int, default=200_000, help="MemoryReplayCache max_entries")
    parser.add_argument("--session-cache", type=int, default=0, help="SessionManager cache size (0: default)")
    args = parser.parse_args()
    idp = make_idp()
    replay = MemoryReplayCache(max_entries=args.replay_max)  # the default store, its bound made visible
    gate = Gate(make_settings(idp), replay=replay)
    sessions = gate.sessions
    if not isinstance(sessions, CookieSessionManager):  # the default SAML_SESSION_STORE=cookie
        raise SystemExit(f"expected cookie sessions, got {type(sessions).__name__}")
    if args.session_cache:
        sessions.CACHE_SIZE = args.session_cache

    def one_login() -> None:
        post = acs_post(gate, idp)
        response = gate.handle_endpoint(post.request)
        if response.status != 303:
            raise SystemExit(f"login refused: {response.status} {response.body[:300]!r}")
        cookie = session_cookie(v for k, v in response.headers if k == "set-cookie")
        if gate.session(f"theme=dark; {cookie}") is None:
            raise SystemExit("the new session cookie was not accepted")

    for _ in range(args.warmup):
        one_login()
    gc.collect()
    start = rss_mb()
    began = time.perf_counter()
    bounds = f"replay max_entries={args.replay_max}, session caches=2 x {sessions.CACHE_SIZE}"
    print(f"logins={args.n} (after {args.warmup} warm-up logins); {bounds}")
    print(f"{'logins':>8} {'RSS MB':>8} {'growth MB':>10} {'replay keys':>12} {'session cache':>14} {'s':>6}")
    print(f"{0:8} {start:8.1f} {0:10.1f} {len(replay):12} {sessions.cached_entries():14} {0:6.0f}")
    step = max(1, args.n // 10)
    for i in range(1, args.n + 1):
        one_login()
        if i % step == 0:
            now = rss_mb()
            print(
                f"{i:8} {now:8.1f} {now - start:10.1f} {len(replay):12} {sessions.cached_entries():14}"
                f" {time.perf_counter() - began:6.0f}",
                flush=True,
            )
    gc.collect()
    end = rss_mb()
    growth = end - start
    verdict = "met" if growth <= args.budget_mb else "NOT met"
    print(
        f"end (after gc): RSS {end:.1f} MB, growth {growth:+.1f} MB, peak (VmHWM) {rss_mb('VmHWM'):.1f} MB; "
        f"budget {args.budget_mb:g} MB: {verdict}"
    )
    per = (time.perf_counter() - began) / args.n * 1e3
    print(f"{per:.2f} ms per login round (redirect + IdP signing + ACS + one request)")


if __name__ == "__main__":
    main()
