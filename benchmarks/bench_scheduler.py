"""Scheduler scale benchmark (issue 14, "Scale"): N no-op jobs due on the same cron minute, fired by one real
`manage.py runscheduler` process and then by three, on PostgreSQL and Redis.

    .venv/bin/python benchmarks/bench_scheduler.py [--jobs 10,100,500,1000] [--schedulers 1,3] [--slots 1]
                                                   [--baseline REF]

Duration: about 1 min per (N, schedulers) scenario for small N, 2-4 min at N = 1,000 (a slow slot drains for up
to the 60 s misfire grace, and the unmeasured warm-up slot first). `--jobs 10,100` takes about 5 minutes (9 with
`--baseline`); the default set about 15-20 minutes, twice that with `--baseline`.

Setup (nothing needs Django in this process; each checkout's own `manage.py` does the Django work):
- PostgreSQL at BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/jobsite_bench_sched), dropped, created
  and migrated at the start; between scenarios the run-time tables (runs, scheduler instances, locks, logs,
  django-apscheduler's job store and executions) are truncated. `--baseline` uses <name>_baseline beside it.
- A redis-server of its own on a free port (or BENCH_REDIS_URL), FLUSHDB before each scenario.
- The jobs: benchmarks/bench_scheduler_jobs.py, through EXTRA_JOB_MODULES, with cron `* * * * *`; every other
  definition is disabled. The schedulers run with LOG_LEVEL=WARNING and LOG_DB_ENABLED=false (this measures the
  scheduler, not the log writer) and DEBUG off (production settings, a throwaway SECRET_KEY).

One scenario:
1. start the schedulers ~35 s before a minute boundary;
2. wait until they are ready: every job in the shared job store, every scheduler beating its heartbeat (its
   housekeeping thread starts after its first load), no run queued or running, and every process idle for a
   second. A scheduler that starts fires the slot of the last minute at once (the restart rule: a due slot within
   the grace time that has no run fires), so this also waits for that warm-up slot to drain; it is not measured;
3. measure the next `--slots` minute boundaries that are at least 12 s away (so that PostgreSQL's statistics of
   the warm-up are flushed before the first snapshot): each slot is drained when every job has a run or a MISSED
   row for it, nothing is queued or running, and every scheduler is idle again; or at slot + grace + 15 s;
4. SIGTERM the schedulers and wait for them (always, also on errors), then read the run rows.

Per slot:
- runs fired: JobRun rows, trigger=scheduled, scheduled_for=slot, status not SKIPPED/MISSED;
- runs/s: runs fired / (last finished_at - slot);
- lateness: started_at - scheduled_for of those runs (p50/p99/max, nearest rank);
- duplicates: SKIPPED/duplicate_slot rows for the slot plus any second run of a (job, slot);
- missing: jobs without a run for the slot; MISSED: MISSED rows for the slot;
- CPU s: user+system CPU of all the scheduler processes from 1 s before the slot until it drained (/proc/<pid>/stat);
- peak RSS MB: the largest VmHWM of the scheduler processes (their lifetime peak, so the warm-up is included);
- transactions, rows inserted, rows updated per run: pg_stat_database deltas (xact_commit + xact_rollback,
  tup_inserted, tup_updated) from 1 s before the slot until 11 s after it drained (PostgreSQL flushes an idle
  backend's counters within 10 s), divided by the runs fired. They include everything the schedulers did in that
  window (heartbeats every 5 s, the reaper), which matters only at small N; this script's own polling statements
  are subtracted. pg_stat_statements is not loaded, so these are transactions, not statements.
The machine is shared: the figures move with its load (printed in the header). Read the shape.

Cross-talk: the schedulers' reload channel (`scheduler:control`) is Redis pub/sub, which is server-wide, not per
database index. Any other process that asks for a reload on the same Redis server (a test, another checkout's
scheduler) makes the benchmark's schedulers reload too, and a reload during a draining slot refires it (issue 17):
duplicate rows and extra cost even with one scheduler. So the benchmark starts a redis-server of its own unless
BENCH_REDIS_URL names one, and it listens on that channel and notes every message that arrived.

`--baseline REF` checks REF out into a temporary `git worktree` (its .venv a symlink to this checkout's), migrates
<database>_baseline with that checkout's `manage.py`, runs the same scenarios with its `runscheduler`, interleaved
with the current code's (scenario by scenario, so that changes in the machine's load hit both alike), and prints
both in one table; the worktree is removed at the end.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/jobsite_bench_sched")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
JOB_MODULE = "bench_scheduler_jobs"
JOB_PREFIX = "bench_noop_"
JOB_LIKE = r"bench\_noop\_%"
CRON = "* * * * *"
GRACE_SECONDS = 60  # SCHEDULER_MISFIRE_GRACE_SECONDS, the project's default (not overridden here)
DRAIN_MARGIN_SECONDS = 15
START_LEAD_SECONDS = 35
STATS_SETTLE_SECONDS = 11  # an idle backend flushes its pending statistics within 10 s (PostgreSQL 15+)
IDLE_CPU_FRACTION = 0.10  # a process using less than this share of one core over IDLE_WINDOW_SECONDS is idle
IDLE_WINDOW_SECONDS = 1.0
POLL_SECONDS = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")
# scheduler_app.scheduler.control.CHANNEL: Redis pub/sub channels are server-wide, not per database index, so a
# reload published by any other process on the shared Redis reaches the benchmark's schedulers too.
CONTROL_CHANNEL = "scheduler:control"
# Production settings (DEBUG off: no per-query recording in the schedulers), with a throwaway key.
SCHEDULER_ENV = {"DJANGO_SETTINGS_MODULE": "jobsite.settings", "DEBUG": "0", "SECRET_KEY": secrets.token_hex(32),
                 "ALLOWED_HOSTS": "localhost", "LOG_LEVEL": "WARNING", "LOG_DB_ENABLED": "false",
                 "EXTRA_JOB_MODULES": JOB_MODULE, "PYTHONUNBUFFERED": "1"}
# what the benchmark empties between scenarios: everything a scheduler writes (the definitions stay)
RUNTIME_TABLE_PATTERNS = ("scheduler\\_app\\_%", "django\\_apscheduler\\_%", "logs\\_app\\_%")
KEPT_TABLES = ("scheduler_app_jobdefinition",)


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def next_boundary(after: float) -> float:
    return (math.floor(after / 60) + 1) * 60


# -- PostgreSQL ---------------------------------------------------------------------------------------------------
def pg_conninfo(url: str, dbname: str | None = None) -> str:
    parsed = urlparse(url)
    if dbname is not None:
        parsed = parsed._replace(path=f"/{dbname}")
    return parsed.geturl().replace("postgres://", "postgresql://", 1)


def pg_name(url: str) -> str:
    name = urlparse(url).path.lstrip("/")
    if not name.startswith("jobsite_bench_sched"):
        raise SystemExit(f"refusing to use database {name!r}: the benchmark's databases are jobsite_bench_sched*")
    return name


def pg_recreate(url: str) -> None:
    name = pg_name(url)
    with psycopg.connect(pg_conninfo(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Poller:
    """The benchmark's one connection to a bench database; it counts its own statements (each one transaction,
    autocommit) so that they can be taken out of pg_stat_database's counts."""

    def __init__(self, url: str):
        self.conn = psycopg.connect(pg_conninfo(url), autocommit=True)
        self.statements = 0

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.statements += 1
        return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple = ()) -> None:
        self.statements += 1
        self.conn.execute(sql, params)

    def flush_stats(self) -> None:
        """Make this backend report its counters now (they are flushed before the reply arrives)."""
        self.rows("SELECT pg_stat_force_next_flush()")

    def close(self) -> None:
        self.conn.close()


