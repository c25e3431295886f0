"""`saml-middleware check` and the access rules: the rules as understood, which rule decides, and
a broken rules file listed problem by problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from saml_middleware.cli import main

RULES = """
[[rule]]
name = "admins"
path = "/admin"
roles = ["Admin"]
max_auth_age = 900

[[rule]]
path = "/reports/**"
methods = ["POST"]
groups = ["Finance-Admins"]

[[rule]]
path = "/"
domains = ["contoso.com"]
"""


@pytest.fixture
def rules(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = env / "access.toml"
    path.write_text(RULES)
    monkeypatch.setenv("SAML_ACCESS_RULES", str(path))
    return path


def test_check_prints_the_rules_as_understood(rules: Path, capsys) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert f"Access rules ({rules}), first match wins:" in out
    assert "1. /admin [prefix, any method]: needs role Admin; max_auth_age 900s (line 2)" in out
    assert "2. /reports/** [glob, POST]: needs group Finance-Admins (line 8)" in out
    assert "3. / [prefix, any method]: needs an e-mail address at contoso.com (line 13)" in out
    assert "Where no rule matches (SAML_ALLOWED_GROUPS/SAML_ALLOWED_ROLES): anyone signed in" in out


def test_check_says_which_rule_decides_for_a_user(rules: Path, capsys) -> None:
    args = ["check", "--user", "b.simon@contoso.com", "--groups", "Finance-Admins", "--path", "/reports/q1"]
    assert main([*args, "--method", "post"]) == 0
    out = capsys.readouterr().out
    assert "POST /reports/q1 for b.simon@contoso.com" in out
    assert "path /reports/q1: rule 2 (/reports/**) decides: may pass" in out and "=> allowed" in out
    assert main(["check", "--user", "b.simon@contoso.com", "--path", "/x/%2e%2e/ADMIN"]) == 0
    out = capsys.readouterr().out
    assert "GET /ADMIN for b.simon@contoso.com" in out
    assert "admins decides: refused (forbidden): needs role Admin" in out and "=> refused: forbidden" in out
    assert (
        main(
            ["check", "--user", "m@contoso.com", "--roles", "Admin", "--path", "/admin", "--auth-age", "901"]
        )
        == 0
    )
    assert "=> refused: step_up_required" in capsys.readouterr().out


def test_check_without_rules_says_everyone_passes(env: Path, capsys) -> None:
    assert main(["check"]) == 0
    assert "Access: every signed-in user reaches every path" in capsys.readouterr().out


def test_check_lists_every_problem_of_a_broken_rules_file(rules: Path, capsys) -> None:
    rules.write_text('[[rule]]\npath = "admin"\n\n[[rule]]\npath = "/x"\nmethods = "GET"\nanyone = true\n')
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "SAML_ACCESS_RULES: rule 1 (line 1): path 'admin' must start with '/'" in err
    assert "SAML_ACCESS_RULES: rule 1 (line 1): names nobody who may pass" in err
    assert "SAML_ACCESS_RULES: rule 2 (line 4): methods must be a list of non-empty strings" in err
