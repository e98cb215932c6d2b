"""Chaos, the storm: a mixed-trigger storm of CHAOS_STORM_TRIGGERS triggers of one job, from
  - 3 threads of this process:           services.job_run(trigger="api")
  - 2 processes of their own:            services.job_run(trigger="admin") / direct calls of the decorated function
  - a loop of `manage.py runjob` processes (trigger "cli"), some with --wait
  - one holder (`runjob --wait 20`) killed with kill -9 once its run has started,
with random short holds, and the test's own Redis restarted empty twice during the storm.

In quorum mode (REDIS_MODE=quorum over three independent masters, a reduced profile of CHAOS_QUORUM_STORM_TRIGGERS)
one master is killed a third of the way in; at two thirds it comes back empty and another master is killed, so one
of three is always down from then on and the holders' renewals set their keys again on the one that came back.

Afterwards: no overlapping runs (record start/end lines, and JobRun started_at/finished_at), no stale commits, a
JobRun row for every trigger (counted in the record), no job_lock:* key left, nothing RUNNING or QUEUED (after one
lease and the reaper, `manage.py locks clear-stale`, which the killed holder's run may need).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest
from django.db import connection

from scheduler_app import services
from tests.chaos.chaos_jobs import record
from tests.chaos.conftest import env_int
from tests.chaos.harness import (
    JOB,
    ROOT,
    db_intervals,
    describe_runs,
    output,
    overlaps,
    runs,
    stale_commits,
    started_map,
    stop_process,
    storm_params,
    wait_exit,
    wait_for,
    written_rows,
)

LEASE = 3.0
TRIGGERS = {"standalone": env_int("CHAOS_STORM_TRIGGERS", 160),
            "quorum": env_int("CHAOS_QUORUM_STORM_TRIGGERS", 60)}

# pytest-timeout's per-test limit (300 s in pyproject.toml) scaled to the storm's size.
pytestmark = [pytest.mark.slow, pytest.mark.real_redis, pytest.mark.timeout(240 + max(TRIGGERS.values()) // 2)]


class Storm:
    def __init__(self, chaos, target: int) -> None:
        self.chaos = chaos
        self.target = target
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.victim_pid: int | None = None
        self.victim_run: int | None = None
        self.killed_at: float | None = None
        self.lock = threading.Lock()

    def fired(self) -> int:
        return len(self.chaos.record().triggers)

    def done(self) -> bool:
        return self.stop.is_set() or self.fired() >= self.target

    def api_thread(self, name: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            n = 0
            while not self.done():
                record(f"trigger {name} {n}")
                try:
                    services.job_run(job_id=JOB, trigger="api", params=storm_params(rng),
                                     wait_seconds=rng.choice([0, 0, 0, 0, 0.3, 1.0]))
                except Exception as exc:  # noqa: BLE001 - a trigger must never crash; reported below
                    with self.lock:
                        self.errors.append(f"{name} trigger {n}: {type(exc).__name__}: {exc}")
                n += 1
                time.sleep(rng.uniform(0.02, 0.12))
        finally:
            connection.close()

    def cli_loop(self, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not self.done():
            params = storm_params(rng)
            args = ["runjob", JOB, *(f"--param={k}={v}" for k, v in params.items())]
            if rng.random() < 0.3:
                args += ["--wait", "1"]
            record(f"trigger cli {n}")
            proc = self.chaos.procs.manage(*args, name=f"storm-cli-{n}")
            try:
                code = proc.wait(120)
            except Exception:  # noqa: BLE001
                code = None
            out, err = output(proc)
            if code not in (0, 1, 3) or "Traceback" in err:
                with self.lock:
                    self.errors.append(f"runjob #{n} exit {code}: {err[-600:]}")
            n += 1

    def victim(self) -> None:
        """A holder that waits for the lock, runs, and is killed with kill -9 once its body has begun."""
        for attempt in range(10):
            record(f"trigger victim {attempt}")
            proc = self.chaos.procs.manage("runjob", JOB, "--wait", "20", "--param", "iterations=200",
                                           "--param", "pause_ms=20", name=f"storm-victim-{attempt}")

            def started(p=proc):
                run_id = self.chaos.record().run_of_pid(p.pid)
                return run_id or (p.poll() is not None and "exited")

            outcome = wait_for(started, 90, "the storm's victim to start or exit")
            if outcome != "exited":
                self.killed_at = time.time()
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                self.victim_pid, self.victim_run = proc.pid, outcome
                return
        with self.lock:
            self.errors.append("the victim never got to run in 10 launches")


class Disruptions:
    """What the storm does to Redis at a third and at two thirds of the way, and what it checks afterwards."""

    def __init__(self, chaos, mode: str) -> None:
        self.chaos = chaos
        self.mode = mode
        self.masters = chaos.use_quorum() if mode == "quorum" else None
        self.done = 0

    def strike(self) -> None:
        if self.masters is None:
            self.chaos.restart_redis()
        elif self.done == 0:
            self.masters.servers[0].kill()
        else:
            self.masters.servers[0].start()  # back, empty
            self.masters.servers[1].kill()
        self.done += 1

    def problems(self) -> list[str]:
        if self.masters is None:
            restarts = self.chaos.redis.restarts
            return [] if restarts >= 2 else [f"Redis was restarted {restarts} times, not 2"]
        down = [s.port for s in self.masters.servers if not s.alive]
        return [] if self.done == 2 and len(down) == 1 else [f"{self.done} disruptions, masters down: {down}"]

    def lock_keys(self) -> list[str]:
        if self.masters is None:
            return self.chaos.redis.lock_keys()
        return sorted(f"{s.port}:{k.decode()}" for s in self.masters.servers if s.alive
                      for k in s.client().scan_iter(match="job_lock:*", count=500))

    def describe(self) -> str:
        if self.masters is None:
            return f"Redis restarts {self.chaos.redis.restarts}"
        return f"quorum of {len(self.masters.servers)} masters, {self.done} disruptions"


@pytest.mark.parametrize("mode", ["standalone", "quorum"])
def test_mixed_trigger_storm(chaos, mode):
    chaos.set_lease(LEASE)
    disruptions = Disruptions(chaos, mode)
    target = TRIGGERS[mode]
    storm = Storm(chaos, target)
    go = chaos.workdir / "go"
    workers = [
        chaos.procs.python(ROOT / "tests" / "chaos" / "storm_worker.py", f"proc-{mode}", mode,
                           str(max(1, target // 4)), str(chaos.seed + i), str(go), name=f"storm-{mode}")
        for i, mode in enumerate(["admin", "direct"])
    ]
    threads = [threading.Thread(target=storm.api_thread, args=(f"api-{i}", chaos.seed + 10 + i), daemon=True)
               for i in range(3)]
    threads.append(threading.Thread(target=storm.cli_loop, args=(chaos.seed + 20,), daemon=True))
    began = time.monotonic()
    go.touch()
    for thread in threads:
        thread.start()
    victim = threading.Thread(target=storm.victim, daemon=True)
    try:
        wait_for(lambda: storm.fired() >= target // 6, 300, f"{target // 6} triggers", step=0.05)
        victim.start()
        wait_for(lambda: storm.fired() >= target // 3, 300, f"{target // 3} triggers", step=0.05)
        disruptions.strike()
        wait_for(lambda: storm.fired() >= 2 * target // 3, 300, f"{2 * target // 3} triggers", step=0.05)
        disruptions.strike()
        wait_for(storm.done, 600, f"{target} triggers", step=0.1)
        victim.join(120)
        for worker in workers:
            wait_exit(worker, 300, "a storm worker process")
            err = output(worker)[1]
            if worker.returncode != 0 or "Traceback" in err:
                storm.errors.append(f"worker exit {worker.returncode}: {err[-1500:]}")
        for thread in threads:
            thread.join(300)
    finally:
        storm.stop.set()
        for worker in workers:
            stop_process(worker)
    stormed = time.monotonic() - began

    problems: list[str] = list(storm.errors)
    rec = chaos.record()
    problems += [line for line in rec.other if line.startswith("error ")]
    problems += disruptions.problems()
    if storm.victim_run is None:
        problems.append("no holder was killed with kill -9")

    # Nothing stuck: once every trigger has returned, only the killed holder's run may still be RUNNING.
    def settled():
        left = [r.pk for r in runs(status__in=["RUNNING", "QUEUED"]) if r.pk != storm.victim_run]
        return not left

    wait_for(settled, 30, "every run but the killed one to finish")
    time.sleep(LEASE)  # one lease, then the reaper (allowed at the very end, for the killed holder's run)
    reaper = chaos.procs.manage("locks", "clear-stale", name="clear-stale")
    assert wait_exit(reaper, 120, "locks clear-stale") == 0, output(reaper)[1][-1500:]

    stuck = [f"run {r.pk} {r.status}" for r in runs(status__in=["RUNNING", "QUEUED"])]
    if stuck:
        problems.append(f"stuck after one lease and the reaper: {stuck}")
    keys = disruptions.lock_keys()
    if keys:
        problems.append(f"lock keys left in Redis: {keys}")
    rows = runs()
    if len(rows) != len(rec.triggers):
        problems.append(f"{len(rec.triggers)} triggers recorded but {len(rows)} JobRun rows")

    intervals, status = db_intervals(rec)
    problems += overlaps(intervals, "JobRun RUNNING intervals", status)
    file_intervals = {}
    for run_id, (start, _pid) in rec.starts.items():
        if run_id in rec.ends:
            file_intervals[run_id] = (start, rec.ends[run_id][0])
        elif run_id == storm.victim_run:
            file_intervals[run_id] = (start, storm.killed_at)
        else:
            problems.append(f"run {run_id} has a start line but no end line (its process was not killed)")
    problems += overlaps(file_intervals, "record start/end intervals", status)
    problems += stale_commits(rec, written_rows(), started_map())

    counts: dict[str, int] = {}
    for run in rows:
        counts[run.status] = counts.get(run.status, 0) + 1
    summary = (f"storm of {len(rec.triggers)} triggers in {stormed:.0f} s: {sorted(counts.items())}, "
               f"{len(rec.starts)} bodies ran, {len(written_rows())} rows written, victim run {storm.victim_run}, "
               f"{disruptions.describe()} {chaos.where()}")
    print(summary)
    assert not problems, f"{summary}\n" + "\n".join(f"  - {p}" for p in problems[:40]) + (
        f"\nruns (last 60):\n{describe_runs()}")