@dataclass
class DbStats:
    xacts: int
    inserted: int
    updated: int


def db_stats(admin: psycopg.Connection, name: str) -> DbStats:
    row = admin.execute("SELECT xact_commit + xact_rollback, tup_inserted, tup_updated FROM pg_stat_database "
                        "WHERE datname = %s", (name,)).fetchone()
    return DbStats(*row)


# -- processes ----------------------------------------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of proc(5))


def proc_peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Scheduler:
    """One `manage.py runscheduler` of a checkout, its output in a file."""

    def __init__(self, *, checkout: Path, env: dict, log_path: Path):
        self.log_path = log_path
        self._out = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(checkout / ".venv" / "bin" / "python"), str(checkout / "manage.py"),
                                      "runscheduler"], cwd=checkout, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.cpu_history: list[tuple[float, float]] = []

    def sample(self) -> None:
        self.cpu_history.append((time.monotonic(), proc_cpu_seconds(self.pid)))
        del self.cpu_history[:-40]

    def idle(self) -> bool:
        """Less than IDLE_CPU_FRACTION of a core over the last IDLE_WINDOW_SECONDS (from the samples taken)."""
        now, cpu = self.cpu_history[-1]
        older = [(t, c) for t, c in self.cpu_history if now - t >= IDLE_WINDOW_SECONDS]
        if not older:
            return False
        then, cpu_then = older[-1]
        return (cpu - cpu_then) / (now - then) < IDLE_CPU_FRACTION

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"scheduler pid {self.pid} did not stop in {timeout:g} s after SIGTERM; killing it")
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        return self.proc.returncode


