"""``saml-middleware run`` and ``proxy`` with ``SAML_CONNECTIONS`` from the environment, as real
processes over real HTTP: a SQLite registry prepared with ``saml-middleware connections add``,
the dev IdP playing two Entra tenants (``dev-idp --tenants 2``, a real process), a login through
each connection; the app is told the tenant (``SAMLUser.tenant``, ``environ["saml.tenant"]``),
the upstream in ``X-Remote-Tenant``. A connection added with the CLI while the server runs is
live within ``SAML_CONNECTIONS_REFRESH`` (1 second here) without a restart."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..support.servers import CLI, ROOT, SECRET, echo_upstream, free_port, login, server

APPS = {"run-asgi": "tests.support.tenant_apps:asgi_app", "run-wsgi": "tests.support.tenant_apps:wsgi_app"}


@pytest.fixture(scope="module")
def tenant_metadata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    """``dev-idp --tenants 2`` on a free port; each tenant's Federation Metadata XML, downloaded
    as a customer's admin would, in a file."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("dev-idp-tenants")
    args = [*CLI, "dev-idp", "--tenants", "2", "--idp-port", str(port), "--public-host", "127.0.0.1"]
    with server([*args, "--key-dir", str(tmp)], f"http://127.0.0.1:{port}/", tmp / "log.txt"):
        banner = (tmp / "log.txt").read_text()
        urls = list(dict.fromkeys(w for w in banner.split() if w.endswith("federationmetadata.xml")))
        assert len(urls) == 2 and urls[0] != urls[1], banner
        files = []
        for number, url in enumerate(urls, 1):
            answer = httpx.get(url)
            assert answer.status_code == 200 and b"sts.windows.net" in answer.content
            (tmp / f"tenant{number}.xml").write_bytes(answer.content)
            files.append(tmp / f"tenant{number}.xml")
        yield files


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with echo_upstream(tmp_path_factory.mktemp("echo")) as url:
        yield url


def tenant_env(base: str, registry: str) -> dict[str, str]:
    """This machine's environment minus any ``SAML_*``, plus the deployment's: no IdP of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAML_")}
    env.update(
        SAML_BASE_URL=base,
        SAML_SECRET_KEY=SECRET,
        SAML_CONNECTIONS=registry,
        SAML_CONNECTIONS_REFRESH="1",
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="error::DeprecationWarning",
    )
    return env


def add_connection(env: dict[str, str], number: int, metadata: Path) -> None:
    """``saml-middleware connections add tenantN ...``, as the operator types it."""
    done = subprocess.run(
        [*CLI, "connections", "add", f"tenant{number}", "--name", f"Tenant {number}",
         "--tenant", f"t-{number}", "--domain", f"tenant{number}.example", "--metadata-file", str(metadata)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"added tenant{number} (Tenant {number}), SSO on" in done.stdout


def seen(browser: httpx.Client, url: str, mode: str) -> dict[str, str | None]:
    """Who the app (``run``) or the upstream (``proxy``) was told the user is."""
    answer = browser.get(url, headers={"accept": "application/json"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    if mode == "proxy":
        headers = data["headers"]
        return {"user": headers.get("x-remote-email"), "tenant": headers.get("x-remote-tenant")}
    return {"user": data["user"], "tenant": data["tenant"], "connection": data["connection"]}


def sign_in_url(base: str, email: str) -> str:
    return f"{base}/saml/login?email={email}&next=/whoami"


@pytest.mark.parametrize("mode", ["run-asgi", "run-wsgi", "proxy"])
def test_each_connection_signs_in_and_one_added_while_running_is_live_without_restart(
    mode: str, tenant_metadata: list[Path], upstream: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = tenant_env(base, f"sqlite:///{tmp_path / 'connections.db'}")
    add_connection(env, 1, tenant_metadata[0])
    command = ["proxy", upstream] if mode == "proxy" else ["run", APPS[mode]]
    args = [*CLI, *command, "--port", str(port)]
    with server(args, f"{base}/saml/health", tmp_path / "server.log", env=env):
        with httpx.Client() as browser:
            landed = login(browser, sign_in_url(base, "b.simon@tenant1.example"), "b.simon@tenant1.example")
            assert landed.headers["location"] == "/whoami"
            who = seen(browser, f"{base}/whoami", mode)
            assert (who["user"], who["tenant"]) == ("b.simon@tenant1.example", "t-1")
            if mode != "proxy":
                assert who["connection"] == "tenant1"
        with httpx.Client() as browser:  # tenant 2 is not a connection yet
            before = browser.get(
                sign_in_url(base, "b.simon@tenant2.example"), headers={"accept": "text/html"}
            )
            assert (
                before.status_code == 400 and "No organisation signs in with tenant2.example" in before.text
            )
            add_connection(env, 2, tenant_metadata[1])  # while the server runs
            deadline = time.monotonic() + 30  # SAML_CONNECTIONS_REFRESH=1: live after about a second
            while time.monotonic() < deadline:
                answer = browser.get(
                    sign_in_url(base, "b.simon@tenant2.example"), headers={"accept": "text/html"}
                )
                if answer.status_code != 400:
                    break
                time.sleep(0.2)
            assert answer.status_code == 302, answer.text
            login(browser, sign_in_url(base, "b.simon@tenant2.example"), "b.simon@tenant2.example")
            who = seen(browser, f"{base}/whoami", mode)
            assert (who["user"], who["tenant"]) == ("b.simon@tenant2.example", "t-2")
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]
