"""Secrets never shown (issue 12, item 7): secrecy is marked on each ``Settings`` field.

A walk over every field checks the mark against the field's name and the worst content it
can hold (a sample per field, so a new field without one fails here). The setup page is then
fetched over real HTTP as an admin, through both adapters, with every secret setting set to a
recognisable value: none of them appears. Error messages that quote a URL hide its password.
"""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from typing import Any

import pytest

from saml_middleware import SAMLMiddleware, SAMLWSGIMiddleware, Settings
from saml_middleware.devidp import DevIdP, generate_keypair
from saml_middleware.errors import ConfigError
from saml_middleware.gate.metadata_refresh import load_idp
from saml_middleware.masking import redact, secrecy
from saml_middleware.ops.setup_page import masked_settings
from saml_middleware.protocol.metadata import idp_from_metadata
from saml_middleware.stores import MemoryReplayCache
from saml_middleware.users import AssertionDirectory, directory_from_setting

from ..support.harness import APP, Browser, Clock, Seen, asgi_app, wsgi_app
from ..support.redisserver import free_port

SP_KEY, SP_CERT = generate_keypair("sp now")
NEXT_KEY, NEXT_CERT = generate_keypair("sp next")
ADMIN = "b.simon@contoso.com"
#: what must never appear wherever settings are shown
NEVER_SHOWN = [
    "SECRET-KEY-never-shown-0001",
    "SECRET-KEY-never-shown-0002",
    "METRICS-TOKEN-never-shown",
    "store-pw-1",
    "sql-pw-1",
    "meta-pw-1",
    "metadata-token-1",
    "base-pw-1",
    "sso-sig-1",
    "slo-auth-1",
    "pg-pass-8f2",
    # the middle line of each private key's PEM body
    SP_KEY.splitlines()[len(SP_KEY.splitlines()) // 2],
    NEXT_KEY.splitlines()[len(NEXT_KEY.splitlines()) // 2],
]

#: the worst a deployment could put in each setting
SAMPLE: dict[str, Any] = {
    "base_url": "https://ops:base-pw-1@app.example.com",
    "secret_key": ("SECRET-KEY-never-shown-0001", "SECRET-KEY-never-shown-0002"),
    "path_prefix": "/saml",
    "sp_entity_id": "https://app.example.com/saml/metadata",
    "acs_path": "/saml/acs",
    "idp_metadata_url": "https://meta:meta-pw-1@idp.example/md.xml?appid=42&access_token=metadata-token-1",
    "idp_metadata": "<EntityDescriptor/>",
    "idp_metadata_file": "/etc/app/federationmetadata.xml",
    "idp_sso_url": "https://idp.example/sso?sig=sso-sig-1",
    "idp_slo_url": "https://idp.example/slo?auth=slo-auth-1",
    "idp_entity_id": "https://idp.example/entity",
    "idp_cert": (SP_CERT,),
    "idp_metadata_cert": (SP_CERT,),
    "idp_metadata_refresh": 86400,
    "sp_key": SP_KEY,
    "sp_cert": SP_CERT,
    "sp_key_next": NEXT_KEY,
    "sp_cert_next": NEXT_CERT,
    "email_attribute": "email",
    "users": "sql:postgresql://app:sql-pw-1@db/app",
    "user_query": "SELECT email FROM users WHERE email_key = :email",
    "user_id_attribute": "object_id",
    "allowed_domains": ("contoso.com",),
    "attribute_map": {"team": "http://schemas.example/team"},
    "allow_idp_initiated": False,
    "default_redirect": "/",
    "force_authn": False,
    "allow_sha1": False,
    "allow_missing_authn_statement": False,
    "require_encryption": False,
    "session_max_age": 28800,
    "session_idle_timeout": 3600,
    "session_store": "server",
    "session_claims": ("roles", "object_id"),
    "session_overflow": "server",
    "store_url": "redis://cache-user:store-pw-1@cache:6379/0",
    "public_paths": ("/static",),
    "clock_skew": 180,
    "response_max_age": 300,
    "max_body": 262144,
    "enabled": True,
    "admin_emails": (ADMIN,),
    "metrics_token": "METRICS-TOKEN-never-shown",
    "header_user": "X-Remote-User",
    "header_email": "X-Remote-Email",
    "header_name": "X-Remote-Name",
    "header_attributes": ("team",),
    "jwt": "hs256",
    "jwt_secret": "JWT-SECRET-never-shown-0123456789abcdef",
    "jwt_audience": "https://reports.internal",
    "jwt_ttl": 60,
    "header_groups": ("rules",),
    "connections": "postgresql://saml:pg-pass-8f2@db.internal/connections",
    "connection_routing": ("host", "domain"),
    "connections_refresh": 5,
    "setup_link_ttl": 3600,
    "setup_allow_private_metadata": False,
    "allowed_groups": ("Finance-Admins",),
    "allowed_roles": ("Admin",),
    "access_rules": "/etc/app/access.toml",
    "authn_request_binding": "post",
}
_SECRET_NAME = re.compile(r"(^|_)(key|token|secret|password|passwd|credentials?)(_|$)")
_URL_CREDENTIAL = re.compile(r"://[^/@\s]*:[^/@\s]+@|[?&][^=&]*(token|sig|auth|pass|key|secret)[^=&]*=", re.I)


def test_every_field_holding_a_secret_is_marked_on_the_field() -> None:
    names = {f.name for f in fields(Settings)}
    assert names == set(SAMPLE), "give every new setting its worst sample above"
    for f in fields(Settings):
        content = "\n".join(SAMPLE[f.name]) if isinstance(SAMPLE[f.name], tuple) else str(SAMPLE[f.name])
        if _SECRET_NAME.search(f.name) or "PRIVATE KEY" in content:
            assert secrecy(f) == "value", f.name  # key material, tokens, passwords: never shown
        elif _URL_CREDENTIAL.search(content):
            assert secrecy(f) in ("url", "value"), f.name  # a URL with credentials: masked
    marked = {f.name: secrecy(f) for f in fields(Settings) if secrecy(f)}
    assert {n for n, k in marked.items() if k == "value"} == {
        "secret_key",
        "sp_key",
        "sp_key_next",
        "metrics_token",
        "jwt_secret",
    }


def test_masked_settings_show_no_secret_value() -> None:
    sample = {k: v for k, v in SAMPLE.items() if k not in ("idp_metadata", "idp_metadata_file")}
    shown = dict(masked_settings(Settings(**sample)))
    text = "\n".join(shown.values())
    assert [s for s in NEVER_SHOWN if s in text] == []
    assert shown["SAML_SP_KEY_NEXT"] == "*** (1 set)" and shown["SAML_SECRET_KEY"] == "*** (2 set)"
    assert shown["SAML_STORE_URL"] == "redis://cache-user:***@cache:6379/0"
    assert shown["SAML_USERS"] == "sql:postgresql://app:***@db/app"
    assert shown["SAML_IDP_METADATA_URL"] == "https://meta:***@idp.example/md.xml?appid=42&access_token=***"
    assert shown["SAML_BASE_URL"] == "https://ops:***@app.example.com"


def test_the_repr_of_settings_shows_no_secret_value() -> None:
    """What a traceback with local variables (Sentry, pytest --showlocals) or a debug print shows."""
    sample = {k: v for k, v in SAMPLE.items() if k not in ("idp_metadata", "idp_metadata_file")}
    text = repr(Settings(**sample))
    assert text.startswith("Settings(") and "sp_key_next='*** (1 set)'" in text
    assert [s for s in NEVER_SHOWN if s in text] == []
    assert "store_url='redis://cache-user:***@cache:6379/0'" in text


def test_setup_page_over_http_shows_no_secret(
    adapter: str, clock: Clock, idp: DevIdP, browser_factory
) -> None:
    settings = Settings(
        base_url=APP,
        secret_key=SAMPLE["secret_key"],
        idp_metadata_url=SAMPLE["idp_metadata_url"],
        sp_key=SP_KEY,
        sp_cert=SP_CERT,
        sp_key_next=NEXT_KEY,
        sp_cert_next=NEXT_CERT,
        users=SAMPLE["users"],
        user_query=SAMPLE["user_query"],
        store_url=SAMPLE["store_url"],
        metrics_token=SAMPLE["metrics_token"],
        admin_emails=(ADMIN,),
    )
    # the IdP as the metadata URL would give it, the directory and replay cache handed in:
    # nothing is fetched and no database or Redis is opened, the settings still hold their secrets
    options: dict[str, Any] = {
        "clock": clock,
        "idp": idp_from_metadata(settings, idp.metadata_xml()),
        "directory": AssertionDirectory(),
        "replay": MemoryReplayCache(clock=clock),
    }
    seen = Seen()
    app: Any = (
        SAMLMiddleware(asgi_app(seen), settings=settings, **options)
        if adapter == "asgi"
        else SAMLWSGIMiddleware(wsgi_app(seen), settings=settings, **options)
    )
    browser: Browser = browser_factory(app)
    assert browser.login(email=ADMIN).status_code == 303
    page = browser.get("/saml/setup")
    assert page.status_code == 200 and "Effective settings" in page.text
    assert [s for s in NEVER_SHOWN if s in page.text] == []
    assert "PRIVATE KEY" not in page.text
    assert "SAML_SP_KEY_NEXT</th><td><code>*** (1 set)" in page.text
    assert "SAML_STORE_URL</th><td><code>redis://cache-user:***@cache:6379/0" in page.text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAML_USERS", "postgresql://app:sql-pw-1@db/app"),  # "sql:" forgotten
        ("SAML_STORE_URL", "memcached://cache-user:store-pw-1@cache"),
        ("SAML_STORE_URL", "redis://:store-pw-1@cache:port/0"),
        ("SAML_BASE_URL", "ftp://ops:base-pw-1@app.example.com"),
    ],
)
def test_configuration_errors_never_echo_a_password(idp: DevIdP, tmp_path, variable: str, value: str) -> None:
    metadata = tmp_path / "md.xml"
    metadata.write_bytes(idp.metadata_xml())
    env = {
        "SAML_BASE_URL": APP,
        "SAML_SECRET_KEY": "SECRET-KEY-never-shown-0001",
        "SAML_IDP_METADATA_FILE": str(metadata),
        variable: value,
    }
    with pytest.raises(ConfigError) as info:
        SAMLMiddleware(asgi_app(Seen()), settings=Settings.from_env(env))
    message = str(info.value)
    assert variable in message and "***" in message
    assert [s for s in NEVER_SHOWN if s in message] == []