class ControlWatcher(threading.Thread):
    """Records when reload messages arrive on the schedulers' control channel (this script publishes none)."""

    def __init__(self):
        super().__init__(name="control-watcher", daemon=True)
        self.client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(CONTROL_CHANNEL)
        self.arrivals: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                message = self.pubsub.get_message(timeout=0.5)
            except redis.RedisError:
                self.stopping.wait(0.5)
                continue
            if message and message.get("type") == "message":
                self.arrivals.append(time.time())

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.arrivals if start <= t <= end)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        self.pubsub.close()
        self.client.close()


# -- the code under test ------------------------------------------------------------------------------------------
@dataclass
class Code:
    label: str
    checkout: Path
    db_url: str
    commit: str = ""
    stats_offset: int = 0  # what a measured window counts with no scheduler running (see calibrate)

    @property
    def db_name(self) -> str:
        return pg_name(self.db_url)

    def env(self, *, jobs: int, workdir: Path) -> dict:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "USER", "TMPDIR")}
        return {**base, **SCHEDULER_ENV, "DATABASE_URL": self.db_url, "REDIS_URL": REDIS_URL,
                "BENCH_SCHED_JOBS": str(jobs), "PYTHONPATH": str(BENCH_DIR), "LOG_DIR": str(workdir)}

    def prepare(self, *, max_jobs: int, workdir: Path) -> None:
        """A fresh database, migrated by this checkout; its post_migrate seeds a definition for every job."""
        pg_recreate(self.db_url)
        env = self.env(jobs=max_jobs, workdir=workdir)
        done = subprocess.run([str(self.checkout / ".venv" / "bin" / "python"), str(self.checkout / "manage.py"),
                               "migrate", "--no-input", "-v", "0"], cwd=self.checkout, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{self.label}: migrate failed:\n{done.stdout}\n{done.stderr}")

    def calibrate(self) -> None:
        """The transactions a measuring window counts when nothing but this script touches the database (1 on
        PostgreSQL 15: the flush around the first snapshot); taken out of every window."""
        poller = Poller(self.db_url)
        admin = psycopg.connect(pg_conninfo(self.db_url, "postgres"), autocommit=True)
        try:
            offsets = []
            for _ in range(3):
                poller.flush_stats()
                before, statements = db_stats(admin, self.db_name), poller.statements
                for _ in range(5):
                    poller.rows("SELECT count(*) FROM scheduler_app_jobrun")
                poller.flush_stats()
                offsets.append(db_stats(admin, self.db_name).xacts - before.xacts - (poller.statements - statements))
        finally:
            poller.close()
            admin.close()
        self.stats_offset = min(offsets)

    def reset(self, *, jobs: int) -> None:
        """Empty what the schedulers write; enable exactly `jobs` no-op jobs on one cron minute."""
        with psycopg.connect(pg_conninfo(self.db_url), autocommit=True) as conn:
            tables = [row[0] for pattern in RUNTIME_TABLE_PATTERNS for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s", (pattern,))
                if row[0] not in KEPT_TABLES]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
            conn.execute("UPDATE scheduler_app_jobdefinition SET enabled = false WHERE job_id NOT LIKE %s",
                         (JOB_LIKE,))
            conn.execute("UPDATE scheduler_app_jobdefinition SET trigger_type = 'cron', cron = %s, "
                         "enabled = (job_id < %s) WHERE job_id LIKE %s",
                         (CRON, f"{JOB_PREFIX}{jobs:04d}", JOB_LIKE))
            enabled = conn.execute("SELECT count(*) FROM scheduler_app_jobdefinition WHERE enabled").fetchone()[0]
            if enabled != jobs:
                raise SystemExit(f"{self.label}: {enabled} definitions enabled, expected {jobs}")


# -- one scenario -------------------------------------------------------------------------------------------------
@dataclass
class SlotWindow:
    slot: datetime
    cpu_s: float = float("nan")
    stats: DbStats | None = None
    drained: str = ""  # "drained", "deadline" or "overlap"
    drain_seconds: float = float("nan")
    reload_messages: int = 0  # outside reload messages while the slot drained
    reload_messages_settle: int = 0  # ... and after it drained, within its statistics window


@dataclass
class Row:
    code: str
    jobs: int
    schedulers: int
    slot: datetime
    runs: int
    runs_per_s: float
    p50: float
    p99: float
    max: float
    duplicates: int
    missing: int
    missed: int
    cpu_s: float
    rss_mb: float
    tx_per_run: float
    ins_per_run: float
    upd_per_run: float
    drained: str
    notes: list[str] = field(default_factory=list)


def wait_until(wall: float) -> None:
    """Wall-clock waits for a start time or a slot boundary (draining is polled, never slept through)."""
    while (left := wall - time.time()) > 0:
        time.sleep(min(left, 1.0))


def start_time(lead: float) -> float:
    """The next instant `lead` seconds before a minute boundary (now, if that is within a few seconds)."""
    now = time.time()
    boundary = next_boundary(now)
    if boundary - now >= lead - 5:
        return max(now, boundary - lead)
    return boundary + 60 - lead


def check_alive(schedulers: list[Scheduler]) -> None:
    for s in schedulers:
        if s.proc.poll() is not None:
            raise RuntimeError(f"scheduler pid {s.pid} exited with {s.proc.returncode}:\n{s.tail()}")


def wait_ready(poller: Poller, schedulers: list[Scheduler], *, jobs: int, timeout: float) -> None:
    pids = [s.pid for s in schedulers]
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        check_alive(schedulers)
        for s in schedulers:
            s.sample()
        state = poller.rows(
            "SELECT (SELECT count(*) FROM django_apscheduler_djangojob WHERE id LIKE %s), "
            "(SELECT count(*) FROM scheduler_app_schedulerinstance WHERE pid = ANY(%s) AND heartbeat_at > started_at "
            "AND stopped_at IS NULL), "
            "(SELECT count(*) FROM scheduler_app_jobrun WHERE status IN ('QUEUED', 'RUNNING'))",
            (JOB_LIKE, pids))[0]
        stored, beating, active = state
        if stored == jobs and beating == len(schedulers) and active == 0 and all(s.idle() for s in schedulers):
            return
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"schedulers not ready after {timeout:.0f} s (jobs stored, schedulers beating, runs active: "
                       f"{state}):\n" + "\n---\n".join(s.tail() for s in schedulers))


