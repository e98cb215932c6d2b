"""Real redis-server processes for tests that stop, restart, fail over or cluster Redis: each on a port of its own,
so the shared Redis on 6379 is never touched. No persistence: a restarted server comes back empty, as after a crash.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.waiting import wait_for

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
NO_RETRY = Retry(NoBackoff(), 0)


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(*, cluster_bus: bool = False) -> int:
    """A free port; with `cluster_bus`, port + 10000 (the cluster bus) is free too, so it stays under 55536."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not cluster_bus:
            return port
        if port < 55536 and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port found")


class RedisServer:
    """One redis-server process. `args` are extra command-line options (`--cluster-enabled yes`, ...)."""

    def __init__(self, workdir: Path, *, port: int | None = None, bind: str = "127.0.0.1",
                 args: Sequence[str] = (), config: str | None = None):
        self.host = bind
        self.port = port or free_port()
        self.dir = Path(workdir) / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.config = config  # a config file's text (sentinels rewrite theirs, so it must be a file)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _command(self) -> list[str]:
        head = [REDIS_SERVER]
        if self.config is not None:
            conf = self.dir / "redis.conf"
            if not conf.exists():
                conf.write_text(self.config)
            head.append(str(conf))
        return [*head, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"), *self.args]

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout=15, message=f"redis-server on {self.host}:{self.port} to answer PING")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"redis-server on port {self.port} exited: {self.log_tail()}")
        try:
            return bool(self.client().ping())
        except redis.exceptions.RedisError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        log = self.dir / "redis.log"
        return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else "(no log)"

    def _signal_and_reap(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            return
        self.proc.wait(timeout=15)

    def kill(self) -> None:
        self._signal_and_reap(signal.SIGKILL)

    def stop(self) -> None:
        self.resume()
        self._signal_and_reap(signal.SIGTERM)

    def restart(self) -> RedisServer:
        self.kill()
        return self.start()

    def pause(self) -> None:
        self._signal_and_reap(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_and_reap(signal.SIGCONT)

    def client(self, **kwargs) -> redis.Redis:
        kwargs.setdefault("socket_connect_timeout", 0.5)
        kwargs.setdefault("socket_timeout", 1.0)
        return redis.Redis(host=self.host, port=self.port, retry=NO_RETRY, **kwargs)

    def cli(self, *args: str) -> str:
        """`redis-cli -p <port> <args>` as an operator would type it."""
        return subprocess.run([REDIS_CLI, "-h", self.host, "-p", str(self.port), *args], capture_output=True,
                              text=True, timeout=15, check=True).stdout.strip()


class IndependentMasters:
    """N unrelated masters, for the quorum lock."""

    def __init__(self, workdir: Path, count: int = 3):
        self.servers = [RedisServer(workdir).start() for _ in range(count)]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    @property
    def setting(self) -> str:
        return ",".join(self.urls)

    def close(self) -> None:
        for s in self.servers:
            s.kill()


class ClusterServers:
    """A 3-master Redis Cluster with no replicas, created the way an operator does: `redis-cli --cluster create`."""

    def __init__(self, workdir: Path, count: int = 3, node_timeout_ms: int = 2000):
        self.nodes = []
        for _ in range(count):
            port = free_port(cluster_bus=True)
            self.nodes.append(RedisServer(workdir, port=port, args=[
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", str(node_timeout_ms)]).start())
        subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60,
                       check=True)
        wait_for(self._all_ok, timeout=30, message="cluster_state:ok on every node")

    def _all_ok(self) -> bool:
        return all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in self.nodes)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def close(self) -> None:
        for n in self.nodes:
            n.kill()


SENTINEL_CONFIG = """sentinel monitor {name} 127.0.0.1 {master_port} 2
sentinel down-after-milliseconds {name} {down_after_ms}
sentinel failover-timeout {name} 10000
sentinel parallel-syncs {name} 1
"""


class SentinelServers:
    """A master, one replica and three sentinels watching them (quorum 2)."""

    master_name = "jobsite"

    def __init__(self, workdir: Path, down_after_ms: int = 1000):
        self.master = RedisServer(workdir, args=["--repl-diskless-sync-delay", "0"]).start()
        self.replica = RedisServer(workdir, args=["--replicaof", "127.0.0.1", str(self.master.port)]).start()
        wait_for(lambda: self.replica.client().info("replication").get("master_link_status") == "up",
                 timeout=20, message="the replica to sync with the master")
        config = SENTINEL_CONFIG.format(name=self.master_name, master_port=self.master.port,
                                        down_after_ms=down_after_ms)
        self.sentinels = [RedisServer(workdir, config=config, args=["--sentinel"]).start() for _ in range(3)]
        wait_for(self._sentinels_agree, timeout=30, message="three sentinels that know each other and the replica")

    def _master_info(self, sentinel: RedisServer) -> dict:
        raw = sentinel.client(decode_responses=True).execute_command("SENTINEL", "MASTER", self.master_name)
        if isinstance(raw, dict):
            return raw
        return dict(zip(raw[::2], raw[1::2], strict=False))

    def _sentinels_agree(self) -> bool:
        try:
            infos = [self._master_info(s) for s in self.sentinels]
        except redis.exceptions.RedisError:
            return False
        return all(int(i["num-other-sentinels"]) == 2 and int(i["num-slaves"]) >= 1 for i in infos)

    @property
    def sentinels_setting(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def current_master_port(self) -> int:
        for s in self.sentinels:
            try:
                _host, port = s.client(decode_responses=True).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
                return int(port)
            except redis.exceptions.RedisError:
                continue
        raise AssertionError("no sentinel answered")

    def wait_for_failover(self, old_port: int, timeout: float = 30) -> int:
        """The new master's port, once the sentinels have promoted it and it accepts writes."""
        def promoted():
            port = self.current_master_port()
            if port == old_port:
                return None
            server = next(s for s in (self.master, self.replica) if s.port == port)
            role = server.client().execute_command("ROLE")[0]
            return port if role in (b"master", "master") else None

        return wait_for(promoted, timeout=timeout, message=f"a failover away from port {old_port}")

    def server_on(self, port: int) -> RedisServer:
        return next(s for s in (self.master, self.replica) if s.port == port)

    def close(self) -> None:
        for s in (*self.sentinels, self.replica, self.master):
            s.kill()


def redis_binaries_present() -> bool:
    return bool(REDIS_SERVER and REDIS_CLI) and os.access(REDIS_SERVER, os.X_OK)
