"""The rules file: every problem reported at once with its rule and line; patterns as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from saml_middleware.access import AccessPolicy, load_rules, match_keys, parse_rules
from saml_middleware.access.patterns import compile_pattern
from saml_middleware.errors import ConfigError
from saml_middleware.user import GROUPS_CLAIM, ROLES_CLAIM, SAMLUser

BROKEN = """
[[rule]]
path = "admin"
roles = ["Admin"]
colour = "red"

[[rule]]
path = "/reports"
methods = ["GET", "NOT A METHOD"]

[[rule]]
path = "/a/**x/b"
anyone = true
groups = ["g"]

[[rule]]
path = "/"
anyone = true
max_auth_age = -5

[[rule]]
path = "/late"
emails = ["not-an-address"]
domains = ["user@contoso.com"]
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "access.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_problem_is_listed_with_rule_number_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(_write(tmp_path, BROKEN))
    problems = info.value.problems
    expected = [
        "rule 1 (line 2): unknown key 'colour'",
        "rule 1 (line 2): path 'admin' must start with '/'",
        "rule 2 (line 7): method 'NOT A METHOD' is not an HTTP method name",
        "rule 2 (line 7): names nobody who may pass",
        "rule 3 (line 11): path '/a/**x/b' '**' must be a whole segment",
        "rule 3 (line 11): anyone = true cannot be combined",
        "rule 4 (line 16): max_auth_age must be a positive whole number",
        "rule 5 (line 21): e-mail 'not-an-address' has no '@'",
        "rule 5 (line 21): domain 'user@contoso.com' must be a domain",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert all(p.startswith("SAML_ACCESS_RULES: ") for p in problems)


def test_a_catch_all_before_other_rules_is_an_error() -> None:
    rules = [{"path": "/", "anyone": True}, {"path": "/admin", "roles": ["Admin"]}]
    with pytest.raises(ConfigError, match="rules after it never apply"):
        parse_rules({"rule": rules})
    assert len(parse_rules({"rule": rules[::-1]})) == 2


def test_unreadable_and_non_toml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_rules(_write(tmp_path, '[[rule]]\npath = "/x\n'))
    with pytest.raises(ConfigError, match="unknown top-level key 'rules'"):
        load_rules(_write(tmp_path, '[[rules]]\npath = "/x"\nanyone = true\n'))


def test_the_gate_settings_carry_the_file(tmp_path: Path, settings_factory) -> None:
    settings = settings_factory(access_rules=_write(tmp_path, '[[rule]]\npath = "/x"\n'))
    with pytest.raises(ConfigError, match="names nobody"):
        AccessPolicy.from_settings(settings)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("/admin", ["/admin", "/admin/", "/admin/x/y"], ["/administrator", "/x/admin", "/"]),
        ("/admin/", ["/admin", "/admin/x"], ["/adminx"]),
        ("/", ["/", "/anything/at/all"], []),
        (
            "/api/*/admin",
            ["/api/v1/admin", "/api/v1/admin/"],
            ["/api/admin", "/api/a/b/admin", "/api/v1/admin/x"],
        ),
        ("/api/**/export", ["/api/export", "/api/a/b/export"], ["/api/exports", "/api/a/export/x"]),
        ("/reports/**", ["/reports", "/reports/", "/reports/q1/x"], ["/reportsx"]),
        ("/files/*.pdf", ["/files/a.pdf"], ["/files/a.pdfx", "/files/d/a.pdf"]),
        ("/v?/x", ["/v1/x", "/v2/x"], ["/v10/x", "/v//x"]),
        ("/Caf%C3%A9", ["/café", "/café/menu"], ["/cafe"]),
    ],
)
def test_patterns(pattern: str, matches: list[str], misses: list[str]) -> None:
    policy = AccessPolicy(parse_rules({"rule": [{"path": pattern, "roles": ["R"]}]}))
    nobody = SAMLUser("a@b.c", "a@b.c")
    for path in matches:
        assert policy.decide("GET", path, nobody, 0.0).reason == "forbidden", path
    for path in misses:
        assert policy.decide("GET", path, nobody, 0.0).allowed, path


def test_case_is_ascii_only() -> None:
    policy = AccessPolicy(parse_rules({"rule": [{"path": "/Admin", "roles": ["R"]}]}))
    nobody = SAMLUser("a@b.c", "a@b.c")
    assert not policy.decide("GET", "/ADMIN/x", nobody, 0.0).allowed
    assert policy.decide("GET", "/\u212admin", nobody, 0.0).allowed  # KELVIN SIGN is no 'k' (nor 'a')


def test_bad_patterns() -> None:
    for text in ("relative", "/a//b", "/a/../b", "/a;b", "/a b", "/a[1]"):
        assert compile_pattern(text)[0] is None, text


def test_match_keys_adds_the_lenient_reading_only_when_it_differs() -> None:
    assert match_keys("/Admin/x") == ("/admin/x",)
    assert match_keys("/admin;jsessionid=1") == ("/admin;jsessionid=1", "/admin")
    assert match_keys("/a/../Admin") == ("/a/../admin", "/admin")
    assert match_keys("/admin/") == ("/admin/",)


def test_user_groups_and_roles_properties() -> None:
    user = SAMLUser("a@b.c", "a@b.c", attributes={GROUPS_CLAIM: ["g1"], ROLES_CLAIM: ["Admin", "Reader"]})
    assert user.groups == ("g1",) and user.roles == ("Admin", "Reader")
    other = SAMLUser("a@b.c", "a@b.c", attributes={"groups": ["x"], "roles": ["y"]})
    assert other.groups == ("x",) and other.roles == ("y",)
    assert SAMLUser("a@b.c", "a@b.c").groups == ()