def slot_drained(poller: Poller, schedulers: list[Scheduler], slot: datetime, jobs: int) -> bool:
    accounted, active = poller.rows(
        "SELECT count(DISTINCT job_id) FILTER (WHERE scheduled_for = %s AND status <> 'SKIPPED'), "
        "count(*) FILTER (WHERE status IN ('QUEUED', 'RUNNING')) "
        "FROM scheduler_app_jobrun WHERE job_id LIKE %s", (slot, JOB_LIKE))[0]
    return accounted == jobs and active == 0 and all(s.idle() for s in schedulers)


def cpu_total(schedulers: list[Scheduler]) -> float:
    return sum(proc_cpu_seconds(s.pid) for s in schedulers)


def measure_slots(code: Code, poller: Poller, admin: psycopg.Connection, schedulers: list[Scheduler],
                  watcher: ControlWatcher, *, jobs: int, slots: int) -> list[SlotWindow]:
    first = next_boundary(time.time())
    if first - time.time() < STATS_SETTLE_SECONDS + 1:
        first += 60
    windows = [SlotWindow(datetime.fromtimestamp(first + 60 * i, UTC)) for i in range(slots)]
    carried: tuple[float, DbStats, int] | None = None  # the snapshot an overlapping slot hands to the next
    for index, window in enumerate(windows):
        boundary = window.slot.timestamp()
        next_start = boundary + 60 - 1 if index + 1 < slots else math.inf
        if carried is None:
            wait_until(boundary - 1)
            poller.flush_stats()
            carried = (cpu_total(schedulers), db_stats(admin, code.db_name), poller.statements)
        cpu0, stats0, statements0 = carried
        deadline = boundary + GRACE_SECONDS + DRAIN_MARGIN_SECONDS
        while True:
            check_alive(schedulers)
            for s in schedulers:
                s.sample()
            now = time.time()
            if now >= boundary and slot_drained(poller, schedulers, window.slot, jobs):
                window.drained = "drained"
                break
            if now >= deadline:
                window.drained = "deadline"
                break
            if now >= next_start:
                window.drained = "overlap"
                break
            time.sleep(POLL_SECONDS)
        window.drain_seconds = time.time() - boundary
        window.reload_messages = watcher.between(boundary - 1, time.time())
        window.cpu_s = cpu_total(schedulers) - cpu0
        if window.drained != "overlap":
            wait_until(min(time.time() + STATS_SETTLE_SECONDS, next_start - 0.5))
        poller.flush_stats()
        cpu1, stats1 = cpu_total(schedulers), db_stats(admin, code.db_name)
        window.reload_messages_settle = watcher.between(boundary - 1, time.time()) - window.reload_messages
        own = poller.statements - statements0 + code.stats_offset
        window.stats = DbStats(stats1.xacts - stats0.xacts - own, stats1.inserted - stats0.inserted,
                               stats1.updated - stats0.updated)
        log(f"  slot {window.slot:%H:%M}: {window.drained} after {window.drain_seconds:.1f} s")
        carried = (cpu1, stats1, poller.statements) if window.drained == "overlap" else None
    return windows


