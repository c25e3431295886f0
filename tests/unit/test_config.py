"""Settings from the environment: every problem reported at once, clear names, sane defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from saml_middleware import ConfigError, SAMLMiddleware, Settings

SECRET = "a-secret-key-of-enough-length"


def _env(idp, **extra: str) -> dict[str, str]:
    return {
        "SAML_BASE_URL": "https://app.example.com/",
        "SAML_SECRET_KEY": SECRET,
        "SAML_IDP_METADATA": idp.metadata_xml().decode(),
        **extra,
    }


def test_defaults_derive_from_the_base_url(idp) -> None:
    settings = Settings.from_env(_env(idp))
    assert settings.base_url == "https://app.example.com"
    assert settings.acs_url == "https://app.example.com/saml/acs"
    assert settings.sp_entity_id == "https://app.example.com/saml/metadata"
    assert settings.session_max_age == 28800 and settings.session_idle_timeout == 3600
    assert settings.clock_skew == 180 and settings.users == "assertion" and settings.enabled is True


def test_every_problem_is_listed_in_one_error() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"SAML_SESSION_MAX_AGE": "eight hours", "SAML_ENABLED": "maybe"})
    text = "\n".join(info.value.problems)
    for expected in (
        "SAML_BASE_URL is required",
        "SAML_SECRET_KEY is required",
        "SAML_SESSION_MAX_AGE: expected a whole number",
        "SAML_ENABLED: expected true or false",
    ):
        assert expected in text
    # no IdP is not a problem: it is the "not configured yet" state (tests/test_not_configured.py)
    assert len(info.value.problems) == 4


def test_file_form_of_any_variable(idp, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    env = _env(idp)
    del env["SAML_SECRET_KEY"]
    settings = Settings.from_env({**env, "SAML_SECRET_KEY_FILE": str(secret)})
    assert settings.secret_key == (SECRET,)
    with pytest.raises(ConfigError, match="SAML_SECRET_KEY_FILE: cannot read"):
        Settings.from_env({**env, "SAML_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_secret_key_rotation_list_newest_first(idp) -> None:
    settings = Settings.from_env(_env(idp, SAML_SECRET_KEY=f"new-{SECRET}, old-{SECRET}"))
    assert settings.secret_key == (f"new-{SECRET}", f"old-{SECRET}")
    with pytest.raises(ConfigError, match="at least 16 characters"):
        Settings.from_env(_env(idp, SAML_SECRET_KEY="short"))


def test_manual_idp_needs_all_three_values(idp) -> None:
    base = {"SAML_BASE_URL": "https://app.example.com", "SAML_SECRET_KEY": SECRET}
    with pytest.raises(ConfigError) as info:
        Settings.from_env({**base, "SAML_IDP_SSO_URL": idp.sso_url})
    assert {p.split(" ")[0] for p in info.value.problems} == {"SAML_IDP_ENTITY_ID", "SAML_IDP_CERT"}


def test_idp_certificate_as_text_path_or_several(idp, idp_keys, tmp_path: Path) -> None:
    from saml_middleware.devidp import generate_keypair

    other = generate_keypair("next certificate")[1]
    path = tmp_path / "idp.pem"
    path.write_text(idp.cert_pem)
    base = {
        "SAML_BASE_URL": "https://app.example.com",
        "SAML_SECRET_KEY": SECRET,
        "SAML_IDP_SSO_URL": idp.sso_url,
        "SAML_IDP_ENTITY_ID": idp.entity_id,
    }
    by_path = Settings.from_env({**base, "SAML_IDP_CERT": str(path)})
    by_text = Settings.from_env({**base, "SAML_IDP_CERT": idp.cert_pem})
    both = Settings.from_env({**base, "SAML_IDP_CERT": idp.cert_pem + other})
    assert by_path.idp_cert == by_text.idp_cert and len(by_path.idp_cert) == 1
    assert len(both.idp_cert) == 2
    with pytest.raises(
        ConfigError, match=r"SAML_IDP_CERT: 'nope\.pem' is neither PEM text nor a readable file"
    ):
        Settings.from_env({**base, "SAML_IDP_CERT": "nope.pem"})


def test_attribute_map_and_lists_parse(idp) -> None:
    settings = Settings.from_env(
        _env(
            idp,
            SAML_ATTRIBUTE_MAP="first_name=http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            SAML_PUBLIC_PATHS="static, /health",
            SAML_ALLOWED_DOMAINS="@Contoso.com,fabrikam.com",
        )
    )
    assert settings.attribute_map == {
        "first_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
    }
    assert settings.public_paths == ("/static", "/health")
    assert settings.allowed_domains == ("contoso.com", "fabrikam.com")
    with pytest.raises(ConfigError, match="expected name=claim pairs"):
        Settings.from_env(_env(idp, SAML_ATTRIBUTE_MAP="oops"))


def test_bad_metadata_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "metadata.xml"
    path.write_text("<html>not metadata</html>")
    env = {
        "SAML_BASE_URL": "https://app.example.com",
        "SAML_SECRET_KEY": SECRET,
        "SAML_IDP_METADATA_FILE": str(path),
    }
    with pytest.raises(ConfigError, match="SAML_IDP_METADATA_FILE: root element is html"):
        SAMLMiddleware(lambda *a: None, settings=Settings.from_env(env))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"SAML_STORE_URL": "redis://:hunter2@cache:port/0"},
            "SAML_STORE_URL='redis://:\\*\\*\\*@cache:port/0'",
        ),
        ({"SAML_STORE_URL": "memcached://:hunter2@cache"}, "SAML_STORE_URL must be memory://"),
        ({"SAML_SESSION_STORE": "database"}, "SAML_SESSION_STORE must be cookie or server"),
        ({"SAML_USERS": "ldap:whatever"}, "SAML_USERS must be"),
        ({"SAML_DEFAULT_REDIRECT": "https://evil.example"}, "SAML_DEFAULT_REDIRECT must be a path"),
        ({"SAML_BASE_URL": "app.example.com"}, "SAML_BASE_URL must be an http\\(s\\) URL"),
    ],
)
def test_unusable_settings_refuse_to_start(idp, extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SAMLMiddleware(lambda *a: None, settings=Settings.from_env(_env(idp, **extra)))  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)


def test_disabled_middleware_needs_no_idp() -> None:
    """The SSO toggle: with SAML_ENABLED=false nothing is loaded, the app is served as is."""
    settings = Settings(
        base_url="https://app.example.com",
        secret_key=(SECRET,),
        idp_sso_url="https://idp/x",
        idp_entity_id="x",
        idp_cert=(),
        enabled=False,
        idp_metadata_url="https://unreachable.invalid/",
    )
    assert SAMLMiddleware(lambda *a: None, settings=settings).gate is None  # type: ignore[arg-type]


def test_strings_for_list_settings_mean_one_item(idp) -> None:
    settings = Settings(
        base_url="https://app.example.com",
        secret_key=SECRET,
        public_paths="/static",
        allowed_domains="contoso.com",
        idp_metadata=idp.metadata_xml().decode(),
    )
    assert settings.public_paths == ("/static",) and settings.allowed_domains == ("contoso.com",)
    assert settings.secret_key == (SECRET,)