def test_directory_and_metadata_errors_never_echo_a_password() -> None:
    with pytest.raises(ConfigError) as bad_sql:
        directory_from_setting("sql:nosuchdriver://app:sql-pw-1@db/app", user_query="SELECT 1 WHERE :email")
    with pytest.raises(ConfigError) as bad_kind:
        directory_from_setting("postgresql://app:sql-pw-1@db/app")
    url = f"http://meta:meta-pw-1@127.0.0.1:{free_port()}/md.xml?access_token=metadata-token-1"
    with pytest.raises(ConfigError) as unreachable:
        load_idp(Settings(base_url=APP, secret_key=SAMPLE["secret_key"], idp_metadata_url=url))
    for info in (bad_sql, bad_kind, unreachable):
        message = str(info.value)
        assert [s for s in NEVER_SHOWN if s in message] == [], message
    assert "SAML_IDP_METADATA_URL: cannot load" in str(unreachable.value)


def test_redact_masks_every_credential_in_a_message() -> None:
    assert redact("redis://:p@ss@cache:6379/0") == "redis://:***@cache:6379/0"  # the last @ ends it
    assert redact("rediss://token-only@cache") == "rediss://***@cache"
    assert redact("failed: 'https://u:pw@h/x?a=1&Password=pw2&sig=s' (404)") == (
        "failed: 'https://u:***@h/x?a=1&Password=***&sig=***' (404)"
    )
    assert redact("memory://") == "memory://" and redact("https://h/x?appid=42") == "https://h/x?appid=42"


