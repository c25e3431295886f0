"""``saml-middleware demo --tenants`` as a user runs it: two real servers on free ports, the
sign-in page routing Contoso and Fabrikam people to their own dev IdP tenant, the setup link
of the third company, and nothing left behind after Ctrl-C."""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saml_middleware.devidp import auto_post_form_fields

from ..support.processes import free_port, stop, wait_ready

HTML = {"accept": "text/html"}


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    base: str
    idp: str
    banner: list[str]

    def line(self, start: str) -> str:
        return next(line.strip() for line in self.banner if line.strip().startswith(start))


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    port, idp_port = free_port(), free_port()
    args = [
        "demo",
        "--tenants",
        "--port",
        str(port),
        "--idp-port",
        str(idp_port),
        "--public-host",
        "127.0.0.1",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "saml_middleware.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        banner: list[str] = []
        while not banner or "stop with Ctrl-C" not in banner[-1]:
            line = proc.stdout.readline()
            assert line, proc.communicate(timeout=10)
            banner.append(line)

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/saml/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_ready(proc, ready), proc.communicate(timeout=10)  # type: ignore[arg-type]
        yield Demo(proc, base, f"http://127.0.0.1:{idp_port}", banner)
    finally:
        if proc.poll() is None:
            stop(proc)  # type: ignore[arg-type]
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def _sign_in(browser: httpx.Client, demo: Demo, email: str, tenant: int) -> httpx.Response:
    """From ``/`` through the sign-in page and the tenant's dev IdP; the home page afterwards."""
    home = browser.get(f"{demo.base}/", headers=HTML)
    assert home.status_code == 302 and home.headers["location"] == f"{demo.base}/saml/login?next=/"
    page = browser.get(home.headers["location"], headers=HTML)
    assert page.status_code == 200 and "<h1>Sign in with your work e-mail</h1>" in page.text
    assert "name=email type=email" in page.text and 'action="/saml/login"' in page.text
    to_idp = browser.get(f"{demo.base}/saml/login", params={"email": email, "next": "/"}, headers=HTML)
    assert to_idp.status_code == 302
    location = urlsplit(to_idp.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == demo.idp
    assert location.path.startswith(f"/tenant{tenant}/")  # that company's tenant, and no other
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["login_hint"] == email
    picked = browser.post(
        f"{demo.idp}{location.path}/login",
        data={"SAMLRequest": query["SAMLRequest"], "RelayState": query["RelayState"], "email": email},
    )
    assert picked.status_code == 200, picked.text
    action, fields = auto_post_form_fields(picked.text)
    landed = browser.post(action, data=fields)
    assert landed.status_code == 303 and landed.headers["location"] == "/"
    return browser.get(f"{demo.base}/", headers=HTML)


def test_the_banner_names_the_page_the_companies_and_the_emails_to_try(demo: Demo) -> None:
    assert demo.banner[0].strip() == (
        f"saml-middleware demo --tenants: open {demo.base}/ and sign in with a work e-mail"
    )
    assert demo.line("Contoso (connection contoso):").endswith("b.simon@contoso.com, adele.vance@contoso.com")
    assert demo.line("Fabrikam (connection fabrikam):").endswith(
        "b.simon@fabrikam.com, adele.vance@fabrikam.com"
    )
    assert demo.line("dev IdP tenants:") == f"dev IdP tenants: {demo.idp}/"


@pytest.mark.parametrize(
    ("email", "tenant", "connection"),
    [("b.simon@contoso.com", 1, "contoso"), ("adele.vance@fabrikam.com", 2, "fabrikam")],
)
def test_each_company_signs_in_at_its_own_tenant_and_the_app_shows_it(
    demo: Demo, email: str, tenant: int, connection: str
) -> None:
    with httpx.Client() as browser:
        home = _sign_in(browser, demo, email, tenant)
        assert home.status_code == 200 and f"<strong>{email}</strong>" in home.text
        assert f"tenant <strong>{connection}</strong> (connection <code>{connection}</code>)" in home.text
        me = browser.get(f"{demo.base}/api/me").json()
        assert me["email"] == email and me["connection"] == connection and me["tenant"] == connection


def test_an_unknown_domain_and_the_company_not_set_up_get_the_page_again(demo: Demo) -> None:
    unknown = httpx.get(f"{demo.base}/saml/login?email=kim@unknown.example", headers=HTML)
    assert unknown.status_code == 400
    assert "No organisation signs in with unknown.example addresses here." in unknown.text
    northwind = httpx.get(f"{demo.base}/saml/login?email=b.simon@northwindtraders.com", headers=HTML)
    assert northwind.status_code == 403
    assert "Single sign-on for Northwind Traders is turned off." in northwind.text


def test_the_demo_admin_sees_every_connection_on_the_deployment_setup_page(demo: Demo) -> None:
    assert demo.line("deployment admin page") == (
        f"deployment admin page (sign in as b.simon@contoso.com): {demo.base}/saml/setup"
    )
    with httpx.Client() as browser:
        home = _sign_in(browser, demo, "b.simon@contoso.com", 1)
        assert 'href="/saml/setup"' in home.text
        page = browser.get(f"{demo.base}/saml/setup", headers=HTML)
        assert page.status_code == 200 and "Connections (3)" in page.text
        assert f"Reply URL: <code>{demo.base}/saml/c/fabrikam/acs</code>" in page.text
        assert "<code>northwind</code><br>Northwind Traders" in page.text and "not set up yet" in page.text
    with httpx.Client() as browser:
        _sign_in(browser, demo, "adele.vance@fabrikam.com", 2)
        assert browser.get(f"{demo.base}/saml/setup", headers=HTML).status_code == 403


def _form(page: str, action_end: str, hidden: str) -> tuple[str, dict[str, str]]:
    """The form of the setup page posting to ``.../action_end`` with hidden ``hidden``."""
    for action, inner in re.findall(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S):
        if action.endswith(action_end) and hidden in inner:
            return action, dict(re.findall(r'<input type=hidden name="(\w+)" value="([^"]*)">', inner))
    raise AssertionError(f"no form {action_end} {hidden} on the page")


def test_the_third_company_is_set_up_from_its_setup_link_as_the_banner_says(demo: Demo) -> None:
    """Last but one: it switches Northwind on (the tests before saw it off)."""
    link = demo.line(f"{demo.base}/saml/c/northwind/setup?token=")
    metadata = demo.line("its IdP: download ").removeprefix("its IdP: download ")
    with httpx.Client() as admin:
        opened = admin.get(link, headers=HTML)
        assert opened.status_code == 303
        page = admin.get(f"{demo.base}{opened.headers['location']}", headers=HTML)
        assert page.status_code == 200 and "Northwind Traders" in page.text
        assert f"{demo.base}/saml/c/northwind/acs" in page.text  # the Reply URL to paste
        xml = httpx.get(metadata)  # tenant 3's Federation Metadata XML, uploaded as the banner says
        action, fields = _form(page.text, "/idp", 'value="xml"')
        files = {"metadata_file": ("FederationMetadata.xml", xml.content, "text/xml")}
        saved = admin.post(f"{demo.base}{action}", data=fields, files=files)
        assert saved.status_code == 303, saved.text
        page = admin.get(f"{demo.base}/saml/c/northwind/setup", headers=HTML)
        test = re.search(r'href="([^"]*/setup/test\?csrf=[^"]+)"', page.text)
        assert test is not None
        to_idp = admin.get(f"{demo.base}{html.unescape(test.group(1))}", headers=HTML)
        location = urlsplit(to_idp.headers["location"])
        assert location.path.startswith("/tenant3/")
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        picked = admin.post(
            f"{demo.idp}{location.path}/login", data={**query, "email": "b.simon@northwindtraders.com"}
        )
        acs, response = auto_post_form_fields(picked.text)
        tested = admin.post(acs, data=response)
        assert tested.status_code == 200 and "Test sign-in succeeded" in tested.text
        action, fields = _form(page.text, "/enable", 'value="true"')
        assert admin.post(f"{demo.base}{action}", data=fields).status_code == 303
    deadline = time.monotonic() + 10  # live within SAML_CONNECTIONS_REFRESH (1 s in the demo)
    while httpx.get(f"{demo.base}/saml/login?email=b.simon@northwindtraders.com").status_code == 403:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with httpx.Client() as browser:  # now Northwind's people sign in like the others
        home = _sign_in(browser, demo, "b.simon@northwindtraders.com", 3)
        assert "tenant <strong>northwind</strong>" in home.text


def test_ctrl_c_stops_the_demo_and_removes_its_registry(demo: Demo) -> None:
    """Last in this module: it stops the demo."""
    registry = re.search(r"--connections sqlite:///(\S+)", "".join(demo.banner))
    assert registry is not None and Path(registry.group(1)).exists()
    demo.proc.send_signal(signal.SIGINT)
    out, err = demo.proc.communicate(timeout=20)
    assert demo.proc.returncode == 0 and "Traceback" not in err, err
    assert out.splitlines()[-1] == "saml-middleware demo: stopped"
    assert not Path(registry.group(1)).exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{demo.base}/saml/health", timeout=2)
