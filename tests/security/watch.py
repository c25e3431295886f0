"""Witnesses of file and network access, for the hostile-encryption tests.

libxmlsec opens a ``CipherReference`` or ``RetrievalMethod`` URI with C ``fopen``, which Python's
audit hooks never see, so three witnesses run together:

- :class:`OpenWatch`: Linux inotify on the attacker's target files sees every ``open(2)`` of them,
  from Python or C, in any thread of this process;
- :class:`Listener`: a loopback TCP port the attacker's ``http://`` URIs name; a connection is seen;
- :class:`AuditLog`: a ``sys.addaudithook`` hook recording ``open`` and ``socket.*`` events.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["AuditLog", "Listener", "OpenWatch"]

_IN_OPEN = 0x20
_IN_ACCESS = 0x01
_EVENT = struct.Struct("iIII")


class OpenWatch:
    """inotify watches on ``paths``; :meth:`opened` lists the paths opened since the last call."""

    def __init__(self, paths: list[Path]) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._paths: dict[int, Path] = {}
        for path in paths:
            wd = self._libc.inotify_add_watch(self._fd, str(path).encode(), _IN_OPEN | _IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
            self._paths[wd] = path

    def opened(self) -> list[Path]:
        seen: list[Path] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return seen
            offset = 0
            while offset < len(data):
                wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                if self._paths[wd] not in seen:
                    seen.append(self._paths[wd])

    def close(self) -> None:
        os.close(self._fd)


class Listener:
    """A loopback TCP listener nothing should ever connect to."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self._sock.close()


class AuditLog:
    """Python audit events ``open`` and ``socket.*``, recorded only inside :meth:`recording`.

    Audit hooks cannot be removed, so one hook is installed per process and stays idle
    (a flag check) outside :meth:`recording`.
    """

    _installed: AuditLog | None = None

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._on = False

    @classmethod
    def install(cls) -> AuditLog:
        if cls._installed is None:
            log = cls()
            sys.addaudithook(log._hook)
            cls._installed = log
        return cls._installed

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if self._on and (event == "open" or event.startswith("socket.")):
            self.events.append((event, repr(args)[:500]))

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, str]]]:
        self.events = []
        self._on = True
        try:
            yield self.events
        finally:
            self._on = False
