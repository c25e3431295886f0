"""A real redis-server on a free loopback port, for the store and scale-out tests.

Tests using it carry ``needs("redis-server")`` (the ``redis_server`` fixture adds it); one
that does not start fails under ``CI=true`` and is skipped elsewhere (tests/support/needs.py).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .needs import find_program, unavailable
from .processes import free_port, stop, wait_ready

__all__ = ["RedisServer", "free_port"]


class RedisServer:
    """One redis-server process; :meth:`stop` and :meth:`start` keep the same port.

    :param directory: where ``stop(save=True)`` writes the data a restart loads
        (nothing is saved otherwise: ``--save '' --appendonly no``).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = find_program("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (install it with `make system-deps` as root)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.directory is not None:
            args += ["--dir", str(self.directory)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_ready(self.process, self._pong, timeout=10, interval=0.05):
            return
        self.stop()
        unavailable(f"redis-server did not start on port {self.port}")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, *, save: bool = False) -> None:
        if self.process is not None:
            if save and self.directory is not None:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(b"SHUTDOWN SAVE\r\n")
                    sock.recv(16)
            stop(self.process)
            self.process = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)
