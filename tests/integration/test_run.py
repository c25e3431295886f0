"""``saml-middleware run module:app`` as a user runs it: a subprocess, the dev IdP, real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from saml_middleware.serve.runner import AppLoadError, detect_interface, load_app

from ..support.servers import CLI, ROOT, free_port, login, server, sp_env


def _run_and_login(dev_idp: str, tmp_path: Path, target: str, *extra: str, **env: str) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    args = [*CLI, "run", target, "--port", str(port), *extra]
    with (
        server(args, f"{base}/saml/health", log, env=sp_env(base, dev_idp, **env)),
        httpx.Client() as browser,
    ):
        anonymous = browser.get(f"{base}/whoami", headers={"accept": "application/json"})
        assert anonymous.status_code == 401
        landed = login(browser, f"{base}/whoami?x=1")
        assert landed.headers["location"] == "/whoami?x=1"
        page = browser.get(f"{base}{landed.headers['location']}")
        assert page.status_code == 200, page.text
        result = {"page": page}
    output = log.read_text()
    assert '- b.simon@contoso.com "GET /whoami?x=1 HTTP/1.1" 200' in output  # access log with e-mail
    result["log"] = output
    return result


def test_run_serves_an_asgi_app(dev_idp: str, tmp_path: Path) -> None:
    page = _run_and_login(dev_idp, tmp_path, "tests.support.dropin_apps:asgi_app")["page"].json()
    assert page == {"kind": "asgi", "user": "b.simon@contoso.com", "name": "B.Simon", "root_path": ""}


def test_run_serves_a_wsgi_app(dev_idp: str, tmp_path: Path) -> None:
    page = _run_and_login(dev_idp, tmp_path, "tests.support.dropin_apps:wsgi_app")["page"].json()
    assert page == {"kind": "wsgi", "user": "b.simon@contoso.com", "name": "B.Simon"}


def test_run_calls_a_factory(dev_idp: str, tmp_path: Path) -> None:
    page = _run_and_login(dev_idp, tmp_path, "tests.support.dropin_apps:make_asgi_app", "--factory")["page"]
    assert page.json()["kind"] == "asgi"


def test_run_serves_django_with_no_code_change(dev_idp: str, tmp_path: Path) -> None:
    pytest.importorskip("django")
    project = ROOT / "examples" / "django_project"
    db = str(tmp_path / "db.sqlite3")
    migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
    subprocess.run(migrate, cwd=project, env={**os.environ, "DJANGO_DB": db}, check=True)
    target = "mysite.wsgi:application"
    page = _run_and_login(dev_idp, tmp_path, target, "--app-dir", str(project), DJANGO_DB=db)["page"]
    assert "Signed in to Django as b.simon@contoso.com" in page.text
    assert "authenticated: True" in page.text


def test_run_refuses_a_bad_import_path(tmp_path: Path, capsys) -> None:
    from saml_middleware.cli import main

    assert main(["run", "no_such_module_here:app"]) == 1
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err
    with pytest.raises(AppLoadError, match="no_such_module_here"):
        load_app("no_such_module_here:app")
    with pytest.raises(AppLoadError, match="module:attribute"):
        load_app("just_a_module")
    with pytest.raises(AppLoadError, match="has no attribute"):
        load_app("tests.support.dropin_apps:missing")


def test_detect_interface() -> None:
    from tests.support.dropin_apps import asgi_app, wsgi_app

    async def raw_asgi(scope, receive, send) -> None: ...

    assert detect_interface(asgi_app) == "asgi" and detect_interface(raw_asgi) == "asgi"
    assert detect_interface(wsgi_app) == "wsgi"
    with pytest.raises(AppLoadError, match="--interface"):
        detect_interface(lambda: None)


def test_run_refuses_an_app_that_is_already_wrapped(capsys) -> None:
    """An app that wraps itself (examples/starlette_app.py does): `run` would put a second SAML
    layer in front of it, so it says what to do instead."""
    from saml_middleware.cli import main

    assert main(["run", "--factory", "tests.support.dropin_apps:already_wrapped_app"]) == 1
    err = capsys.readouterr().err
    assert "already wrapped by SAMLMiddleware" in err and "unwrapped app" in err
