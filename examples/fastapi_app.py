"""FastAPI behind SAML single sign-on, configured only by ``SAML_*`` environment variables.

Run it (see ``examples/README.md`` for the variables)::

    uvicorn examples.fastapi_app:app                        # needs SAML_BASE_URL etc. set
    uvicorn --factory examples.fastapi_app:create_app       # same, via the factory
    python -m examples.fastapi_app                          # same, on the port of SAML_BASE_URL

Open ``/`` in a browser to sign in, then ``/me``. API clients that are not
signed in (no ``Accept: text/html``) get ``401`` JSON naming the login URL.

The module-level ``app`` is built at import time only when ``SAML_BASE_URL`` is
set, so the module can be imported without any configuration. In your own
code, ``app = create_app()`` is all you need.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request

from saml_middleware import SAMLMiddleware, SAMLUser, Settings


def current_user(request: Request) -> SAMLUser:
    """The signed-in user, as a FastAPI dependency."""
    user = request.scope.get("user")
    if not isinstance(user, SAMLUser):  # a path listed in SAML_PUBLIC_PATHS, or SAML_ENABLED=false
        raise HTTPException(status_code=401, detail="not signed in")
    return user


CurrentUser = Annotated[SAMLUser, Depends(current_user)]


def create_app(settings: Settings | None = None, **middleware_options: Any) -> SAMLMiddleware:
    """The FastAPI app wrapped in :class:`SAMLMiddleware`.

    :param settings: the configuration; ``None`` reads the ``SAML_*`` environment variables.
    :param middleware_options: passed to :class:`SAMLMiddleware` (e.g. ``clock=`` in tests).
    """
    api = FastAPI(title="saml-middleware FastAPI example")

    @api.get("/")
    def index(user: CurrentUser) -> dict[str, str]:
        return {"message": f"Hello, {user.display_name or user.email}", "me": "/me"}

    @api.get("/me")
    def me(user: CurrentUser) -> dict[str, Any]:
        return user.to_dict()

    return SAMLMiddleware(api, settings, **middleware_options)


if os.environ.get("SAML_BASE_URL"):
    app = create_app()


if __name__ == "__main__":
    from urllib.parse import urlsplit

    import uvicorn

    wrapped = create_app()
    # Listen on the port SAML_BASE_URL names (8000 when it names none, e.g. behind a proxy).
    uvicorn.run(wrapped, host="127.0.0.1", port=urlsplit(wrapped.settings.base_url).port or 8000)
