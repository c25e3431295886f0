"""Live interop with SimpleSAMLphp 1.19 (Debian ``simplesamlphp``) as the IdP, over real HTTP.

The fixture writes a SimpleSAMLphp configuration into a temporary directory (``config.php``,
``authsources.php`` with an ``exampleauth:UserPass`` source, the hosted IdP with its own key pair,
our SPs as ``saml20-sp-remote``) and serves ``/usr/share/simplesamlphp/www`` with PHP's built-in
server on a free loopback port (``SIMPLESAMLPHP_CONFIG_DIR`` points it at the temporary config).
Two wrapped apps (``saml-middleware run``) take its metadata from ``/saml2/idp/metadata.php``: one
with signed AuthnRequests (SimpleSAMLphp demands them: ``validate.authnrequest``), one whose
assertions SimpleSAMLphp encrypts to the SP certificate (``assertion.encryption``). httpx plays
the browser through the real login form, both logout directions included. A second instance
lists HTTP-POST only in its metadata (``SingleSignOnServiceBinding`` / ``SingleLogoutServiceBinding``):
the app then sends its requests, signed inside the XML, by HTTP-POST.

``needs("simplesamlphp")``: a missing SimpleSAMLphp/PHP, or one that does not start, fails under ``CI=true``;
elsewhere it skips (tests/support/needs.py).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from saml_middleware.devidp import auto_post_form_fields, generate_keypair

from ..support.needs import SIMPLESAMLPHP, unavailable
from ..support.servers import CLI, free_port, server, sp_env

pytestmark = pytest.mark.needs("simplesamlphp")

USERS = {"student": ("studentpass", "student@example.org"), "employee": ("employeepass", "emp@example.org")}
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def php(value: Any) -> str:
    """A Python value as a PHP literal (str, bool, int, None, list, dict with str or int keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{php(k)} => {php(v)}" for k, v in value.items()) + "]"
    raise TypeError(type(value))


def _cert_data(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))


@dataclass
class SP:
    """One wrapped app as SimpleSAMLphp knows it."""

    base: str
    port: int
    key: Path
    cert: Path
    encrypt: bool


@dataclass
class SimpleSAMLphp:
    base: str
    metadata_url: str
    sps: dict[str, SP]
    log: Path


def _write_config(
    tmp: Path,
    base: str,
    idp_key: str,
    idp_cert: str,
    sps: dict[str, SP],
    cert_pems: dict[str, str],
    hosted_extra: dict[str, Any] | None = None,
) -> Path:
    config = tmp / "config"
    (config / "metadata").mkdir(parents=True)
    for name in ("temp", "log", "data", "sessions"):
        (tmp / name).mkdir()
    (tmp / "idp.key").write_text(idp_key)
    (tmp / "idp.crt").write_text(idp_cert)
    settings = {
        "baseurlpath": base + "/",
        "certdir": str(tmp) + "/",
        "loggingdir": str(tmp / "log") + "/",
        "datadir": str(tmp / "data") + "/",
        "tempdir": str(tmp / "temp"),
        "metadatadir": str(config / "metadata") + "/",
        "attributenamemapdir": "/etc/simplesamlphp/attributemap/",
        "secretsalt": "interop-test-salt-0123456789",
        "auth.adminpassword": "interop-admin-0123456789",
        "technicalcontact_email": "na@example.org",
        "timezone": "UTC",
        "enable.saml20-idp": True,
        "module.enable": {"exampleauth": True, "core": True, "saml": True, "admin": True},
        "store.type": "phpsession",
        "session.phpsession.savepath": str(tmp / "sessions"),
        "session.cookie.secure": False,
        "session.cookie.samesite": None,
        "logging.handler": "file",
        "logging.logfile": "simplesamlphp.log",
        "logging.level": 7,  # LOG_DEBUG
        "showerrors": True,
        "errorreporting": False,
        "admin.checkforupdates": False,
        "trusted.url.domains": [urlsplit(sp.base).netloc for sp in sps.values()],  # host:port
        "language.available": ["en"],
        "language.default": "en",
    }
    (config / "config.php").write_text(f"<?php\n$config = {php(settings)};\n")
    users = {
        f"{user}:{password}": {"uid": [user], "mail": [mail], "givenName": [user.title()]}
        for user, (password, mail) in USERS.items()
    }
    sources = {"admin": ["core:AdminPassword"], "example-userpass": {0: "exampleauth:UserPass", **users}}
    (config / "authsources.php").write_text(f"<?php\n$config = {php(sources)};\n")
    hosted = {
        "host": "__DEFAULT__",
        "privatekey": str(tmp / "idp.key"),
        "certificate": str(tmp / "idp.crt"),
        "auth": "example-userpass",
        "saml20.sign.response": True,
        "saml20.sign.assertion": True,
        "sign.logout": True,
        "NameIDFormat": EMAIL_FORMAT,
        "simplesaml.nameidattribute": "mail",
        "signature.algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        **(hosted_extra or {}),
    }
    idp_entity = base + "/saml2/idp/metadata.php"
    (config / "metadata" / "saml20-idp-hosted.php").write_text(
        f"<?php\n$metadata[{php(idp_entity)}] = {php(hosted)};\n"
    )
    remote = "<?php\n"
    for name, sp in sps.items():
        entry = {
            "AssertionConsumerService": [
                {
                    "Binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                    "Location": sp.base + "/saml/acs",
                }
            ],
            "SingleLogoutService": [
                {
                    "Binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                    "Location": sp.base + "/saml/sls",
                }
            ],
            "certData": _cert_data(cert_pems[name]),
            "validate.authnrequest": True,
            "validate.logout": True,
            "sign.logout": True,
            "assertion.encryption": sp.encrypt,
            "NameIDFormat": EMAIL_FORMAT,
            "simplesaml.nameidattribute": "mail",
        }
        remote += f"$metadata[{php(sp.base + '/saml/metadata')}] = {php(entry)};\n"
    (config / "metadata" / "saml20-sp-remote.php").write_text(remote)
    return config


