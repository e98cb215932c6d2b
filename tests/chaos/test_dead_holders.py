"""Chaos: a holder that is gone (kill -9) or stuck inside its transaction (SIGSTOP).

5. kill -9 of the holder: a fail-fast trigger succeeds within lease + 1 s, without the reaper (`locks clear-stale`).
6. SQLite: a holder frozen inside ctx.atomic() keeps the database write lock; another `runjob` with a 1 s busy
   timeout must end with exit 4 and a one-line error, no traceback.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from tests.chaos.harness import (
    JOB,
    WarmPool,
    describe_runs,
    output,
    proc_state,
    result_of,
    run_status,
    runs,
    start_holder,
    wait_exit,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \[[A-Z]+\] ")


def test_killed_holder_stops_blocking_within_lease_plus_one_second(chaos):
    lease = 2.0
    chaos.set_lease(lease)
    # Enough warm triggers for an attempt every ~0.25 s from half a lease to lease + 1 s, all started before the
    # kill: starting replacements meanwhile would take the CPU the attempts need on a loaded machine.
    pool = WarmPool(chaos.procs, size=8, refill=False)
    holder, a_run = start_holder(chaos, iterations=2000)
    pool.wait_ready()

    def heartbeat_written() -> bool:
        run = runs(pk=a_run)[0]
        return run.heartbeat_at is not None and run.heartbeat_at > run.started_at

    wait_for(heartbeat_written, 10, "the holder's first heartbeat")
    time.sleep(chaos.rng.uniform(0, lease / 3))  # a random moment of its renewal period
    killed = time.time()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    attempts: list[str] = []
    last_fire = 0.0
    success = None
    deadline = time.monotonic() + 3 * lease + 10
    wait_for(lambda: time.time() >= killed + lease / 2, 5, "half a lease")  # earlier cannot succeed: keep the pool
    while success is None and time.monotonic() < deadline:
        time.sleep(max(0.0, last_fire + 0.25 - time.time()))  # cadence of the polling triggers
        trigger = pool.fire("runjob", JOB, "--param", "iterations=1")
        # Judged by its printed result line: the next attempt need not wait for this process's exit.
        wait_for(lambda t=trigger: result_of(t.proc) or t.proc.poll() is not None, 60, "a trigger's result")
        last_fire = trigger.fired_at
        result = result_of(trigger.proc)
        status = result[1] if result else f"exit {trigger.proc.poll()}"
        attempts.append(f"+{trigger.fired_at - killed:.2f}s {status}")
        if result and result[1] == "SUCCEEDED":
            success = result[0]
        elif not result or result[1] != "SKIPPED":
            raise AssertionError(f"trigger ended {status}: {output(trigger.proc)[1][-1500:]}")
    assert success is not None, f"no trigger succeeded within {3 * lease + 10:.0f} s of the kill: {attempts}"
    after = runs(pk=success)[0].started_at.timestamp() - killed
    assert after <= lease + 1.0, (
        f"the first successful trigger's run {success} started {after:.2f} s after kill -9 of the holder "
        f"(lease {lease:g} s, limit lease + 1 s = {lease + 1:g} s); attempts: {', '.join(attempts)}\n"
        f"runs:\n{describe_runs()} {chaos.where()}"
    )
    assert run_status(a_run) == "ABANDONED", f"the killed holder's run {a_run} is {run_status(a_run)}"


def test_trigger_behind_a_held_write_lock_fails_cleanly(chaos):
    """Finding 6. SQLite: a holder stopped inside ctx.atomic() keeps the database's one write lock. PostgreSQL has no
    such lock; there the run table is held by another transaction (a migration, say) past the trigger's
    lock_timeout. Either way the trigger cannot write its run row: it must exit 4 with one clear line."""
    from django.db import connection

    if connection.vendor != "sqlite":
        _postgres_run_table_locked(chaos)
        return
    chaos.set_lease(3.0)
    holder = chaos.procs.manage("runjob", JOB, "--param", "iterations=10", "--param", "pause_ms=10",
                                "--param", "stop_inside=2", name="holder")

    def frozen_inside():
        if holder.poll() is not None:
            raise AssertionError(f"holder exited ({holder.returncode}): {output(holder)[1][-1500:]}")
        rec = chaos.record()
        run_id = rec.run_of_pid(holder.pid)
        return run_id if run_id in rec.inside and proc_state(holder.pid) == "T" else None

    wait_for(frozen_inside, 60, "the holder to stop itself inside ctx.atomic()")
    began = time.monotonic()
    trigger = chaos.procs.manage("runjob", JOB, env={**chaos.env, "SQLITE_BUSY_TIMEOUT_SECONDS": "1"},
                                 name="busy-trigger")
    code = wait_exit(trigger, 60, "the trigger behind SQLite's write lock")
    took = time.monotonic() - began
    out, err = output(trigger)
    assert "Traceback" not in err, (
        f"runjob printed a traceback (exit {code}, {took:.1f} s), ending:\n" + "\n".join(err.splitlines()[-3:])
    )
    messages = [line for line in err.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert code == 4, f"expected exit 4 (unavailable), got {code} after {took:.1f} s; stderr:\n{err[-2000:]}"
    assert len(messages) == 1 and re.search(r"database|unavailable|locked|busy", messages[0], re.I), (
        f"expected one clear error line on stderr (besides log lines), got {messages}"
    )
    assert took < 20, f"the trigger took {took:.1f} s with a 1 s busy timeout"
    os.kill(holder.pid, signal.SIGCONT)
    wait_exit(holder, 60, "the holder after SIGCONT")


def _postgres_run_table_locked(chaos) -> None:
    import psycopg
    from django.db import connection

    sd = connection.settings_dict
    blocker = psycopg.connect(host=sd["HOST"] or "127.0.0.1", port=sd["PORT"] or 5432, user=sd["USER"],
                              dbname=sd["NAME"])
    try:
        blocker.execute("LOCK TABLE scheduler_app_jobrun IN ACCESS EXCLUSIVE MODE")
        began = time.monotonic()
        trigger = chaos.procs.manage("runjob", JOB, env={**chaos.env, "PGOPTIONS": "-c lock_timeout=1000"},
                                     name="locked-trigger")
        code = wait_exit(trigger, 60, "the trigger behind the locked run table")
        took = time.monotonic() - began
    finally:
        blocker.rollback()
        blocker.close()
    out, err = output(trigger)
    assert "Traceback" not in err, "runjob printed a traceback:\n" + "\n".join(err.splitlines()[-3:])
    messages = [line for line in err.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert code == 4, f"expected exit 4 (unavailable), got {code} after {took:.1f} s; stderr:\n{err[-2000:]}"
    assert len(messages) == 1 and re.search(r"database|unavailable|locked|busy", messages[0], re.I), messages
    assert not chaos.redis.client().keys("job_lock:*"), "the trigger left its lock behind"
