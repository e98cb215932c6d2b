"""redis-server processes of the benchmark's own, on free ports (never the shared Redis): independent masters for
the quorum rows, a 3-master cluster made with `redis-cli --cluster create` for the cluster rows. Nothing on disk."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port(*, cluster_bus: bool = False) -> int:
    """A free port; with `cluster_bus`, port + 10000 (the cluster bus) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not cluster_bus:
            return port
        if port < 55536:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port found")


def _until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Servers:
    """Started redis-servers; `close()` kills them all."""

    def __init__(self, workdir: Path) -> None:
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is not installed")
        self.workdir = Path(workdir)
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def start(self, *args: str, cluster_bus: bool = False) -> int:
        port = free_port(cluster_bus=cluster_bus)
        folder = self.workdir / f"redis-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.ports.append(port)
        client = redis.Redis(port=port, socket_connect_timeout=0.5)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.RedisError:
                return False

        _until(answers, 15, f"redis-server on port {port}")
        client.close()
        return port

    def masters(self, count: int = 3) -> list[str]:
        return [f"redis://127.0.0.1:{self.start()}/0" for _ in range(count)]

    def cluster(self, count: int = 3) -> list[int]:
        ports = [self.start("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf",
                            cluster_bus=True) for i in range(count)]
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60,
                       check=True)

        def ok() -> bool:
            return all("cluster_state:ok" in subprocess.run(
                ["redis-cli", "-p", str(p), "CLUSTER", "INFO"], capture_output=True, text=True).stdout
                for p in ports)

        _until(ok, 30, "cluster_state:ok on every node")
        return ports

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
