"""A real PostgreSQL server (Debian's ``postgresql`` package) on a free loopback port.

``initdb`` and ``pg_ctl`` from /usr/lib/postgresql/*/bin build a throw-away cluster in a
temporary directory. PostgreSQL refuses to run as root, so as root the cluster is owned by,
and the server run as, the ``postgres`` user the package creates (``runuser``). Clients
log in with a password (scram-sha-256) over TCP, as an app would. Tests using it carry
``needs("postgresql")`` (the ``postgres_server`` fixture adds it); a server that does not
start fails under ``CI=true`` and is skipped elsewhere (tests/support/needs.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from .needs import unavailable
from .processes import free_port

__all__ = ["PostgresServer", "postgres_bin"]

USER = "saml"


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """One cluster and its server; :meth:`database` makes a fresh, empty database for a test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.password = "pg-" + secrets.token_hex(8)
        self.directory = Path(tempfile.mkdtemp(prefix="saml-pg-"))
        self._count = 0
        self._as: list[str] = []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        # cwd: the postgres user may not be able to enter the checkout (e.g. under /root)
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.directory
        )

    def start(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            unavailable("PostgreSQL is not installed (install it with `make system-deps` as root)")
        if os.getuid() == 0:  # initdb and postgres refuse root: run them as the package's user
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no `postgres` user to run PostgreSQL as")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        pwfile = self.directory / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            shutil.chown(pwfile, "postgres")
        data = self.directory / "data"
        done = self._run(
            str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(pwfile),
            "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            unavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
            "-l", str(self.directory / "log"), "-w", "-t", "60", "start",
        )  # fmt: skip
        if done.returncode != 0:
            log = (self.directory / "log").read_text(errors="replace")[-800:]
            self.stop()
            unavailable(f"PostgreSQL did not start on port {self.port}: {done.stderr.strip()} {log}")

    def database(self) -> str:
        """The URL of a new, empty database on this server."""
        import psycopg

        self._count += 1
        name = f"test_{self._count}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        bin_dir = postgres_bin()
        data = self.directory / "data"
        if bin_dir is not None and (data / "postmaster.pid").exists():
            self._run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
