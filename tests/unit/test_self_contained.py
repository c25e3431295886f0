"""The repository carries its own test data: a clone with nothing beside it passes.

The interop corpus lives in tests/data/interop, with the source and licence of every file; no
test, benchmark or CI step reads anything from outside the checkout.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..support.harness import INTEROP

ROOT = Path(__file__).resolve().parents[2]
#: the upstream of each licence text in tests/data/interop/LICENSES, and its copyright line
NOTICES = {
    "MIT-ssoready.txt": "Copyright 2024 Codomain Data Corporation (dba SSOReady)",
    "MIT-AzureAD-identitymodel.txt": "Copyright (c) Microsoft Corporation",
    "BSD-2-Clause-crewjam.txt": "Copyright (c) 2015, Ross Kinder",
    "Apache-2.0.txt": "Apache License\n                           Version 2.0, January 2004",
}


def _corpus() -> list[str]:
    return sorted(p.name for p in INTEROP.iterdir() if p.is_file() and p.suffix != ".md")


def test_the_interop_corpus_is_in_the_repository() -> None:
    assert INTEROP.resolve().is_relative_to(ROOT)
    files = _corpus()
    assert len(files) == 42  # 19 cases: responses, metadata, certificates (INDEX.md)
    assert all((INTEROP / name).stat().st_size > 0 for name in files)


def test_every_interop_file_names_its_source_and_licence() -> None:
    readme = (INTEROP / "README.md").read_text()
    index = (INTEROP / "INDEX.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    for name in _corpus():
        assert re.search(rf"^### .*\b{name[:2]}\b", index, re.M), name  # its case is described
        (row,) = [r for r in rows if f"`{name}`" in r]  # listed exactly once
        assert row.rstrip().endswith(("| MIT |", "| Apache-2.0 |", "| BSD-2-Clause |")), row
    for licence, notice in NOTICES.items():
        assert notice in (INTEROP / "LICENSES" / licence).read_text(), licence
        assert f"LICENSES/{licence}" in readme


def test_no_test_benchmark_or_ci_step_reads_outside_the_checkout() -> None:
    """A corpus beside the checkout, or ``parents[N]`` past the repository root, fails a fresh clone."""
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("benchmarks/**/*.py"), *ROOT.glob("scripts/*")]
    sources += [ROOT / ".ci" / "run", ROOT / "Makefile"]
    for path in sources:
        text = path.read_text()
        where = path.relative_to(ROOT)
        assert not re.search(r"shared[/\"', ]+interop", text), where
        assert not re.search(r"[\"']\.\./\w", text), where  # a relative path out of the checkout
        root = len(where.parts) - 1  # parents[root] is the repository root
        for up in re.findall(r"parents\[(\d+)\]", text):
            assert int(up) <= root, f"{where}: parents[{up}] is outside the repository"
