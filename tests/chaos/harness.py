"""The chaos suite's tools: own redis-servers, a slow-link proxy, warm `manage.py` processes, the record reader and
the judge. Fixtures live in conftest.py; nothing here touches the shared Redis."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests import waiting
from tests.chaos.chaos_jobs import TABLE, decode_ranges

ROOT = Path(__file__).resolve().parents[2]
JOB = "chaos_writer"
LOCK_KEY = f"job_lock:{JOB}"
TERMINAL = {"SUCCEEDED", "PARTIAL", "FAILED", "TIMED_OUT", "LOST_LOCK", "ABANDONED", "CANCELLED", "SKIPPED",
            "MISSED"}


# --- waiting ----------------------------------------------------------------------------------------------------------

def wait_for(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.02):
    """The tests' one `wait_for`, with the harness's argument names."""
    return waiting.wait_for(predicate, timeout=timeout, interval=step, message=what)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_state(pid: int) -> str | None:
    """The kernel's state letter for `pid` (R, S, T = stopped, Z ...), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def stop_process(proc: subprocess.Popen | None) -> None:
    """Whatever state it is in (stopped included): SIGCONT, SIGKILL, reap."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


# --- Redis of the test's own ------------------------------------------------------------------------------------------

def redis_client(url: str, socket_timeout: float = 1.0) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=socket_timeout,
                                retry=Retry(NoBackoff(), 0))


class RedisServer:
    """A redis-server on a free port of its own that keeps nothing on disk: a restart comes back empty."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis_client(self.url)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server on port {self.port} exited with {self.proc.returncode}")
            try:
                return bool(client.ping())
            except redis.exceptions.RedisError:
                return False

        wait_for(up, 15, f"redis-server on port {self.port} to answer", step=0.01)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self) -> None:
        """Killed and started again, empty (no RDB, no AOF)."""
        self.stop()
        self.start()
        self.restarts += 1

    def lock_keys(self) -> list[str]:
        client = self.client()
        try:
            return sorted(k.decode() for k in client.scan_iter(match="job_lock:*", count=500))
        finally:
            client.close()


class SlowLink:
    """A TCP proxy whose server-to-client direction is delayed by `delay` seconds (a slow network link).

    Given to the frozen writer of the pause scenario as its REDIS_URL: an answer read in Redis is acted on `delay`
    later, which is when a pause (SIGSTOP) can fall between a check and the write it guards.
    """

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="slowlink-accept").start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sockets += [client, upstream]
            self._pump(client, upstream, 0.0)
            self._pump(upstream, client, self.delay)

    def _pump(self, src: socket.socket, dst: socket.socket, delay: float) -> None:
        items: queue.Queue = queue.Queue()

        def read() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                items.put((time.monotonic() + delay, data))
                if not data:
                    return

        def write() -> None:
            while True:
                due, data = items.get()
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                try:
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True, name="slowlink-read").start()
        threading.Thread(target=write, daemon=True, name="slowlink-write").start()

    def close(self) -> None:
        self.closed = True
        for sock in [self.listener, *self.sockets]:
            try:
                sock.close()
            except OSError:
                pass


# --- processes ------------------------------------------------------------------------------------------------------

class Processes:
    """Every process a scenario starts, so the fixture can kill them all (stopped ones too) in its finally."""

    def __init__(self, env: dict, workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.started: list[subprocess.Popen] = []
        self.counter = 0

    def _files(self, name: str):
        self.counter += 1
        base = self.workdir / f"{self.counter:04d}-{name}"
        return base.with_suffix(".out"), base.with_suffix(".err")

    def manage(self, *args: str, env: dict | None = None, name: str = "manage") -> subprocess.Popen:
        """A cold `manage.py <args>`, output to files (`proc.out_path`, `proc.err_path`)."""
        out_path, err_path = self._files(name)
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], env=env or self.env, cwd=ROOT,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL, text=True)
        proc.out_path, proc.err_path = out_path, err_path
        self.started.append(proc)
        return proc

    def python(self, script: Path, *args: str, env: dict | None = None, name: str = "python",
               stdin=subprocess.DEVNULL) -> subprocess.Popen:
        out_path, err_path = self._files(name)
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, str(script), *args], env=env or self.env, cwd=ROOT,
                                    stdout=out, stderr=err, stdin=stdin, text=True)
        proc.out_path, proc.err_path = out_path, err_path
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.started:
            stop_process(proc)


def output(proc: subprocess.Popen) -> tuple[str, str]:
    return Path(proc.out_path).read_text(errors="replace"), Path(proc.err_path).read_text(errors="replace")


def wait_exit(proc: subprocess.Popen, timeout: float, what: str) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        out, err = output(proc)
        raise AssertionError(f"{what} (pid {proc.pid}) still running after {timeout:.0f} s; "
                             f"stdout: {out[-800:]!r} stderr: {err[-1500:]!r}") from None


def result_of(proc: subprocess.Popen) -> tuple[int, str] | None:
    """runjob's `run <id>  job <job>  status <STATUS> ...` line, as soon as it is printed (before the exit)."""
    for line in output(proc)[0].splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == "run" and parts[4] == "status":
            return int(parts[1]), parts[5]
    return None


