"""Hello-world ASGI apps for the requests-per-second comparison: ``bare`` and ``wrapped``.

``uvicorn --app-dir benchmarks helloapp:bare`` (or ``helloapp:wrapped``). The wrapped
app's settings come from ``BENCH_BASE_URL`` and ``BENCH_SECRET``, so the benchmark
process can mint a session cookie this server accepts.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from saml_middleware import SAMLMiddleware
from saml_middleware.config import Settings
from saml_middleware.devidp import DevIdP

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
    idp = DevIdP("https://login.example.com")
    settings = Settings(
        base_url=os.environ.get("BENCH_BASE_URL", "http://127.0.0.1:8000"),
        secret_key=(os.environ.get("BENCH_SECRET", "bench-secret-key-0123456789"),),
        idp_metadata=idp.metadata_xml().decode(),
    )
    return SAMLMiddleware(bare, settings)


def __getattr__(name: str) -> Any:
    # built on first use only, so that ``helloapp:bare`` does not pay for it
    if name == "wrapped":
        app = _wrapped()
        globals()["wrapped"] = app
        return app
    raise AttributeError(name)
