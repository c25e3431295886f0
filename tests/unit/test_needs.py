"""The ``needs`` marker (tests/support/needs.py): a missing real server skips a test on a
developer's machine and fails it under ``CI=true``, where a skip would hide a test that never ran."""

from __future__ import annotations

import pytest

from ..support.needs import missing, unavailable


def test_a_missing_program_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        unavailable("redis-server is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and redis-server is not installed"):
        unavailable("redis-server is not installed")


def test_a_misspelt_requirement_is_an_error_not_a_skip() -> None:
    with pytest.raises(pytest.UsageError, match=r"known are .*redis-server"):
        missing("redis")


def test_postgresql_needs_the_server_binaries_and_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    import glob

    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    assert "PostgreSQL is not installed (install it with `make system-deps`" in (missing("postgresql") or "")