def run_id_of(proc: subprocess.Popen) -> int | None:
    """runjob prints `run <id>  job ...`."""
    for line in output(proc)[0].splitlines():
        if line.startswith("run "):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


class WarmTrigger:
    """A `manage.py` process already set up (tests/chaos/warm_manage.py), waiting for its command line."""

    def __init__(self, procs: Processes, env: dict | None = None) -> None:
        self.proc = procs.python(ROOT / "tests" / "chaos" / "warm_manage.py", env=env, name="warm",
                                 stdin=subprocess.PIPE)
        self.fired_at: float | None = None

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            out, err = output(self.proc)
            raise AssertionError(f"warm manage.py exited early ({self.proc.returncode}): {err[-2000:]}")
        return output(self.proc)[0].startswith("ready")

    def fire(self, *argv: str, timeout: float = 60) -> subprocess.Popen:
        wait_for(self.ready, timeout, "a warm manage.py to be ready", step=0.01)
        self.fired_at = time.time()
        self.proc.stdin.write(json.dumps(list(argv)) + "\n")
        self.proc.stdin.flush()
        self.proc.stdin.close()
        return self.proc


class WarmPool:
    """Keeps `size` warm manage.py processes ready; `fire` takes one and (with `refill`) starts a replacement.
    Without `refill`, a pool that runs dry starts one on demand."""

    def __init__(self, procs: Processes, size: int = 2, env: dict | None = None, refill: bool = True) -> None:
        self.procs = procs
        self.env = env
        self.refill = refill
        self.ready: list[WarmTrigger] = [WarmTrigger(procs, env) for _ in range(size)]

    def fire(self, *argv: str) -> WarmTrigger:
        trigger = self.ready.pop(0) if self.ready else WarmTrigger(self.procs, self.env)
        trigger.fire(*argv)
        if self.refill:
            self.ready.append(WarmTrigger(self.procs, self.env))
        return trigger

    def wait_ready(self, timeout: float = 90) -> None:
        for trigger in self.ready:
            wait_for(trigger.ready, timeout, "the warm manage.py pool", step=0.02)


def storm_params(rng) -> dict:
    """A storm trigger's random short hold: 1-3 fenced writes, 0-25 ms apart."""
    return {"iterations": rng.randint(1, 3), "pause_ms": rng.choice([0, 2, 5, 10, 20]), "jitter_ms": 5}


# --- the record -------------------------------------------------------------------------------------------------------

@dataclass
class Record:
    """The parsed record file of one scenario."""

    starts: dict[int, tuple[float, int]] = field(default_factory=dict)  # run -> (time, pid)
    fences: dict[int, str] = field(default_factory=dict)
    saws: dict[int, set[int]] = field(default_factory=dict)
    commits: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    ends: dict[int, tuple[float, str]] = field(default_factory=dict)
    inside: dict[int, int] = field(default_factory=dict)
    triggers: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Record:
        rec = cls()
        if not path.exists():
            return rec
        for line in path.read_text().splitlines():
            parts = line.split(" ")
            kind = parts[0]
            try:
                if kind == "start":
                    rec.starts[int(parts[1])] = (float(parts[2]), int(parts[3]))
                    rec.fences[int(parts[1])] = parts[4]
                elif kind == "saw":
                    rec.saws[int(parts[1])] = decode_ranges(parts[2] if len(parts) > 2 else "")
                elif kind == "commit":
                    rec.commits[int(parts[1])].append(int(parts[2]))
                elif kind == "end":
                    rec.ends[int(parts[1])] = (float(parts[2]), parts[3])
                elif kind == "inside":
                    rec.inside[int(parts[1])] = int(parts[2])
                elif kind == "trigger":
                    rec.triggers.append(line)
                else:
                    rec.other.append(line)
            except (IndexError, ValueError):
                rec.other.append(line)  # a torn line: never expected with one os.write per line
        return rec

    def run_of_pid(self, pid: int) -> int | None:
        for run_id, (_, p) in self.starts.items():
            if p == pid:
                return run_id
        return None


def append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


# --- the database side ------------------------------------------------------------------------------------------------

def create_table() -> None:
    from django.db import connection

    autoinc = "INTEGER PRIMARY KEY AUTOINCREMENT" if connection.vendor == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(f"CREATE TABLE {TABLE} (id {autoinc}, run_id BIGINT NOT NULL, seq INTEGER NOT NULL)")