def per_run(value: float, runs: int) -> float:
    return value / runs if runs else float("nan")


def slot_rows(poller: Poller, code: Code, jobs: int, schedulers: int, windows: list[SlotWindow],
              rss_mb: float) -> list[Row]:
    rows = []
    for window in windows:
        records = poller.rows(
            "SELECT job_id, status, skip_reason, started_at, finished_at FROM scheduler_app_jobrun "
            "WHERE trigger = 'scheduled' AND scheduled_for = %s AND job_id LIKE %s", (window.slot, JOB_LIKE))
        runs = [r for r in records if r[1] not in ("SKIPPED", "MISSED")]
        per_job = Counter(r[0] for r in runs)
        lateness = [(r[3] - window.slot).total_seconds() for r in runs if r[3] is not None]
        ends = [(r[4] or r[3]) for r in runs if (r[4] or r[3]) is not None]
        drain = (max(ends) - window.slot).total_seconds() if ends else float("nan")
        duplicates = sum(1 for r in records if r[1] == "SKIPPED" and r[2] == "duplicate_slot") \
            + sum(n - 1 for n in per_job.values())
        n_runs = len(runs)
        stats = window.stats
        notes = []
        others = Counter(f"{r[1]}/{r[2] or '-'}" for r in records
                         if r[1] != "SUCCEEDED" and not (r[1] == "SKIPPED" and r[2] == "duplicate_slot"))
        if others:
            notes.append("other rows: " + ", ".join(f"{k} {v}" for k, v in sorted(others.items())))
        if len(lateness) < n_runs:
            notes.append(f"{n_runs - len(lateness)} run(s) without started_at")
        if window.reload_messages:
            notes.append(f"{window.reload_messages} reload message(s) from another process on the shared Redis "
                         f"({CONTROL_CHANNEL}) reached the schedulers while the slot drained: a reload during a "
                         f"draining slot refires it (issue 17), so its duplicates and costs are not the slot's own")
        if window.reload_messages_settle:
            notes.append(f"{window.reload_messages_settle} outside reload message(s) after the slot drained, within "
                         f"its statistics window: the transactions and rows per run include those reloads")
        if window.drained != "drained":
            notes.append(f"not drained ({window.drained}) after {window.drain_seconds:.0f} s"
                         + ("; its CPU and database figures stop 1 s before the next slot, whose figures carry "
                            "the rest" if window.drained == "overlap" else ""))

        rows.append(Row(code=code.label, jobs=jobs, schedulers=schedulers, slot=window.slot, runs=n_runs,
                        runs_per_s=n_runs / drain if drain and drain > 0 else float("nan"),
                        p50=pct(lateness, 0.5) if lateness else float("nan"),
                        p99=pct(lateness, 0.99) if lateness else float("nan"),
                        max=max(lateness) if lateness else float("nan"),
                        duplicates=duplicates, missing=jobs - len(per_job),
                        missed=sum(1 for r in records if r[1] == "MISSED"), cpu_s=window.cpu_s, rss_mb=rss_mb,
                        tx_per_run=per_run(stats.xacts, n_runs), ins_per_run=per_run(stats.inserted, n_runs),
                        upd_per_run=per_run(stats.updated, n_runs), drained=window.drained, notes=notes))
    # rows for slots other than the measured ones, written while they were measured (a late or refired slot)
    stray = poller.rows(
        "SELECT status, skip_reason, count(*) FROM scheduler_app_jobrun WHERE job_id LIKE %s "
        "AND created_at >= %s AND NOT (scheduled_for = ANY(%s)) GROUP BY 1, 2 ORDER BY 1, 2",
        (JOB_LIKE, windows[0].slot - timedelta(seconds=1), [w.slot for w in windows]))
    if stray and rows:
        rows[-1].notes.append("rows for other slots written meanwhile: "
                              + ", ".join(f"{s}/{r or '-'} {n}" for s, r, n in stray))
    return rows


