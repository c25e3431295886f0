"""What a test needs from the machine: ``@pytest.mark.needs("redis-server")``.

A real server or program the tests start (redis-server, nginx, Chromium, SimpleSAMLphp,
xmlsec1...) is either here or not. When it is missing, or is here but does not start, the
test is skipped with the reason and the fix on a developer's machine, and FAILS under
``CI=true``: CI installs every one (``make system-deps``), so a skip there would hide a test
that never ran. tests/conftest.py applies the marker; fixtures that start a server call
:func:`unavailable` when it does not come up.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["CHROMIUM", "REQUIREMENTS", "find_program", "missing", "unavailable"]

#: scripts/system-deps.sh installs the Debian packages (as root); `make venv` the Python ones
INSTALL = "install it with `make system-deps` (as root)"
SIMPLESAMLPHP = Path("/usr/share/simplesamlphp")
PHP_EXTENSIONS = ("dom", "mbstring", "openssl", "session")
#: the names Chromium goes by (Debian's is ``chromium``; never ``playwright install``)
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def unavailable(reason: str) -> NoReturn:
    """Fail the test under ``CI=true``, else skip it with ``reason``."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def find_program(*names: str) -> str | None:
    """The first of ``names`` on ``PATH`` (or in /usr/sbin, where Debian puts nginx), else None."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    return None


def _program(*names: str) -> Callable[[], str | None]:
    def check() -> str | None:
        return None if find_program(*names) else f"{names[0]} is not installed ({INSTALL})"

    return check


def _python(module: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"the Python package {module} is not installed (pip install -e '.[dev]')"
        return None

    return check


def _simplesamlphp() -> str | None:
    if not (SIMPLESAMLPHP / "www" / "saml2" / "idp" / "SSOService.php").is_file():
        return f"SimpleSAMLphp is not installed ({INSTALL})"
    php = find_program("php")
    if php is None:
        return f"php is not installed ({INSTALL})"
    probe = "foreach ($argv as $i => $e) { if ($i && !extension_loaded($e)) { echo $e, ' '; } }"
    out = subprocess.run([php, "-r", probe, "--", *PHP_EXTENSIONS], capture_output=True, text=True)
    if out.returncode != 0 or out.stdout.strip():
        return f"PHP lacks the extensions {out.stdout.split() or out.stderr!r} ({INSTALL})"
    return None


def _postgresql() -> str | None:
    import glob

    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return f"PostgreSQL is not installed ({INSTALL})"
    return _python("psycopg")()


#: every name ``needs(...)`` accepts, and how to tell whether it is here
REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "redis-server": _program("redis-server"),
    "nginx": _program("nginx"),
    "caddy": _program("caddy"),
    "chromium": _program(*CHROMIUM),
    "playwright": _python("playwright"),
    "simplesamlphp": _simplesamlphp,
    "xmlsec1": _program("xmlsec1"),
    # Debian's server binaries (initdb, pg_ctl) and the psycopg driver (the dev extra)
    "postgresql": _postgresql,
}


def missing(requirement: str) -> str | None:
    """Why ``requirement`` is not usable here, or None; a name outside :data:`REQUIREMENTS` is an error."""
    if requirement not in REQUIREMENTS:
        raise pytest.UsageError(f"needs({requirement!r}): known are {', '.join(sorted(REQUIREMENTS))}")
    return REQUIREMENTS[requirement]()
