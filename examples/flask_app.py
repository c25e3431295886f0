"""Flask behind SAML single sign-on, configured only by ``SAML_*`` environment variables.

Run it (see ``examples/README.md`` for the variables)::

    flask --app examples.flask_app run --port 8000
    gunicorn 'examples.flask_app:create_app()' -b 127.0.0.1:8000     # or any WSGI server

The middleware wraps ``app.wsgi_app``, so Flask's own ``app`` object stays
yours (``flask`` CLI, blueprints, extensions). Signed-in requests carry
``environ["REMOTE_USER"]`` (the e-mail), ``environ["saml.user"]`` (a
:class:`~saml_middleware.SAMLUser`) and ``environ["saml.logout_url"]``.

The module-level ``app`` is built at import time only when ``SAML_BASE_URL`` is
set; without it, ``flask --app examples.flask_app`` calls ``create_app()`` and
reports any missing variable. In your own code, ``app = create_app()`` is all you need.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template_string, request

from saml_middleware import SAMLUser, SAMLWSGIMiddleware, Settings

HOME = """<!doctype html><html lang=en><head><meta charset=utf-8><title>Welcome</title></head><body>
{% if user %}
<h1>Hello, {{ user.display_name or email }}</h1>
<p>You are signed in as <strong>{{ email }}</strong>. <a href="{{ logout_url }}">Sign out</a></p>
<h2>Your attributes</h2>
<ul>{% for name, values in attributes %}
<li><code>{{ name }}</code>: {{ values|join(", ") }}</li>
{% endfor %}</ul>
{% else %}
<p>You are not signed in. <a href="/saml/login?next=/">Sign in</a></p>
{% endif %}
</body></html>"""


def create_app(settings: Settings | None = None, **middleware_options: Any) -> Flask:
    """A Flask app whose ``wsgi_app`` is wrapped in :class:`SAMLWSGIMiddleware`.

    :param settings: the configuration; ``None`` reads the ``SAML_*`` environment variables.
    :param middleware_options: passed to :class:`SAMLWSGIMiddleware` (e.g. ``clock=`` in tests).
    """
    flask_app = Flask(__name__)

    @flask_app.get("/")
    def home() -> str:
        user: SAMLUser | None = request.environ.get("saml.user")  # None only on SAML_PUBLIC_PATHS
        return render_template_string(
            HOME,
            user=user,
            email=request.environ.get("REMOTE_USER"),
            attributes=sorted(user.attributes.items()) if user else [],
            logout_url=request.environ.get("saml.logout_url"),
        )

    flask_app.wsgi_app = SAMLWSGIMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, settings, **middleware_options
    )
    return flask_app


if os.environ.get("SAML_BASE_URL"):
    app = create_app()