def run_scenario(code: Code, *, jobs: int, schedulers: int, slots: int, max_jobs: int, workdir: Path,
                 lead: float) -> list[Row]:
    started = time.monotonic()
    code.reset(jobs=jobs)
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    client.flushdb()
    client.close()
    scenario_dir = workdir / f"{code.label.split()[0]}-{jobs}-{schedulers}"
    scenario_dir.mkdir(parents=True, exist_ok=True)
    env = code.env(jobs=max_jobs, workdir=scenario_dir)
    poller = Poller(code.db_url)
    admin = psycopg.connect(pg_conninfo(code.db_url, "postgres"), autocommit=True)
    procs: list[Scheduler] = []
    watcher = ControlWatcher()
    watcher.start()
    try:
        wait_until(start_time(lead))
        log(f"{code.label}: {jobs} jobs, {schedulers} scheduler(s): starting")
        launched = time.monotonic()
        procs = [Scheduler(checkout=code.checkout, env=env, log_path=scenario_dir / f"runscheduler-{i}.log")
                 for i in range(schedulers)]
        wait_ready(poller, procs, jobs=jobs, timeout=120 + 0.15 * jobs * schedulers)
        log(f"  ready {time.monotonic() - launched:.0f} s after the start")
        warmup_reloads = len(watcher.arrivals)
        windows = measure_slots(code, poller, admin, procs, watcher, jobs=jobs, slots=slots)
        rss = max(proc_peak_rss_mb(s.pid) for s in procs)
    finally:
        codes = [s.stop() for s in procs]
        watcher.stop()
        admin.close()
    try:
        bad = [(s.pid, rc) for s, rc in zip(procs, codes, strict=True) if rc != 0]
        rows = slot_rows(poller, code, jobs, schedulers, windows, rss)
        if warmup_reloads:
            rows[0].notes.append(f"{warmup_reloads} outside reload message(s) during start-up and warm-up (harmless "
                                 f"to the figures)")
        if bad:
            rows[-1].notes.append(f"scheduler exit codes {bad}")
        tracebacks = [s.pid for s in procs if "Traceback" in s.tail(10_000)]
        if tracebacks:
            rows[-1].notes.append(f"tracebacks in the output of pid(s) {tracebacks} (see {scenario_dir})")
    finally:
        poller.close()
    log(f"  done in {time.monotonic() - started:.0f} s ({len(watcher.arrivals)} outside reload message(s) seen)")
    return rows


