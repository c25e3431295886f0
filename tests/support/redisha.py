"""Real Redis topologies for the failover and cluster tests: Sentinel and Cluster.

* :class:`SentinelSet` - one master, one replica and three sentinels (``redis-server
  --sentinel``, the same binary the ``redis-sentinel`` link of the redis-server package runs).
* :class:`ClusterSet` - three masters with ``--cluster-enabled yes``, joined by
  ``redis-cli --cluster create ... --cluster-yes``.

Every process listens on a free loopback port and keeps its files in a temporary directory.
A missing binary or a topology that does not come up calls
:func:`~tests.support.needs.unavailable` (fails under ``CI=true``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from .needs import find_program, unavailable
from .processes import free_port, stop

__all__ = ["ClusterSet", "Node", "SentinelSet", "poll"]

SERVICE = "mymaster"


def poll(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """``check()`` until it is true (``True``) or ``timeout`` seconds passed (``False``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def _binary(name: str) -> str:
    found = find_program(name)
    if found is None:
        unavailable(f"{name} is not installed (install it with `make system-deps` as root)")
    return found


class Node:
    """One redis-server (or sentinel) process on a fixed port, restartable with its config file."""

    def __init__(
        self, directory: Path, args: list[str], *, sentinel: bool = False, password: str | None = None
    ) -> None:
        self.port = free_port()
        self.password = password  # the server's requirepass, for :meth:`client`
        self.directory = directory / str(self.port)
        self.directory.mkdir(parents=True)
        self.conf = self.directory / ("sentinel.conf" if sentinel else "redis.conf")
        lines = [f"port {self.port}", "bind 127.0.0.1", f'dir "{self.directory}"', *args]
        self.conf.write_text("\n".join(lines) + "\n")
        self.sentinel = sentinel
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [_binary("redis-server"), str(self.conf)] + (["--sentinel"] if self.sentinel else [])
        log = open(self.directory / "log.txt", "ab")  # noqa: SIM115 - kept open by the child
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not poll(lambda: self.client(timeout=0.3).ping(), 10, 0.05):
            self.stop()
            unavailable(f"redis-server {'--sentinel ' if self.sentinel else ''}did not start on {self.port}")

    def client(self, timeout: float = 1.0) -> redis.Redis:
        return redis.Redis(
            port=self.port, password=self.password, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
            stop(self.process, timeout=5)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: a crash (nothing saved, connections reset)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the host hangs (connections stay open, nothing answers)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


class SentinelSet:
    """A master, a replica and three sentinels (quorum 2, down after 1 s, failover timeout 3 s).

    :param min_replicas: the master's ``min-replicas-to-write`` (0: off).
    """

    def __init__(
        self,
        directory: Path,
        *,
        min_replicas: int = 0,
        password: str | None = None,
        sentinel_password: str | None = None,
    ) -> None:
        common = ["save ''", "appendonly no", "repl-diskless-sync yes", "repl-diskless-sync-delay 0"]
        if min_replicas:
            common += [f"min-replicas-to-write {min_replicas}", "min-replicas-max-lag 2"]
        if password:  # the servers' own password (the URL's), also between master and replica
            common += [f'requirepass "{password}"', f'masterauth "{password}"']
        self.master = Node(directory, common, password=password)
        self.replica = Node(
            directory, [*common, f"replicaof 127.0.0.1 {self.master.port}"], password=password
        )
        self.directory = directory
        self.password = password
        self.sentinel_password = sentinel_password
        self.sentinels: list[Node] = []

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        if not poll(self._replica_in_sync, 15):
            self.stop()
            unavailable("the replica did not sync with the master")
        for _ in range(3):
            node = Node(
                self.directory,
                [
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 2",
                    f"sentinel down-after-milliseconds {SERVICE} 1000",
                    f"sentinel failover-timeout {SERVICE} 3000",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    *([f'sentinel auth-pass {SERVICE} "{self.password}"'] if self.password else []),
                    *(
                        [
                            f'requirepass "{self.sentinel_password}"',
                            f'sentinel sentinel-pass "{self.sentinel_password}"',
                        ]
                        if self.sentinel_password
                        else []
                    ),
                ],
                sentinel=True,
                password=self.sentinel_password,
            )
            node.start()
            self.sentinels.append(node)
        if not poll(lambda: all(self._knows_replica(s) for s in self.sentinels), 15):
            self.stop()
            unavailable("the sentinels did not discover the replica")

    def _replica_in_sync(self) -> bool:
        info = self.replica.client().info("replication")
        return info.get("master_link_status") == "up"

    def _knows_replica(self, sentinel: Node) -> bool:
        return (
            len(sentinel.client().sentinel_slaves(SERVICE)) >= 1
            and len(sentinel.client().sentinel_sentinels(SERVICE)) >= 2
        )

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def master_port(self) -> int:
        """The master the sentinels name now."""
        for sentinel in self.sentinels:
            try:
                return int(sentinel.client().sentinel_get_master_addr_by_name(SERVICE)[1])
            except (redis.RedisError, TypeError):
                continue
        raise RuntimeError("no sentinel answers")

    def node(self, port: int) -> Node:
        return self.master if self.master.port == port else self.replica

    def stop(self) -> None:
        for node in (*self.sentinels, self.master, self.replica):
            node.stop()


class ClusterSet:
    """Three masters with ``cluster-enabled yes``, slots assigned by ``redis-cli --cluster create``."""

    def __init__(self, directory: Path) -> None:
        self.nodes = [
            Node(
                directory,
                [
                    "cluster-enabled yes",
                    f"cluster-port {free_port()}",  # not port + 10000, which may be past 65535
                    "cluster-node-timeout 2000",
                    "save ''",
                    "appendonly no",
                ],
            )
            for _ in range(3)
        ]

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        create = [_binary("redis-cli"), "--cluster", "create"]
        create += [f"127.0.0.1:{n.port}" for n in self.nodes] + ["--cluster-yes"]
        done = subprocess.run(create, capture_output=True, timeout=30, check=False)
        ok = done.returncode == 0 and poll(
            lambda: all(n.client().cluster("info").get("cluster_state") == "ok" for n in self.nodes), 20
        )
        if not ok:
            self.stop()
            unavailable(f"redis-cli --cluster create failed: {done.stdout[-300:]!r}")

    def url(self, *nodes: Node) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in nodes or self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
