"""A TCP proxy on a free loopback port that can lose an answer: the request reaches the server,
the reply never reaches the client, and the connection is reset (what a failover or a network
cut does to a command in flight)."""

from __future__ import annotations

import contextlib
import socket
import threading

from .processes import free_port

__all__ = ["FaultProxy"]


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target>``.

    :meth:`drop_next_reply` arms one fault: the next bytes the server sends back are discarded
    and that connection is closed; later connections work normally.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.armed = threading.Event()
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_next_reply(self) -> None:
        self.armed.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    self.dropped += 1
                    break  # the reply is lost: close both ends
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
