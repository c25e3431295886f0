"""The house rules of docs/DESIGN: the protocol core never imports starlette, the adapters
never touch XML, and only sp.py imports pysaml2."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "saml_middleware"
CORE = [
    "protocol/sp.py",
    "protocol/checks.py",
    "protocol/signatures.py",
    "protocol/decrypt.py",
    "protocol/xml.py",
    "protocol/identity.py",
    "protocol/metadata.py",
    "config.py",
    "user.py",
    "protocol/logout.py",
    "protocol/envelope.py",
    "protocol/subject.py",
    "protocol/attributes.py",
]
ADAPTERS = [
    "asgi.py",
    "wsgi.py",
    "gate/gate.py",
    "gate/acs.py",
    "sessions/cookie.py",
    "sessions/server.py",
    "sessions/cookies.py",
    "http.py",
    "serve/proxy.py",
    "serve/wsproxy.py",
    "serve/runner.py",
    "gate/identity_headers.py",
    "serve/accesslog.py",
    "cli/sessions.py",
    "gate/logout.py",
]
XML = {"lxml", "xmlsec", "saml2", "defusedxml", "xml"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("name", CORE)
def test_protocol_core_never_imports_starlette(name: str) -> None:
    assert "starlette" not in _imports(PACKAGE / name)


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_never_touch_xml(name: str) -> None:
    assert not (_imports(PACKAGE / name) & XML)


def test_only_sp_imports_pysaml2() -> None:
    users = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "saml2" in _imports(p))
    assert users == ["protocol/sp.py"]


def test_modules_stay_small() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 300} == {}