@contextmanager
def _simplesamlphp(
    tmp: Path, sites: tuple[tuple[str, str, bool], ...], hosted_extra: dict[str, Any] | None = None
) -> Iterator[SimpleSAMLphp]:
    """SimpleSAMLphp under ``php -S`` on a free port, configured for ``sites`` (name, host, encrypt)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sps: dict[str, SP] = {}
    pems: dict[str, str] = {}
    for name, host, encrypt in sites:
        sp_port = free_port()
        key, cert = generate_keypair(f"interop SP {name}")
        (tmp / f"{name}.key").write_text(key)
        (tmp / f"{name}.crt").write_text(cert)
        pems[name] = cert
        sps[name] = SP(f"http://{host}:{sp_port}", sp_port, tmp / f"{name}.key", tmp / f"{name}.crt", encrypt)
    idp_key, idp_cert = generate_keypair("interop SimpleSAMLphp IdP")
    config = _write_config(tmp, base, idp_key, idp_cert, sps, pems, hosted_extra)
    env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(config)}
    args = ["php", "-S", f"127.0.0.1:{port}", "-t", str(SIMPLESAMLPHP / "www")]
    metadata_url = base + "/saml2/idp/metadata.php"
    with ExitStack() as stack:
        try:
            stack.enter_context(server(args, metadata_url, tmp / "php-server.log", env=env, cwd=tmp))
            check = httpx.get(metadata_url, timeout=10)
            if check.status_code != 200 or b"IDPSSODescriptor" not in check.content:
                raise AssertionError(f"its metadata answered {check.status_code}:\n{check.text[:2000]}")
        except AssertionError as exc:
            stack.close()
            unavailable(f"SimpleSAMLphp did not start: {exc}")
        yield SimpleSAMLphp(base, metadata_url, sps, tmp / "log" / "simplesamlphp.log")


@pytest.fixture(scope="module")
def simplesamlphp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSAMLphp]:
    """SimpleSAMLphp for two SPs (plain and encrypted)."""
    # Two sites, as browsers keep cookies per host, not per port: each app has its own session cookie.
    sites = (("signed", "127.0.0.1", False), ("encrypted", "localhost", True))
    with _simplesamlphp(tmp_path_factory.mktemp("simplesamlphp"), sites) as running:
        yield running


@pytest.fixture(scope="module")
def apps(simplesamlphp: SimpleSAMLphp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SP]]:
    """Both wrapped apps (``saml-middleware run``), their IdP from SimpleSAMLphp's metadata URL."""
    tmp = tmp_path_factory.mktemp("ssp-apps")
    with ExitStack() as stack:
        for name, sp in simplesamlphp.sps.items():
            extra = {"SAML_REQUIRE_ENCRYPTION": "true"} if sp.encrypt else {}
            env = sp_env(
                sp.base,
                simplesamlphp.metadata_url,
                SAML_SP_KEY=str(sp.key),
                SAML_SP_CERT=str(sp.cert),
                **extra,
            )
            args = [*CLI, "run", "tests.support.dropin_apps:asgi_app", "--port", str(sp.port)]
            stack.enter_context(server(args, f"{sp.base}/saml/health", tmp / f"{name}.log", env=env))
        yield simplesamlphp.sps