def test_a_key_pasted_without_its_pem_lines_is_never_echoed(idp: DevIdP) -> None:
    body = "".join(SP_KEY.splitlines()[1:-1])  # the base64 body alone, as copied by mistake
    base = {"base_url": APP, "secret_key": SAMPLE["secret_key"], "idp_metadata": idp.metadata_xml().decode()}
    with pytest.raises(ConfigError) as info:
        Settings(**base, sp_key=body, sp_cert=SP_CERT)
    message = str(info.value)
    assert "SAML_SP_KEY" in message and body[:40] not in message and body[-40:] not in message
    with pytest.raises(ConfigError, match=re.escape("'/etc/app/missing-sp.key' is neither PEM text")):
        Settings(**base, sp_key="/etc/app/missing-sp.key", sp_cert=SP_CERT)


def test_proxy_mode_logs_an_unreachable_upstream_without_its_password(
    settings_factory: Any, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from saml_middleware.serve.proxy import proxy_app

    from ..support.asgiclient import asgi_client

    upstream = f"http://gateway:up-pw-1@127.0.0.1:{free_port()}"
    app = proxy_app(upstream, settings_factory(), clock=clock)
    caplog.set_level(logging.WARNING, logger="saml_middleware")
    with asgi_client(app, APP) as client:
        response = client.get("/public/x")
    assert response.status_code == 502 and "up-pw-1" not in response.text
    logged = [r.getMessage() for r in caplog.records if "upstream" in r.getMessage()]
    assert logged and all("up-pw-1" not in m and "gateway:***@127.0.0.1" in m for m in logged)