# -- report -------------------------------------------------------------------------------------------------------
def fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    header = ("code", "jobs due together", "schedulers", "slot", "runs fired", "runs/s", "lateness p50 s",
              "p99 s", "max s", "duplicates", "missing", "MISSED", "CPU s", "peak RSS MB", "transactions/run",
              "rows inserted/run", "rows updated/run")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = (r.code, str(r.jobs), str(r.schedulers), f"{r.slot:%H:%M}", str(r.runs), fmt(r.runs_per_s, 0),
                 fmt(r.p50), fmt(r.p99), fmt(r.max), str(r.duplicates), str(r.missing), str(r.missed),
                 fmt(r.cpu_s, 1), fmt(r.rss_mb, 0), fmt(r.tx_per_run, 1), fmt(r.ins_per_run, 1),
                 fmt(r.upd_per_run, 1))
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r.code}, {r.jobs} jobs, {r.schedulers} scheduler(s), slot {r.slot:%H:%M}: {note}"
             for r in rows for note in r.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else float("nan")


def targets(rows: list[Row], label: str) -> list[str]:
    mine = [r for r in rows if r.code == label]
    out = [f"Targets (issue 14), {label}:"]
    bad = [r for r in mine if r.missing or r.duplicates or r.missed]
    out.append(f"- every slot runs once: {'met' if not bad else 'NOT met'} "
               f"({sum(r.missing for r in mine)} missing, {sum(r.duplicates for r in mine)} duplicate, "
               f"{sum(r.missed for r in mine)} MISSED over {len(mine)} measured slot(s))")
    one_k = [r for r in mine if r.jobs == 1000 and r.schedulers == 1]
    if one_k:
        worst = max(r.p99 for r in one_k)
        out.append(f"- p99 lateness <= 2 s with one scheduler for 1,000 jobs: {'met' if worst <= 2 else 'NOT met'} "
                   f"(p99 {fmt(worst)} s; {fmt(mean([r.runs_per_s for r in one_k]), 0)} runs/s, target >= 500)")
    else:
        out.append("- p99 lateness <= 2 s with one scheduler for 1,000 jobs: not measured (1000 not in --jobs)")
    sizes = sorted({r.jobs for r in mine if r.schedulers == 3} & {r.jobs for r in mine if r.schedulers == 1})
    if sizes:
        n = 1000 if 1000 in sizes else sizes[-1]
        one = [r for r in mine if r.jobs == n and r.schedulers == 1]
        three = [r for r in mine if r.jobs == n and r.schedulers == 3]
        rate1, rate3 = mean([r.runs_per_s for r in one]), mean([r.runs_per_s for r in three])
        dups = sum(r.duplicates for r in three)
        met = rate3 >= rate1 and dups == 0
        out.append(f"- three schedulers drain at least as fast as one, with 0 duplicates ({n} jobs"
                   f"{'' if n == 1000 else '; the target is for 1,000'}): {'met' if met else 'NOT met'} "
                   f"({fmt(rate3, 0)} vs {fmt(rate1, 0)} runs/s, {dups} duplicates)")
        extra = (mean([r.tx_per_run for r in three]) - mean([r.tx_per_run for r in one])) / 2
        out.append(f"- a losing scheduler's attempt costs <= 1 statement: indicative only, {fmt(extra, 1)} extra "
                   f"transactions per run per extra scheduler at {n} jobs (transactions, not statements)")
    else:
        out.append("- three schedulers vs one: not measured (--schedulers needs both 1 and 3)")
    return out


def header(codes: list[Code], args) -> str:
    with psycopg.connect(pg_conninfo(PG_URL, "postgres"), autocommit=True) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    redis_version = client.info("server").get("redis_version")
    client.close()
    python = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-V"], capture_output=True,
                            text=True).stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [f"# Scheduler scale benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
    for code in codes:
        lines.append(f"- {code.label}: commit {code.commit} ({code.checkout})")
    lines += [f"- {python}, PostgreSQL {pg_version}, Redis {redis_version} ({REDIS_URL}), {os.cpu_count()} CPUs "
              f"({platform.machine()}), load average at start {load}",
              f"- schedulers run with {' '.join(f'{k}={v}' for k, v in _shown(SCHEDULER_ENV).items())}; "
              f"misfire grace {GRACE_SECONDS} s (default); cron {CRON!r}; --jobs {args.jobs} --schedulers "
              f"{args.schedulers} --slots {args.slots}"]
    return "\n".join(lines)


def commit_of(checkout: Path) -> str:
    sha = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=True).stdout.strip()
    return sha + (" + uncommitted changes" if dirty else "")