def _follow(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow redirects by hand (GET), as a browser does."""
    for _ in range(10):
        if response.status_code not in (301, 302, 303, 307):
            return response
        response = browser.get(urljoin(str(response.url), response.headers["location"]))
    raise AssertionError(f"redirect loop at {response.url}")


def _saml_response(fields: dict[str, str]) -> bytes:
    return base64.b64decode(fields["SAMLResponse"])


def _login(
    browser: httpx.Client, url: str, user: str = "student", *, sso: bool = False
) -> tuple[httpx.Response, bytes]:
    """From a protected ``url`` through SimpleSAMLphp's login form (skipped with ``sso``: the IdP
    session is reused); the ACS's answer and the Response XML."""
    to_idp = browser.get(url, headers={"accept": "text/html"})
    assert to_idp.status_code == 302, to_idp.text
    location = to_idp.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] and query["Signature"]
    form_page = _follow(browser, browser.get(location))
    if sso:
        return _post_to_acs(browser, form_page)
    assert form_page.status_code == 200 and "/module.php/core/loginuserpass.php" in str(form_page.url)
    action, fields = auto_post_form_fields(form_page.text)
    assert "AuthState" in fields, form_page.text
    password = USERS[user][0]
    posted = browser.post(
        urljoin(str(form_page.url), action), data={**fields, "username": user, "password": password}
    )
    return _post_to_acs(browser, posted)


def _post_to_acs(browser: httpx.Client, auto_post: httpx.Response) -> tuple[httpx.Response, bytes]:
    """SimpleSAMLphp's auto-POST page, submitted to our ACS."""
    auto_post = _follow(browser, auto_post)
    assert auto_post.status_code == 200, auto_post.text
    action, fields = auto_post_form_fields(auto_post.text)
    assert action.endswith("/saml/acs"), auto_post.text
    landed = browser.post(action, data=fields)
    assert landed.status_code == 303, landed.text
    return landed, _saml_response(fields)


def _whoami(browser: httpx.Client, sp: SP) -> httpx.Response:
    return browser.get(sp.base + "/whoami", headers={"accept": "application/json"})


def test_sp_initiated_login_with_a_signed_authn_request(apps: dict[str, SP]) -> None:
    sp = apps["signed"]
    with httpx.Client() as browser:
        assert _whoami(browser, sp).status_code == 401
        landed, xml = _login(browser, sp.base + "/whoami?x=1")
        assert landed.headers["location"] == "/whoami?x=1"
        assert b"EncryptedAssertion" not in xml and b"student@example.org" in xml
        page = _whoami(browser, sp)
        assert page.status_code == 200, page.text
        assert page.json()["user"] == "student@example.org"


def test_simplesamlphp_refuses_an_unsigned_authn_request(apps: dict[str, SP]) -> None:
    """``validate.authnrequest`` is in force: the signature SimpleSAMLphp accepted above is checked."""
    sp = apps["signed"]
    with httpx.Client() as browser:
        location = browser.get(sp.base + "/", headers={"accept": "text/html"}).headers["location"]
        parts = urlsplit(location)
        unsigned = "&".join(p for p in parts.query.split("&") if not p.startswith(("SigAlg=", "Signature=")))
        refused = _follow(browser, browser.get(f"{parts.scheme}://{parts.netloc}{parts.path}?{unsigned}"))
        # SimpleSAMLphp's error page (status 200 under php -S), never its login form
        assert "loginuserpass" not in str(refused.url)
        assert "no signature found on message" in refused.text, refused.text


