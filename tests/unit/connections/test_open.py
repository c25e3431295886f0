"""``SAML_CONNECTIONS`` names a registry: each kind opens, bad values are refused clearly, and
the ``file:`` and ``python:`` kinds behave as the operator's guide says."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from saml_middleware.config import Settings
from saml_middleware.connections import (
    Connection,
    MemoryRegistry,
    ReadOnlyRegistry,
    RefreshingLookup,
    open_lookup,
    open_registry,
)
from saml_middleware.connections.file import FileRegistry
from saml_middleware.connections.python import PythonRegistry
from saml_middleware.connections.sql import SQLRegistry
from saml_middleware.errors import ConfigError

from ...support import connection_hooks
from ...support.harness import Clock

HOOKS = "python:tests.support.connection_hooks"


@pytest.fixture(autouse=True)
def _empty_tenants() -> None:
    connection_hooks.TENANTS.clear()


def test_each_kind_of_url_opens_its_registry(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("[]")
    assert isinstance(open_registry("memory:"), MemoryRegistry)
    assert isinstance(open_registry(f"file:{tmp_path / 'c.json'}"), FileRegistry)
    assert isinstance(open_registry(f"{HOOKS}:tenants"), PythonRegistry)
    sql = open_registry(f"sqlite:///{tmp_path / 'c.db'}")
    assert isinstance(sql, SQLRegistry)
    sql.dispose()


def test_an_unknown_kind_is_refused_without_showing_the_password() -> None:
    with pytest.raises(ConfigError, match="unknown kind 'mongodb'") as refused:
        open_registry("mongodb:user:hunter2@db")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"postgres extra"):
        open_registry("nosuchdb://u:hunter2@db/x")


def test_no_setting_means_no_lookup_and_a_setting_means_one(tmp_path: Path) -> None:
    base = {"base_url": "https://app.example.com", "secret_key": ("k" * 32,)}
    assert open_lookup(Settings(**base)) is None
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"id": "acme", "domains": ["acme.com"]}]))
    lookup = open_lookup(Settings(**base, connections=f"file:{path}", connections_refresh=30))
    assert lookup is not None and lookup.by_email("a@acme.com").id == "acme" and len(lookup) == 1


def test_a_bad_file_lists_every_bad_record(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([
        {"id": "acme", "domains": ["acme.com"]},
        {"id": "Not A Slug"},
        "just a string",
        {"id": "acme", "domains": ["other.com"]},
        {"id": "copycat", "domains": ["acme.com"], "hosts": ["x.test"], "colour": "red"},
        {"id": "copy2", "domains": ["acme.com"]},
    ]))  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        FileRegistry(path)
    problems = "\n".join(refused.value.problems)
    assert "record 2: connection id must be" in problems
    assert "record 3: expected an object, got str" in problems
    assert "connection id acme appears twice" in problems
    assert "record 5: copycat: unknown connection fields: colour" in problems
    assert "domain acme.com belongs to connection acme" in problems  # copy2


def test_a_missing_or_broken_file_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        FileRegistry(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        FileRegistry(tmp_path / "broken.json")


def test_a_file_broken_by_a_deploy_keeps_the_last_good_connections(tmp_path: Path, caplog) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"id": "acme", "domains": ["acme.com"]}]))
    clock = Clock()
    lookup = RefreshingLookup(FileRegistry(path), 5, clock=clock)
    path.write_text('[{"id": "acme", "domains": ["acme.com"]}, {"id": "oops"')
    os.utime(path, ns=(1, 1))
    caplog.set_level(logging.ERROR, logger="saml_middleware.connections")
    clock.advance(5)
    assert lookup.by_domain("acme.com").id == "acme"
    assert "not valid JSON" in caplog.text


def test_a_python_function_is_asked_again_at_every_refresh() -> None:
    connection_hooks.TENANTS.append({"id": "acme", "domains": ["acme.com"]})
    clock = Clock()
    lookup = RefreshingLookup(open_registry(f"{HOOKS}:tenants"), 5, clock=clock)
    assert lookup.by_domain("acme.com").id == "acme"
    connection_hooks.TENANTS.append({"id": "globex", "domains": ["globex.com"], "enabled": False})
    assert lookup.by_domain("globex.com") is None
    clock.advance(5)
    assert lookup.by_domain("globex.com").enabled is False and len(lookup) == 2


def test_an_async_python_function_works_from_inside_a_running_event_loop() -> None:
    import asyncio

    connection_hooks.TENANTS.append({"id": "acme", "domains": ["acme.com"]})

    async def in_a_request() -> list[str]:  # the gate calls the lookup from async code
        registry = open_registry(f"{HOOKS}:tenants_async")
        return [c.id for c in registry.all()]

    assert asyncio.run(in_a_request()) == ["acme"]


def test_a_python_registry_object_with_writes_is_writable_and_versioned() -> None:
    registry = open_registry(f"{HOOKS}:registry")
    assert registry.version() == "0"
    registry.put(Connection("acme", domains=("acme.com",)))
    assert registry.version() == "1" and registry.get("acme").domains == ("acme.com",)
    assert registry.remove("acme") is True and registry.all() == []


def test_a_python_function_is_read_only() -> None:
    registry = open_registry(f"{HOOKS}:tenants")
    with pytest.raises(ReadOnlyRegistry, match="read-only"):
        registry.put(Connection("acme"))


def test_python_registries_that_cannot_work_are_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="cannot import it"):
        open_registry("python:tests.support.no_such_module:tenants")
    with pytest.raises(ConfigError, match="expected a registry object or connections, got 42"):
        open_registry(f"{HOOKS}:nothing_useful")
    with pytest.raises(ConfigError, match="expected python:module:function"):
        open_registry("python:just_a_module")
    connection_hooks.TENANTS.append({"id": "acme", "domain": "acme.com"})
    with pytest.raises(ConfigError, match="unknown connection fields: domain"):
        open_registry(f"{HOOKS}:tenants")
