"""Child processes of the tests: a free loopback port, a readiness wait, a stop."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

__all__ = ["free_port", "port_open", "stop", "wait_ready"]


def free_port() -> int:
    """A loopback port free right now (another process may still take it before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on loopback ``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
    except OSError:
        return False
    return True


def wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float = 30.0,
    interval: float = 0.1,
) -> bool:
    """Poll ``ready()`` until it is true (``True``), or ``proc`` exits or ``timeout`` passes (``False``).

    ``ready`` is called at least once, and must catch its own connection errors.
    """
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if ready():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return False


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate ``proc``; kill it if it is still there after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