def test_encrypted_assertion_is_decrypted(apps: dict[str, SP]) -> None:
    sp = apps["encrypted"]
    with httpx.Client() as browser:
        _, xml = _login(browser, sp.base + "/whoami", user="employee")
        assert b"EncryptedAssertion" in xml and b"emp@example.org" not in xml
        assert b"<saml:Assertion" not in xml
        page = _whoami(browser, sp)
        assert page.status_code == 200 and page.json()["user"] == "emp@example.org"


def _signed_out(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    final = _follow(browser, response)
    assert final.status_code == 200 and "You are signed out" in final.text, (final.url, final.text)
    return final


def test_sp_initiated_logout_ends_both_sessions(apps: dict[str, SP], simplesamlphp: SimpleSAMLphp) -> None:
    sp = apps["signed"]
    with httpx.Client() as browser:
        _login(browser, sp.base + "/")
        out = browser.post(sp.base + "/saml/logout")
        assert out.status_code == 303
        to_idp = urlsplit(out.headers["location"])
        assert to_idp.geturl().startswith(simplesamlphp.base + "/saml2/idp/SingleLogoutService.php?")
        assert {"SAMLRequest", "RelayState", "SigAlg", "Signature"} <= parse_qs(to_idp.query).keys()
        final = _signed_out(browser, out)  # SimpleSAMLphp's signed LogoutResponse, checked at /saml/sls
        assert final.url.path == "/saml/sls"
        assert _whoami(browser, sp).status_code == 401
        # the IdP session ended too: signing in again asks for the password
        again = _follow(browser, browser.get(sp.base + "/", headers={"accept": "text/html"}))
        assert "/module.php/core/loginuserpass.php" in str(again.url)
    log = simplesamlphp.log.read_text()
    assert f"Received SAML 2.0 LogoutRequest from: '{sp.base}/saml/metadata'" in log


def test_idp_initiated_logout_ends_every_sp_session(
    apps: dict[str, SP], simplesamlphp: SimpleSAMLphp
) -> None:
    """``/saml2/idp/initSLO.php`` logs the IdP session out of every SP, one LogoutRequest each."""
    signed, encrypted = apps["signed"], apps["encrypted"]
    with httpx.Client() as browser:
        _login(browser, signed.base + "/")
        _login(browser, encrypted.base + "/", sso=True)  # single sign-on: no second password
        assert _whoami(browser, signed).status_code == _whoami(browser, encrypted).status_code == 200
        start = browser.get(
            simplesamlphp.base + "/saml2/idp/initSLO.php", params={"RelayState": signed.base + "/saml/logout"}
        )
        final = _signed_out(browser, start)
        assert str(final.url) == signed.base + "/saml/logout"
        assert _whoami(browser, signed).status_code == 401
        assert _whoami(browser, encrypted).status_code == 401
    log = simplesamlphp.log.read_text()
    for sp in (signed, encrypted):  # our signed LogoutResponses were accepted
        assert f"Logged out of 'saml:{sp.base}/saml/metadata'" in log


# -- an IdP whose metadata lists HTTP-POST only (as Google Workspace's and OneLogin's) ----------
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def post_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSAMLphp]:
    """SimpleSAMLphp whose metadata offers HTTP-POST only, for SSO and SLO, and the app reading it."""
    tmp = tmp_path_factory.mktemp("simplesamlphp-post")
    hosted = {"SingleSignOnServiceBinding": [POST_BINDING], "SingleLogoutServiceBinding": [POST_BINDING]}
    with _simplesamlphp(tmp, (("post", "127.0.0.1", False),), hosted) as ssp:
        metadata = httpx.get(ssp.metadata_url).text
        assert POST_BINDING in metadata and "HTTP-Redirect" not in metadata, metadata
        sp = ssp.sps["post"]
        env = sp_env(sp.base, ssp.metadata_url, SAML_SP_KEY=str(sp.key), SAML_SP_CERT=str(sp.cert))
        args = [*CLI, "run", "tests.support.dropin_apps:asgi_app", "--port", str(sp.port)]
        with server(args, f"{sp.base}/saml/health", tmp / "app.log", env=env):
            yield ssp