def baseline_checkout(ref: str, parent: Path) -> Path:
    path = parent / "baseline-checkout"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref], check=True,
                   capture_output=True, text=True)
    venv = path / ".venv"
    if not venv.exists():
        venv.symlink_to((ROOT / ".venv").resolve())
    return path


def _interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _shown(env: dict) -> dict:
    return {k: "<throwaway>" if k == "SECRET_KEY" else v for k, v in env.items()}


def redis_server_start() -> subprocess.Popen:
    """A redis-server of the benchmark's own on a free port: pub/sub channels are server-wide, so on a shared Redis
    other processes' reload messages would reach the benchmark's schedulers."""
    global REDIS_URL  # noqa: PLW0603 - read by every scenario
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    REDIS_URL = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return proc
        except redis.exceptions.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("could not start a redis-server for the benchmark") from None
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default="10,100,500,1000", help="comma-separated N (jobs due together)")
    parser.add_argument("--schedulers", default="1,3", help="comma-separated scheduler counts")
    parser.add_argument("--slots", type=int, default=1, help="minute slots measured per scenario")
    parser.add_argument("--baseline", metavar="REF", help="also run this git ref's code, from a temporary worktree")
    parser.add_argument("--start-lead", type=float, default=START_LEAD_SECONDS,
                        help="start the schedulers this many seconds before a minute boundary")
    parser.add_argument("--keep-logs", action="store_true", help="keep the schedulers' output directory")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)  # so that the finally blocks stop the schedulers
    job_counts = [int(x) for x in args.jobs.split(",")]
    scheduler_counts = [int(x) for x in args.schedulers.split(",")]
    if not job_counts or min(job_counts) < 1 or max(job_counts) > 9999 or args.slots < 1 \
            or min(scheduler_counts) < 1:
        parser.error("--jobs between 1 and 9999, --schedulers and --slots at least 1")
    max_jobs = max(job_counts)
    pg_name(PG_URL)
    private_redis = None if "BENCH_REDIS_URL" in os.environ else redis_server_start()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    baseline_path: Path | None = None
    codes = []
    rows: list[Row] = []
    try:
        if args.baseline:
            baseline_path = baseline_checkout(args.baseline, workdir)
            base_url = urlparse(PG_URL)._replace(path=f"/{pg_name(PG_URL)}_baseline").geturl()
            codes.append(Code(f"baseline {args.baseline}", baseline_path, base_url, commit_of(baseline_path)))
        codes.append(Code("current", ROOT, PG_URL, commit_of(ROOT)))
        print(header(codes, args), flush=True)
        for code in codes:
            log(f"{code.label}: creating and migrating {code.db_name}")
            code.prepare(max_jobs=max_jobs, workdir=workdir)
            code.calibrate()
            log(f"{code.label}: a measuring window with no scheduler counts {code.stats_offset} transaction(s)")
        for jobs in job_counts:
            for schedulers in scheduler_counts:
                for code in codes:  # interleaved, so that a change in the machine's load hits both sides alike
                    rows += run_scenario(code, jobs=jobs, schedulers=schedulers, slots=args.slots,
                                         max_jobs=max_jobs, workdir=workdir, lead=args.start_lead)
    finally:
        if private_redis is not None:
            private_redis.terminate()
            private_redis.wait(timeout=10)
        if baseline_path is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline_path)],
                           capture_output=True, text=True)
        if rows:
            print()
            print(table(rows))
            for code in codes:
                print()
                print("\n".join(targets(rows, code.label)))
        keep = args.keep_logs or not rows or any("traceback" in note or "exit code" in note
                                                  for r in rows for note in r.notes)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if rows:
            print(f"\nTotal time {time.monotonic() - started:.0f} s; load average at end "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
                  + (f"; scheduler output kept in {workdir}" if keep else ""), flush=True)


if __name__ == "__main__":
    main()
