"""The house rules of docs/architecture.md: a package per layer, imports one way, no cycles.

Every module's imports (module level, inside functions and under ``if TYPE_CHECKING``)
are read from its source. A module may import its own package, the leaves and packages of
a lower rank; nothing imports the dev IdP but the CLI; no module is part of an import
cycle. The protocol layer never imports starlette or httpx, only ``protocol/sp.py``
imports pysaml2, the adapters never touch XML, and modules stay under 300 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "saml_middleware"
#: the top-level modules that are the public face; every other top-level module is a leaf
PUBLIC_FACE = {"__init__", "asgi", "wsgi"}
#: leaves <- stores <- protocol <- sessions, users, connections <- ops <- gate <- asgi/wsgi <- serve <- cli.
#: stores sit below protocol: the SP records consumed IDs in a stores.ReplayCache and
#: stores import nothing from protocol.
RANK = {
    "leaves": 0,
    "stores": 1,
    "protocol": 2,
    "sessions": 3,
    "users": 3,
    "connections": 3,
    "access": 3,
    "ops": 4,
    "gate": 5,
    "public": 6,
    "serve": 7,
    "cli": 8,
    "devidp": 3,
}
#: the dev IdP builds on the protocol layer alone, and only the CLI imports it
DEVIDP_MAY_IMPORT = {"leaves", "protocol", "devidp"}
#: import cycles not yet broken (each entry a sorted list of modules); may only shrink
ALLOWED_CYCLES: list[list[str]] = []
ADAPTERS = {"public", "gate", "sessions", "serve"}
XML = {"lxml", "xmlsec", "saml2", "defusedxml", "xml"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> str:
    parts = module.split(".")[1:]
    if len(parts) == 1 and (PACKAGE / parts[0]).is_dir():
        return parts[0]  # a package's __init__
    if len(parts) <= 1:
        return "public" if (parts[0] if parts else "__init__") in PUBLIC_FACE else "leaves"
    return parts[0]


def _nodes(module: str) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def _external(module: str) -> set[str]:
    """Top-level names of the third-party (and standard library) packages ``module`` imports."""
    found: set[str] = set()
    for node in _nodes(module):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - {"saml_middleware"}


def _internal(module: str) -> set[str]:
    """The package's own modules that ``module`` imports."""
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in _nodes(module):
        if isinstance(node, ast.Import):
            targets = [(alias.name, []) for alias in node.names]
        elif node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            targets = [(".".join(base + ([node.module] if node.module else [])), node.names)]
        else:
            targets = [(node.module or "", node.names)]
        for target, names in targets:
            if target != "saml_middleware" and not target.startswith("saml_middleware."):
                continue
            subs = [f"{target}.{alias.name}" for alias in names if f"{target}.{alias.name}" in MODULES]
            found.update(subs or [target])
    return found - {module}


GRAPH = {module: _internal(module) for module in MODULES}


def test_every_package_has_a_rank() -> None:
    layers = {_layer(module) for module in MODULES}
    assert layers == set(RANK)


def _may_import(layer: str, other: str) -> bool:
    if other == "devidp":
        return layer in ("devidp", "cli")
    if layer == "devidp":
        return other in DEVIDP_MAY_IMPORT
    return other in (layer, "leaves") or RANK[other] < RANK[layer]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    """Own package, leaves and lower ranks only; the dev IdP only from the CLI."""
    wrong = {t for t in GRAPH[module] if not _may_import(_layer(module), _layer(t))}
    assert sorted(wrong) == []


def test_the_rule_refuses_upward_imports() -> None:
    assert not _may_import("protocol", "gate")
    assert not _may_import("leaves", "protocol")
    assert not _may_import("sessions", "users")  # same rank, other package
    assert not _may_import("ops", "devidp")
    assert _may_import("gate", "protocol") and _may_import("cli", "devidp")


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycles() -> None:
    """Type-only imports count: a cycle under TYPE_CHECKING is still two modules that
    cannot be understood apart."""
    assert _cycles() == sorted(ALLOWED_CYCLES)


def test_the_cycle_finder_sees_cycles() -> None:
    saved = dict(GRAPH)
    try:
        GRAPH["saml_middleware.errors"] = {"saml_middleware.config"}
        assert ["saml_middleware.config", "saml_middleware.errors"] in _cycles()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) in ("protocol", "leaves")))
def test_protocol_and_leaves_never_import_http_frameworks(module: str) -> None:
    assert not (_external(module) & {"starlette", "httpx"})


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) in ADAPTERS))
def test_adapters_never_touch_xml(module: str) -> None:
    assert not (_external(module) & XML)


def test_only_sp_imports_pysaml2() -> None:
    assert sorted(m for m in MODULES if "saml2" in _external(m)) == ["saml_middleware.protocol.sp"]


def test_modules_stay_small() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert {module: n for module, n in sizes.items() if n > 300} == {}
