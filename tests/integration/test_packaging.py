"""`make dist`: the sdist and the wheel built from it hold every module and data file, build
without licence warnings, and the wheel installs into a fresh virtualenv and runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "saml_middleware"


def _package_files() -> list[str]:
    """Every file the installed package needs: modules, py.typed, the dev IdP's users.json..."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``python -m build`` as `make dist` runs it: the output folder and what the build printed."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout + done.stderr


def test_make_dist_builds_without_licence_warnings(dist: tuple[Path, str]) -> None:
    out, printed = dist
    assert sorted(p.name for p in out.iterdir()) == [
        "saml_middleware-0.1.0-py3-none-any.whl",
        "saml_middleware-0.1.0.tar.gz",
    ]
    assert "SetuptoolsDeprecationWarning" not in printed
    assert not re.search(r"(?i)licen[cs]e\W.*deprecated", printed)
    with zipfile.ZipFile(out / "saml_middleware-0.1.0-py3-none-any.whl") as wheel:
        metadata = wheel.read("saml_middleware-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines()


def test_the_sdist_and_the_wheel_hold_every_package_file(dist: tuple[Path, str]) -> None:
    out, _ = dist
    expected = _package_files()
    assert {"saml_middleware/py.typed", "saml_middleware/devidp/users.json"} <= set(expected)
    assert "saml_middleware/stores/__init__.py" in expected  # subpackages too
    with zipfile.ZipFile(out / "saml_middleware-0.1.0-py3-none-any.whl") as wheel:
        in_wheel = set(wheel.namelist())
    assert [f for f in expected if f not in in_wheel] == []
    with tarfile.open(out / "saml_middleware-0.1.0.tar.gz") as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert [f for f in expected if f not in in_sdist] == []
    assert "README.md" in in_sdist and "pyproject.toml" in in_sdist


def test_the_wheel_installs_into_a_fresh_virtualenv_and_runs(dist: tuple[Path, str], tmp_path: Path) -> None:
    """The dependencies come from this test run's environment (on PYTHONPATH, so its editable
    install of the checkout is not seen): what runs is the package as the wheel installed it."""
    out, _ = dist
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    wheel = out / "saml_middleware-0.1.0-py3-none-any.whl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    environ = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120)

    helped = run(str(fresh / "bin" / "saml-middleware"), "--help")
    assert helped.returncode == 0 and "demo" in helped.stdout and "check" in helped.stdout
    probe = (
        "import saml_middleware, importlib.resources as r;"
        "from saml_middleware.devidp.users import DEFAULT_USERS;"
        "print(saml_middleware.__file__);"
        "print(r.files('saml_middleware').joinpath('py.typed').is_file());"
        "print(DEFAULT_USERS[0].email)"
    )
    shown = run(str(python), "-c", probe)
    assert shown.returncode == 0, shown.stderr
    where, typed, user = shown.stdout.splitlines()
    assert Path(where).is_relative_to(fresh) and typed == "True" and user == "b.simon@contoso.com"


def test_no_instructions_install_saml_middleware_from_the_package_index() -> None:
    """It is not published yet: the README and the docs install from a checkout or a wheel."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install ." in readme and "make dist" in readme
    texts = [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("examples/**/*")]
    texts += [p for p in PACKAGE.rglob("*.py")]
    for path in texts:
        if path.is_file() and path.suffix in (".md", ".py", ".yml", ".txt", ".toml"):
            text = path.read_text()
            assert not re.search(r"pip install[^\n]*?\s'?saml-middleware\b", text), path.relative_to(ROOT)
