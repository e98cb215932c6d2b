"""Chaos: a writer frozen (SIGSTOP) past its lease while a newer run takes over.

1. Pause between the fence check and COMMIT: stopped at a random moment of a loop of ctx.atomic() writes.
2. Redis restarted empty under the frozen writer: the lock store forgets everything while the writer sleeps.

Each trial: writer A runs `runjob chaos_writer` (lease 1 s); at a random moment it is SIGSTOPped; fail-fast triggers
B are fired (warm `manage.py runjob`) until one takes over the dead-looking holder; then A gets SIGCONT.
Judged from the record and the table: no row of A committed after B started (not in B's `saw` set), no two runs
RUNNING at once (JobRun started_at/finished_at), and A's row, once terminal, never changes again.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.chaos.conftest import env_float, env_int
from tests.chaos.harness import (
    JOB,
    TERMINAL,
    WarmPool,
    db_intervals,
    describe_runs,
    output,
    overlaps,
    run_status,
    stale_commits,
    started_map,
    wait_exit,
    wait_for,
    written_rows,
)

LEASE = 1.0
TRIALS = env_int("CHAOS_TRIALS", 3)

# pytest-timeout's per-test limit (300 s in pyproject.toml) scaled to the trial count: ~10 s a trial when loaded.
pytestmark = [pytest.mark.slow, pytest.mark.real_redis, pytest.mark.timeout(120 + 20 * TRIALS)]


def frozen_trial(chaos, pool: WarmPool, *, trial: int, writer_env: dict, pause_ms: float, restart_redis: bool,
                 first_attempt_after: float) -> tuple[list[str], str, bool]:
    """One trial. Returns (problems, a one-line description of what happened, whether B took over while A was
    stopped)."""
    rng = chaos.rng
    before = set(chaos.record().starts)
    # Writes for 6 s of monotonic time (a SIGSTOP counts): still writing when stopped, and after it wakes.
    writer = chaos.procs.manage("runjob", JOB, "--param", "iterations=100000", "--param", "seconds=6",
                                "--param", f"pause_ms={pause_ms}", env=writer_env, name=f"t{trial}-writer")

    def writer_run():
        if writer.poll() is not None:
            out, err = output(writer)
            raise AssertionError(f"writer exited ({writer.returncode}) before it was stopped: {err[-1500:]}")
        return chaos.record().run_of_pid(writer.pid)

    a_run = wait_for(writer_run, 60, "the writer's run to start")
    delay = rng.uniform(0.2, 0.9)
    time.sleep(delay)  # the random moment of the pause (chaos injection, not a wait for a condition)
    os.kill(writer.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    if a_run in chaos.record().ends or writer.poll() is not None:
        os.kill(writer.pid, signal.SIGCONT)
        raise AssertionError(f"trial {trial}: the writer's run {a_run} had ended before it was stopped "
                             f"({delay:.2f} s after its start): the trial would exercise nothing")
    if restart_redis:
        chaos.restart_redis()
    cont_not_before = stopped + 2.2 * LEASE
    cont_deadline = max(cont_not_before, stopped + first_attempt_after) + 5.0
    attempts = []
    b_run = None
    a_status_at_takeover = None
    while True:
        now = time.monotonic()
        rec = chaos.record()
        newer = [r for r in rec.saws if r not in before and r != a_run]
        if newer and b_run is None:
            b_run = newer[0]
            a_status_at_takeover = run_status(a_run)
        if (b_run is not None and now >= cont_not_before) or now >= cont_deadline:
            break
        idle = not attempts or attempts[-1].proc.poll() is not None
        if b_run is None and idle and now >= stopped + first_attempt_after:
            attempts.append(pool.fire("runjob", JOB, "--param", "iterations=20", "--param", "pause_ms=30"))
        time.sleep(0.01)
    stop_lasted = time.monotonic() - stopped
    os.kill(writer.pid, signal.SIGCONT)
    for attempt in attempts:
        wait_exit(attempt.proc, 60, "trigger B")
    wait_exit(writer, 60, "writer A after SIGCONT")

    problems = []
    final_a = run_status(a_run)
    if a_status_at_takeover is not None:
        if a_status_at_takeover not in TERMINAL:
            problems.append(f"run {a_run} was {a_status_at_takeover} when run {b_run} had started")
        elif final_a != a_status_at_takeover:
            problems.append(f"terminal status changed: run {a_run} was {a_status_at_takeover} when run {b_run} "
                            f"took over, and ended {final_a}")
    what = (f"trial {trial}: pause_ms={pause_ms}, writer run {a_run} stopped {delay:.2f} s after start for "
            f"{stop_lasted:.2f} s{', Redis restarted empty' if restart_redis else ''}; "
            f"{len(attempts)} trigger(s), takeover by run {b_run}; writer ended {final_a} "
            f"(exit {writer.returncode})")
    return problems, what, b_run is not None


def run_trials(chaos, *, trials: int, restart_redis: bool, writer_env: dict, pause_choices: list[float],
               first_attempt_after: float) -> None:
    pool = WarmPool(chaos.procs, size=2)
    seen: set[str] = set()
    failed: list[str] = []
    log: list[str] = []
    takeovers = 0
    for trial in range(trials):
        if restart_redis:
            chaos.restart_redis()  # the writer is the first holder of a fresh Redis (its fence is 1)
        pause_ms = pause_choices[trial % len(pause_choices)]
        problems, what, took_over = frozen_trial(chaos, pool, trial=trial, writer_env=writer_env, pause_ms=pause_ms,
                                      restart_redis=restart_redis, first_attempt_after=first_attempt_after)
        intervals, status = db_intervals(chaos.record())
        problems += stale_commits(chaos.record(), written_rows(), started_map())
        problems += overlaps(intervals, "JobRun RUNNING intervals", status)
        new = [p for p in problems if p not in seen]  # the judge reads the whole table: report each once
        seen.update(new)
        log.append(what)
        takeovers += took_over
        if new:
            failed.append(what + "".join(f"\n    -> {p}" for p in new))
    summary = "\n".join(log)
    print(f"{trials} trials {chaos.where()}:\n{summary}")
    assert not failed, (
        f"{len(failed)} of {trials} trials failed {chaos.where()}:\n" + "\n".join(failed)
        + f"\nruns:\n{describe_runs()}"
    )
    # Not vacuous: a newer run must have taken over a stopped writer in some trial (a trial whose writer happened
    # to be stopped inside a transaction that the takeover must wait for is fine, not all of them).
    assert takeovers > 0, f"no trial had a takeover while the writer was stopped:\n{summary} {chaos.where()}"


def test_pause_between_fence_check_and_commit(chaos):
    """Finding 1: SIGSTOP at a random moment of a ctx.atomic() write loop, for more than two leases."""
    chaos.set_lease(LEASE)
    pg = chaos.vendor == "postgresql"
    latency_ms = env_float("CHAOS_REDIS_LATENCY_MS", 15.0 if pg else 0.0)
    writer_env = dict(chaos.env)
    if latency_ms > 0:
        # The writer's replies from Redis arrive `latency_ms` late (a slow link). Where the lock's check is a Redis
        # read outside the database, a pause now falls between that check and COMMIT in most trials. On SQLite the
        # writer holds the database's write lock from BEGIN IMMEDIATE to COMMIT, so that window cannot overlap a
        # takeover, and the delay only makes trials slower.
        writer_env["REDIS_URL"] = chaos.slow_link(latency_ms / 1000).url
    run_trials(chaos, trials=TRIALS, restart_redis=False, writer_env=writer_env,
               pause_choices=[0, 5, 15] if pg else [10, 2, 20], first_attempt_after=0.5 * LEASE)


def test_redis_restarted_empty_under_a_frozen_holder(chaos):
    """Finding 2: the holder is frozen, its Redis restarted empty, a new holder takes over, the old one wakes.

    The first trigger fires when the frozen run's heartbeat is more than two leases old (the rebuilt core may take
    over after one; later is still a valid takeover). So it is the first acquisition of the emptied Redis, which is
    what makes a lock store that issues fencing numbers give it the frozen run's number again.
    """
    chaos.set_lease(LEASE)
    run_trials(chaos, trials=TRIALS, restart_redis=True, writer_env=dict(chaos.env),
               pause_choices=[20, 30], first_attempt_after=2 * LEASE + 0.4)
