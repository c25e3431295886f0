"""Hello-world ASGI apps for the requests-per-second comparison: ``bare`` and ``wrapped``.

``uvicorn --app-dir benchmarks helloapp:bare`` (or ``helloapp:wrapped``). The wrapped
app has the benchmarks' settings (``common.make_settings``, so the same secret key) at the
base URL ``BENCH_BASE_URL``, so the benchmark process can mint a session cookie this server
accepts.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from common import make_idp, make_settings

from saml_middleware import SAMLMiddleware

Message = MutableMapping[str, Any]
_START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
_BODY = {"type": "http.response.body", "body": b"hello, world"}


async def bare(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    await send(_START)
    await send(_BODY)


def _wrapped() -> SAMLMiddleware:
    base_url = os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000")
    return SAMLMiddleware(bare, make_settings(make_idp(), base_url=base_url))


def __getattr__(name: str) -> Any:
    # built on first use only, so that ``helloapp:bare`` does not pay for it
    if name == "wrapped":
        app = _wrapped()
        globals()["wrapped"] = app
        return app
    raise AttributeError(name)
