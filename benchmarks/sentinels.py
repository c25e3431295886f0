"""A throw-away Redis Sentinel set for ``scaleout.py --failover``: one master, one replica, three
sentinels (``redis-server --sentinel``), on free loopback ports in a temporary directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from common import free_port, stop

SERVICE = "mymaster"


def poll(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    return False


class Process:
    def __init__(self, directory: Path, lines: list[str], sentinel: bool = False) -> None:
        self.port = free_port()
        self.dir = directory / str(self.port)
        self.dir.mkdir()
        self.conf = self.dir / "redis.conf"
        self.conf.write_text(
            "\n".join([f"port {self.port}", "bind 127.0.0.1", f'dir "{self.dir}"', *lines]) + "\n"
        )
        self.sentinel = sentinel
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("--failover needs redis-server (e.g. `make system-deps` as root)")
        args = [binary, str(self.conf)] + (["--sentinel"] if self.sentinel else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not poll(lambda: self.client().ping(), 10):
            raise SystemExit(f"redis-server did not start on {self.port}")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


class Sentinels:
    def __init__(self, directory: Path) -> None:
        common = ["save ''", "appendonly no", "repl-diskless-sync yes", "repl-diskless-sync-delay 0"]
        self.master = Process(directory, common)
        self.replica = Process(directory, [*common, f"replicaof 127.0.0.1 {self.master.port}"])
        self.sentinels = [
            Process(
                directory,
                [
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 2",
                    f"sentinel down-after-milliseconds {SERVICE} 1000",
                    f"sentinel failover-timeout {SERVICE} 3000",
                ],
                sentinel=True,
            )
            for _ in range(3)
        ]

    def start(self) -> str:
        self.master.start()
        self.replica.start()
        poll(lambda: self.replica.client().info("replication")["master_link_status"] == "up", 15)
        for s in self.sentinels:
            s.start()
        poll(lambda: all(len(s.client().sentinel_slaves(SERVICE)) for s in self.sentinels), 15)
        return f"redis+sentinel://{','.join(f'127.0.0.1:{s.port}' for s in self.sentinels)}/{SERVICE}/0"

    def master_port(self) -> int:
        address: Any = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)
        return int(address[1])

    def stop(self) -> None:
        for p in (*self.sentinels, self.master, self.replica):
            p.stop()