def test_post_only_idp_login_with_a_signed_post_request(post_only: SimpleSAMLphp) -> None:
    sp = post_only.sps["post"]
    with httpx.Client() as browser:
        page = browser.get(sp.base + "/whoami?x=1", headers=HTML)
        assert page.status_code == 200 and "content-security-policy" in page.headers
        action, fields = auto_post_form_fields(page.text)
        assert action == post_only.base + "/saml2/idp/SSOService.php"
        assert b"<ds:Signature" in base64.b64decode(fields["SAMLRequest"])
        # validate.authnrequest: SimpleSAMLphp checks the XML signature before showing its form
        form_page = _follow(browser, browser.post(action, data=fields))
        assert "/module.php/core/loginuserpass.php" in str(form_page.url), form_page.text
        login_action, login_fields = auto_post_form_fields(form_page.text)
        posted = browser.post(
            urljoin(str(form_page.url), login_action),
            data={**login_fields, "username": "student", "password": USERS["student"][0]},
        )
        landed, _ = _post_to_acs(browser, posted)
        assert landed.headers["location"] == "/whoami?x=1"
        assert _whoami(browser, sp).json()["user"] == "student@example.org"
        # SP-initiated logout: the LogoutRequest posted too, SimpleSAMLphp's answer checked at /saml/sls
        out = browser.post(sp.base + "/saml/logout")
        assert out.status_code == 200, out.text
        slo, logout_fields = auto_post_form_fields(out.text)
        assert slo == post_only.base + "/saml2/idp/SingleLogoutService.php"
        final = _signed_out(browser, browser.post(slo, data=logout_fields))
        assert final.url.path == "/saml/sls"
        assert _whoami(browser, sp).status_code == 401
    log = post_only.log.read_text()
    assert f"Received SAML 2.0 LogoutRequest from: '{sp.base}/saml/metadata'" in log


def test_post_only_idp_refuses_the_request_unsigned(post_only: SimpleSAMLphp) -> None:
    """The signature SimpleSAMLphp accepted above is really checked: without it, no login form."""
    sp = post_only.sps["post"]
    with httpx.Client() as browser:
        action, fields = auto_post_form_fields(browser.get(sp.base + "/", headers=HTML).text)
        xml = base64.b64decode(fields["SAMLRequest"]).decode()
        unsigned = (
            xml[: xml.index("<ds:Signature")] + xml[xml.index("</ds:Signature>") + len("</ds:Signature>") :]
        )
        forged = {**fields, "SAMLRequest": base64.b64encode(unsigned.encode()).decode()}
        refused = _follow(browser, browser.post(action, data=forged))
        assert "loginuserpass" not in str(refused.url)
        assert "no signature found on message" in refused.text, refused.text


def test_post_only_idp_initiated_logout_answered_by_post(post_only: SimpleSAMLphp) -> None:
    """Our signed LogoutResponse goes back to SimpleSAMLphp's HTTP-POST-only logout endpoint."""
    sp = post_only.sps["post"]
    with httpx.Client() as browser:
        action, fields = auto_post_form_fields(browser.get(sp.base + "/", headers=HTML).text)
        form_page = _follow(browser, browser.post(action, data=fields))
        login_action, login_fields = auto_post_form_fields(form_page.text)
        posted = browser.post(
            urljoin(str(form_page.url), login_action),
            data={**login_fields, "username": "employee", "password": USERS["employee"][0]},
        )
        _post_to_acs(browser, posted)
        assert _whoami(browser, sp).status_code == 200
        start = browser.get(
            post_only.base + "/saml2/idp/initSLO.php", params={"RelayState": sp.base + "/saml/logout"}
        )
        at_sls = _follow(browser, start)  # SimpleSAMLphp's LogoutRequest reached our SLS
        assert at_sls.status_code == 200 and at_sls.url.path == "/saml/sls", at_sls.text
        slo, answer = auto_post_form_fields(at_sls.text)
        assert slo == post_only.base + "/saml2/idp/SingleLogoutService.php"
        assert b"LogoutResponse" in base64.b64decode(answer["SAMLResponse"])  # RelayState echoed beside it
        final = _signed_out(browser, browser.post(slo, data=answer))
        assert str(final.url) == sp.base + "/saml/logout"
        assert _whoami(browser, sp).status_code == 401
    assert f"Logged out of 'saml:{sp.base}/saml/metadata'" in post_only.log.read_text()
