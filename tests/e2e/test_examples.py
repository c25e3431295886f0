"""The runnable apps in ``examples/``: each logs a user in through the dev IdP and shows them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from examples import fastapi_app, flask_app, starlette_app, wsgi_app
from saml_middleware.devidp import DevIdP

from ..support.asgiclient import asgi_client
from ..support.harness import APP, IDP, Browser, Clock, client_for

ROOT = Path(__file__).resolve().parents[2]

#: example name -> (module, adapter)
EXAMPLES: dict[str, tuple[ModuleType, str]] = {
    "starlette": (starlette_app, "asgi"),
    "fastapi": (fastapi_app, "asgi"),
    "flask": (flask_app, "wsgi"),
    "wsgi": (wsgi_app, "wsgi"),
}
HTML_PAGES = ["starlette", "flask", "wsgi"]
LOGOUT_LINK = re.compile(r'href="(/saml/logout\?token=[^"]+)"')

OpenExample = Callable[..., Browser]


@pytest.fixture
def open_example(clock: Clock, idp: DevIdP, settings_factory: Callable[..., Any]) -> Iterator[OpenExample]:
    """``open_example(name, **settings)``: the example built by its ``create_app``, in a fresh browser."""
    clients: list[httpx.Client] = []

    def make(name: str, **overrides: Any) -> Browser:
        module, adapter = EXAMPLES[name]
        app = module.create_app(settings_factory(**overrides), clock=clock)
        app_client = client_for(app, adapter)
        idp_client = asgi_client(idp.app, IDP)
        clients.extend([app_client, idp_client])
        return Browser(app_client, idp_client, idp)

    yield make
    for client in clients:
        client.close()


# -- before login ------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "path"),
    [("starlette", "/"), ("starlette", "/private"), ("fastapi", "/me"), ("flask", "/"), ("wsgi", "/")],
)
def test_a_browser_is_sent_to_the_idp_before_login(open_example: OpenExample, name: str, path: str) -> None:
    browser = open_example(name)
    redirect = browser.start(path)  # asserts the 302 to the IdP's sign-in URL
    assert redirect.status_code == 302


def test_fastapi_api_client_gets_401_json_before_login(open_example: OpenExample) -> None:
    browser = open_example("fastapi")
    response = browser.app.get("/me", headers={"accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "authentication_required",
        "login_url": f"{APP}/saml/login?next=/me",
    }


# -- after login ---------------------------------------------------------------
def test_starlette_home_greets_the_user_and_lists_attributes(open_example: OpenExample) -> None:
    browser = open_example("starlette")
    done = browser.login("/")
    assert done.status_code == 303 and done.headers["location"] == "/"
    page = browser.get("/")
    assert page.status_code == 200
    assert "<h1>Hello, B.Simon</h1>" in page.text
    assert "<strong>b.simon@contoso.com</strong>" in page.text
    assert "<li><code>given_name</code>: B.</li>" in page.text
    assert "<li><code>surname</code>: Simon</li>" in page.text


def test_starlette_protected_route_opens_after_login(open_example: OpenExample) -> None:
    browser = open_example("starlette")
    done = browser.login("/private")
    assert done.status_code == 303 and done.headers["location"] == "/private"
    page = browser.get("/private")
    assert page.status_code == 200 and "Only signed-in users see this, B.Simon." in page.text


def test_starlette_requires_still_guards_a_route_made_public_by_mistake(open_example: OpenExample) -> None:
    browser = open_example("starlette", public_paths=("/public", "/private"))
    assert browser.get("/private").status_code == 403  # @requires("authenticated")
    public = browser.get("/public")
    assert public.status_code == 200 and "Hello, anonymous visitor." in public.text
    browser.login("/")
    assert "Hello, B.Simon." in browser.get("/public").text


def test_fastapi_me_returns_the_user_as_json(open_example: OpenExample) -> None:
    browser = open_example("fastapi")
    done = browser.login("/me")
    assert done.status_code == 303 and done.headers["location"] == "/me"
    me = browser.app.get("/me", headers={"accept": "application/json"})
    assert me.status_code == 200 and me.headers["content-type"] == "application/json"
    user = me.json()
    assert user["email"] == "b.simon@contoso.com" and user["display_name"] == "B.Simon"
    assert user["attributes"]["given_name"] == ["B."]
    assert set(user) == {
        "email",
        "name_id",
        "display_name",
        "attributes",
        "session_index",
        "issuer",
        "name_id_format",
        "authn_instant",  # connection and tenant only with connections (SAML_CONNECTIONS)
    }
    assert browser.get("/").json() == {"message": "Hello, B.Simon", "me": "/me"}


def test_fastapi_current_user_refuses_a_public_path(open_example: OpenExample) -> None:
    browser = open_example("fastapi", public_paths=("/me",))
    response = browser.app.get("/me", headers={"accept": "application/json"})
    assert response.status_code == 401 and response.json() == {"detail": "not signed in"}


def test_flask_home_reads_remote_user_and_saml_user(open_example: OpenExample) -> None:
    browser = open_example("flask")
    browser.login("/")
    page = browser.get("/")
    assert page.status_code == 200
    assert "<h1>Hello, B.Simon</h1>" in page.text
    assert "<strong>b.simon@contoso.com</strong>" in page.text
    assert "<li><code>given_name</code>: B.</li>" in page.text


def test_wsgi_home_greets_remote_user(open_example: OpenExample) -> None:
    browser = open_example("wsgi")
    browser.login("/", email="adele.vance@contoso.com")
    page = browser.get("/")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Hello, Adele Vance</h1>" in page.text
    assert "<strong>adele.vance@contoso.com</strong>" in page.text


@pytest.mark.parametrize("name", HTML_PAGES)
def test_the_sign_out_link_ends_the_session(open_example: OpenExample, name: str) -> None:
    browser = open_example(name)
    browser.login("/")
    links = LOGOUT_LINK.findall(browser.get("/").text)
    assert len(links) == 1
    out = browser.get(links[0])  # the local session ends, then single logout at the IdP
    assert out.status_code == 303 and "SAMLRequest=" in out.headers["location"]
    assert browser.get("/").status_code == 302


# -- importing and configuring from the environment ------------------------------
def _import_in_clean_process(env: dict[str, str]) -> dict[str, Any]:
    """Import every example in a fresh interpreter with exactly these SAML_* variables."""
    script = (
        "import json, importlib\n"
        "out = {}\n"
        "for name in ('starlette_app', 'fastapi_app', 'flask_app', 'wsgi_app'):\n"
        "    module = importlib.import_module('examples.' + name)\n"
        "    app = getattr(module, 'app', None) or getattr(module, 'application', None)\n"
        "    wrapped = getattr(app, 'wsgi_app', app)\n"
        "    out[name] = [type(app).__name__, type(wrapped).__name__,\n"
        "                 getattr(getattr(wrapped, 'settings', None), 'base_url', None)]\n"
        "print(json.dumps(out))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_importing_the_examples_needs_no_saml_variables() -> None:
    assert _import_in_clean_process({}) == {
        "starlette_app": ["NoneType", "NoneType", None],
        "fastapi_app": ["NoneType", "NoneType", None],
        "flask_app": ["NoneType", "NoneType", None],
        "wsgi_app": ["NoneType", "NoneType", None],
    }


def test_the_module_level_apps_are_built_from_saml_variables(idp: DevIdP, tmp_path: Path) -> None:
    metadata = tmp_path / "federationmetadata.xml"
    metadata.write_bytes(idp.metadata_xml())
    env = {
        "SAML_BASE_URL": "http://localhost:8000",
        "SAML_SECRET_KEY": "example-secret-key-0123456789abcdef",
        "SAML_IDP_METADATA_FILE": str(metadata),
    }
    assert _import_in_clean_process(env) == {
        "starlette_app": ["SAMLMiddleware", "SAMLMiddleware", "http://localhost:8000"],
        "fastapi_app": ["SAMLMiddleware", "SAMLMiddleware", "http://localhost:8000"],
        "flask_app": ["Flask", "SAMLWSGIMiddleware", "http://localhost:8000"],
        "wsgi_app": ["SAMLWSGIMiddleware", "SAMLWSGIMiddleware", "http://localhost:8000"],
    }
