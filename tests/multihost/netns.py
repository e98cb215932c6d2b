"""Hosts of their own on one machine: Linux network namespaces on a bridge, and a TCP forwarder onto loopback.

`Network` puts a bridge in the root namespace (`<subnet>.1/24`) and, for each host, a namespace with one end of a
veth pair (`<subnet>.11`, `.12`, ...; the other end on the bridge) and `lo` up. The names carry the pid, so a run
that crashed before its teardown does not break the next one. `Forwarder` listens on the bridge address and
relays every connection to a loopback service (PostgreSQL listens on 127.0.0.1 only).

Needs root and iproute2 (`ip`). Nothing here leaves the machine: every address is the bridge's or a namespace's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass

IP = shutil.which("ip")


def netns_possible() -> tuple[bool, str]:
    """Whether this process can make namespaces: (yes?, why not)."""
    if IP is None:
        return False, "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    return True, ""


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    argv = [IP, *(("netns", "exec", netns, IP) if netns else ()), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _subnets_in_use() -> set[ipaddress.IPv4Network]:
    out = ip("-4", "-o", "addr", "show").stdout
    nets = set()
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            nets.add(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    return nets


def _free_subnet() -> str:
    """A 10.213.<x>.0/24 that no interface of this machine uses (x from the pid, then the next free one)."""
    used = _subnets_in_use()
    for step in range(250):
        x = (os.getpid() + step) % 250 + 1
        if ipaddress.ip_network(f"10.213.{x}.0/24") not in used:
            return f"10.213.{x}"
    raise RuntimeError("no free 10.213.x.0/24 subnet")


@dataclass(frozen=True)
class Host:
    name: str  # the namespace
    address: str
    veth: str  # the namespace's end of its veth pair
    bridge_port: str  # the root namespace's end, on the bridge

    def argv(self, *command: str) -> list[str]:
        """`command` run inside this host's namespace."""
        return [IP, "netns", "exec", self.name, *command]

    def link_down(self) -> None:
        ip("link", "set", self.veth, "down", netns=self.name)

    def link_up(self) -> None:
        ip("link", "set", self.veth, "up", netns=self.name)


class Network:
    """A bridge and `count` namespaced hosts on it. `close()` removes everything, whatever state it is in."""

    def __init__(self, count: int):
        tag = f"{os.getpid() % 100000}"
        self.subnet = _free_subnet()
        self.bridge = f"jsbr{tag}"
        self.bridge_address = f"{self.subnet}.1"
        self.hosts = [Host(name=f"jobsite-{tag}-{chr(ord('a') + i)}", address=f"{self.subnet}.{11 + i}",
                           veth=f"jsn{tag}{chr(ord('a') + i)}", bridge_port=f"jsb{tag}{chr(ord('a') + i)}")
                      for i in range(count)]
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        self.close()  # leftovers of a crashed run with the same pid
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.bridge_address}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            ip("netns", "add", host.name)
            ip("link", "add", host.bridge_port, "type", "veth", "peer", "name", host.veth)
            ip("link", "set", host.bridge_port, "master", self.bridge)
            ip("link", "set", host.bridge_port, "up")
            ip("link", "set", host.veth, "netns", host.name)
            ip("addr", "add", f"{host.address}/24", "dev", host.veth, netns=host.name)
            ip("link", "set", host.veth, "up", netns=host.name)
            ip("link", "set", "lo", "up", netns=host.name)

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def close(self) -> None:
        # The root end of each pair first: deleting a namespace frees its veth only once nothing holds it.
        for host in self.hosts:
            ip("link", "del", host.bridge_port, check=False)
            ip("netns", "del", host.name, check=False)
        ip("link", "del", self.bridge, check=False)


class Forwarder:
    """Relays TCP connections from (`host`, an own port) to (`target_host`, `target_port`), a thread per way."""

    def __init__(self, host: str, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, 0))
        self.host, self.port = host, self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._mutex = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="forwarder", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._mutex:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):  # one side ended: end the other, so the peer sees the connection go
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            sockets = list(self._sockets)
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