def drop_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def written_rows() -> list[tuple[int, int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, run_id, seq FROM {TABLE} ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def runs(**filters) -> list:
    from scheduler_app.models import JobRun

    return list(JobRun.objects.filter(job_id=JOB, **filters).order_by("pk"))


def run_status(run_id: int) -> str | None:
    from scheduler_app.models import JobRun

    return JobRun.objects.filter(pk=run_id).values_list("status", flat=True).first()


# --- the judge --------------------------------------------------------------------------------------------------------

def stale_commits(record: Record, rows: list[tuple[int, int, int]], started: dict[int, float]) -> list[str]:
    """Rows of an older run (earlier lock acquisition: JobRun.started_at, else its start line) that exist in the
    table but were not in a newer run's `saw` set: committed after the newer run had started."""
    by_run: dict[int, set[int]] = defaultdict(set)
    for row_id, run_id, _seq in rows:
        by_run[run_id].add(row_id)
    order = {run_id: t for run_id, (t, _pid) in record.starts.items()}
    order.update({k: v for k, v in started.items() if v is not None})
    problems = []
    for newer, seen in sorted(record.saws.items()):
        t_newer = order.get(newer)
        for older, ids in sorted(by_run.items()):
            if older == newer:
                continue
            t_older = order.get(older)
            if t_older is None:
                problems.append(f"rows {sorted(ids)[:10]} belong to run {older}, which never started")
                continue
            if t_newer is None or t_older >= t_newer:
                continue
            late = sorted(ids - seen)
            if late:
                problems.append(f"stale commit: run {older} (started {t_older:.3f}) committed chaos_write rows "
                                f"{late[:10]}{'...' if len(late) > 10 else ''} after run {newer} had started "
                                f"({t_newer:.3f}); they are not in run {newer}'s saw set")
    return problems


def overlaps(intervals: dict[int, tuple[float, float]], label: str, status: dict[int, str] | None = None) -> list[str]:
    """Pairs of intervals that overlap (end of one after the start of the next), sorted by start."""
    problems = []
    latest: tuple[int, float] | None = None
    for run_id, (start, end) in sorted(intervals.items(), key=lambda item: item[1][0]):
        if latest is not None and start < latest[1]:
            prev = latest[0]
            st = f" ({status.get(prev)} / {status.get(run_id)})" if status else ""
            problems.append(f"{label}: run {run_id} started at {start:.3f}, before run {prev} ended at "
                            f"{latest[1]:.3f}{st}")
        if latest is None or end > latest[1]:
            latest = (run_id, end)
    return problems


def db_intervals(record: Record, now: float | None = None) -> tuple[dict[int, tuple[float, float]], dict[int, str]]:
    """RUNNING intervals of every chaos_writer run that started, from JobRun: [started_at, finished_at] (an
    unfinished run: until `now`).

    started_at is computed before the guarded write that makes the run RUNNING, and that write may wait (for
    SQLite's write lock, or on PostgreSQL for a conflicting RUNNING row to commit): seen 5-10 ms early in storms
    where the waiting run then became RUNNING only after the other had finished. So a run's interval starts at
    the later of started_at and its body's `start` line, which is written only once the row is RUNNING. The end
    is finished_at as recorded; one rewritten after the fact (ABANDONED -> SUCCEEDED) shows as an overlap.
    """
    now = time.time() if now is None else now
    intervals, status = {}, {}
    for run in runs(started_at__isnull=False):
        start = run.started_at.timestamp()
        if run.pk in record.starts:
            start = max(start, record.starts[run.pk][0])
        end = run.finished_at.timestamp() if run.finished_at else now
        intervals[run.pk] = (start, end)
        status[run.pk] = run.status
    return intervals, status


def started_map() -> dict[int, float]:
    return {run.pk: run.started_at.timestamp() for run in runs(started_at__isnull=False)}


def describe_runs() -> str:
    lines = []
    for run in runs():
        started = f"{run.started_at.timestamp():.3f}" if run.started_at else "-"
        finished = f"{run.finished_at.timestamp():.3f}" if run.finished_at else "-"
        lines.append(f"  run {run.pk} {run.trigger} {run.status} {run.skip_reason or ''} start={started} "
                     f"end={finished} fence={run.fencing_token} pid={run.pid} err={run.error[:120]!r}")
    return "\n".join(lines[-60:])


def start_holder(chaos, iterations: int = 150):
    """A live `runjob chaos_writer` writing every ~30 ms; returns (process, run id) once its body has begun."""
    holder = chaos.procs.manage("runjob", JOB, "--param", f"iterations={iterations}", "--param", "pause_ms=30",
                                name="holder")

    def started():
        if holder.poll() is not None:
            raise AssertionError(f"holder exited ({holder.returncode}): {output(holder)[1][-1500:]}")
        return chaos.record().run_of_pid(holder.pid)

    run_id = wait_for(started, 60, "the holder's run to start")
    return holder, run_id


def pttl(client: redis.Redis) -> int | None:
    try:
        return int(client.pttl(LOCK_KEY))
    except redis.exceptions.RedisError:
        return None


def wait_for_renewal(client: redis.Redis, timeout: float) -> None:
    """Return right after the holder renewed its key (its PTTL jumps back up): a full renewal period lies ahead."""
    last = pttl(client)

    def renewed() -> bool:
        nonlocal last
        now = pttl(client)
        jumped = now is not None and last is not None and now > 0 and last > 0 and now > last + 30
        last = now
        return jumped

    wait_for(renewed, timeout, f"the holder to renew {LOCK_KEY}", step=0.005)
