"""The app benchmarks/scaleout.py serves: ``uvicorn --app-dir benchmarks --factory scaleout_app:make_asgi``.

A raw ASGI app wrapped by :class:`SAMLMiddleware`, configured by ``SAML_*`` environment
variables only. Every path answers JSON naming the signed-in user and the worker process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from saml_middleware import SAMLMiddleware, SAMLUser

Message = MutableMapping[str, Any]


async def whoami(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    user = scope.get("user")
    body = json.dumps({"user": user.email if isinstance(user, SAMLUser) else None, "pid": os.getpid()})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def make_asgi() -> SAMLMiddleware:
    return SAMLMiddleware(whoami)
