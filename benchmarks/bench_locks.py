"""Lock benchmark against real Redis: jobsite's execution lock vs redis-py's Lock and python-redis-lock, and in the
quorum and cluster topologies vs pottery's Redlock and redis-py's RedisCluster.lock.

Run:  .venv/bin/python benchmarks/bench_locks.py [--iterations 5000]
Needs Redis at REDIS_URL (default redis://127.0.0.1:6379/13) and, for the PostgreSQL row, PostgreSQL at
BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/jobsite_bench, created if missing).

It measures, in one run:
  - acquire+release p50/p99 (uncontended), with a ratio column against redis-py's Lock;
  - fail-fast rejection p99 (the lock is held: how fast is "no");
  - handoff latency p50 (holder releases -> a blocked waiter holds the lock);
  - quorum (REDIS_MODE=quorum, 3 independent masters the bench starts on ports of its own): acquire+release and
    fail-fast rejection, ours vs pottery's Redlock on the same three masters;
  - cluster (REDIS_MODE=cluster, a 3-master cluster the bench creates with `redis-cli --cluster create`):
    acquire+release and fail-fast rejection, ours vs redis-py's RedisCluster.lock;
  - whole-run overhead of a no-op job wearing @with_execution_lock, on SQLite and on PostgreSQL (a subprocess each);
  - fenced-write overhead: inside one running job, `ctx.atomic()` against a plain `transaction.atomic()` doing the
    same INSERT, on SQLite and on PostgreSQL, with the SQL statements each sends.
The last column compares with the measure's baseline: redis-py's Lock for the standalone lock rows, pottery's
Redlock for the quorum rows, RedisCluster.lock for the cluster rows, transaction.atomic() for the fenced-write rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.redis_procs import Servers  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/jobsite_bench")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    os.environ.setdefault("DEBUG", "1")  # development settings (no SECRET_KEY needed); DEBUG off below
    os.environ["LOG_LEVEL"] = "WARNING"  # measure the lock, not the console
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as in production: no per-query debug recording
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def timed(fn, iterations: int, warmup: int = 200) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    clock = time.perf_counter
    for _ in range(iterations):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return samples


def interleaved(contenders: dict, iterations: int, warmup: int = 200) -> dict[str, list[float]]:
    """Time the contenders in turn, one operation each per round, so load on a shared machine hits all alike."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    clock = time.perf_counter
    items = list(contenders.items())
    for i in range(iterations):
        for name, fn in items[i % len(items):] + items[: i % len(items)]:  # rotate who goes first
            t0 = clock()
            fn()
            samples[name].append(clock() - t0)
    return samples


def bench_acquire_release(iterations: int) -> dict[str, list[float]]:
    import redis
    import redis_lock

    from scheduler_app import locks

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    locks.use_redis_client(client)

    def ours():
        lease = locks.acquire("bench_ours", ttl_seconds=600)
        lease.release()

    rp_lock = client.lock("bench_redispy", timeout=30)

    def redis_py():
        rp_lock.acquire(blocking=False)
        rp_lock.release()

    prl = redis_lock.Lock(client, "bench_prl", expire=30)

    def python_redis_lock():
        prl.acquire(blocking=False)
        prl.release()

    return interleaved({"jobsite execution_lock": ours, "redis-py Lock": redis_py,
                        "python-redis-lock": python_redis_lock}, iterations)


def bench_fail_fast(iterations: int) -> dict[str, list[float]]:
    import redis

    from scheduler_app import locks

    client = redis.Redis.from_url(REDIS_URL)
    locks.use_redis_client(client)
    held = locks.acquire("bench_held", ttl_seconds=600)

    def ours():
        try:
            locks.acquire("bench_held", ttl_seconds=600)
        except locks.LockNotAcquired:
            return
        raise AssertionError("acquired a held lock")

    other = client.lock("bench_redispy_held", timeout=600)
    other.acquire()
    contender = client.lock("bench_redispy_held", timeout=600)

    def redis_py():
        assert not contender.acquire(blocking=False)

    results = interleaved({"jobsite execution_lock": ours, "redis-py Lock": redis_py}, iterations)
    held.release()
    other.release()
    return results


def bench_handoff(rounds: int) -> dict[str, list[float]]:
    """A waiter blocks on a held lock; measure from the holder's release call to the waiter holding it."""
    import redis
    import redis_lock

    from scheduler_app import locks

    client = redis.Redis.from_url(REDIS_URL)
    locks.use_redis_client(client)

    def run(acquire_blocking, hold_and_release) -> list[float]:
        samples = []
        for _ in range(rounds):
            got = threading.Event()
            stamp = {}
            holder = hold_and_release("start")

            def waiter(stamp=stamp, got=got):
                acquire_blocking()
                stamp["acquired"] = time.perf_counter()
                got.set()

            thread = threading.Thread(target=waiter)
            thread.start()
            time.sleep(0.01)  # the waiter is now blocked
            stamp["released"] = time.perf_counter()
            hold_and_release(holder)
            got.wait(5)
            thread.join()
            samples.append(stamp["acquired"] - stamp["released"])
            hold_and_release("cleanup")
        return samples

    state = {}

    def ours_hold(step):
        if step == "start":
            return locks.acquire("bench_handoff", ttl_seconds=600)
        if step == "cleanup":
            state.pop("lease").release()
            return None
        step.release()

    def ours_wait():
        state["lease"] = locks.acquire("bench_handoff", ttl_seconds=600, wait_seconds=5)

    def rp_hold(step):
        if step == "start":
            lock = client.lock("bench_rp_handoff", timeout=600, thread_local=False)
            lock.acquire()
            return lock
        if step == "cleanup":
            state.pop("rp").release()
            return None
        step.release()

    def rp_wait():
        lock = client.lock("bench_rp_handoff", timeout=600, thread_local=False)  # polls every 0.1 s
        lock.acquire(blocking=True, blocking_timeout=5)
        state["rp"] = lock

    def prl_hold(step):
        if step == "start":
            lock = redis_lock.Lock(client, "bench_prl_handoff", expire=600)
            lock.acquire()
            return lock
        if step == "cleanup":
            state.pop("prl").release()
            return None
        step.release()

    def prl_wait():
        lock = redis_lock.Lock(client, "bench_prl_handoff", expire=600)
        lock.acquire(blocking=True, timeout=5)
        state["prl"] = lock

    return {
        "jobsite execution_lock": run(ours_wait, ours_hold),
        "redis-py Lock": run(rp_wait, rp_hold),
        "python-redis-lock": run(prl_wait, prl_hold),
    }


def use_topology(mode: str, *, urls: list[str] | None = None, url: str | None = None) -> None:
    """Point this process's lock at a topology the way a deployment does: the REDIS_MODE settings and the factory."""
    from django.conf import settings

    from scheduler_app import locks
    from scheduler_app.locks import topology
    from scheduler_app.locks.factory import redis_backend_build

    settings.REDIS_MODE = mode
    if urls is not None:
        settings.LOCK_REDIS_URLS = urls
    settings.REDIS_URL = url or REDIS_URL
    topology.reset_clients()
    locks.lock().use_primary(redis_backend_build())


def lock_pair(ours_key: str, peer_lock_factory, iterations: int, peer_name: str) -> dict[str, dict]:
    """acquire+release and fail-fast rejection: ours (the configured topology) against one peer, interleaved."""
    from scheduler_app import locks

    def ours():
        lease = locks.acquire(ours_key, ttl_seconds=600)
        lease.release()

    peer = peer_lock_factory(f"{ours_key}_peer")

    def peer_cycle():
        assert peer.acquire(blocking=False)
        peer.release()

    results = {"acquire+release": interleaved({"jobsite execution_lock": ours, peer_name: peer_cycle}, iterations)}
    held = locks.acquire(f"{ours_key}_held", ttl_seconds=600)
    peer_held = peer_lock_factory(f"{ours_key}_peer_held")
    assert peer_held.acquire(blocking=False)
    contender = peer_lock_factory(f"{ours_key}_peer_held")

    def ours_refused():
        try:
            locks.acquire(f"{ours_key}_held", ttl_seconds=600)
        except locks.LockNotAcquired:
            return
        raise AssertionError("acquired a held lock")

    def peer_refused():
        assert not contender.acquire(blocking=False)

    results["fail-fast rejection"] = interleaved({"jobsite execution_lock": ours_refused, peer_name: peer_refused},
                                                 iterations)
    held.release()
    peer_held.release()
    return results


def bench_quorum(servers, iterations: int) -> dict[str, dict]:
    import redis
    from pottery import Redlock

    urls = servers.masters(3)
    use_topology("quorum", urls=urls, url=urls[0])
    clients = [redis.Redis.from_url(u) for u in urls]

    def redlock(key: str):
        return Redlock(key=key, masters=set(clients), auto_release_time=30)

    return lock_pair("bench_quorum", redlock, iterations, "pottery Redlock")


def bench_cluster(servers, iterations: int) -> dict[str, dict]:
    from redis.cluster import RedisCluster

    ports = servers.cluster(3)
    url = f"redis://127.0.0.1:{ports[0]}/0"
    use_topology("cluster", url=url)
    client = RedisCluster.from_url(url)

    def cluster_lock(key: str):
        return client.lock(key, timeout=30, thread_local=False)

    return lock_pair("bench_cluster", cluster_lock, iterations, "redis-py RedisCluster.lock")


def whole_run(iterations: int) -> None:
    """Child mode: no-op job through job_run vs the bare function. Prints JSON."""
    import redis

    from scheduler_app import locks, services
    from scheduler_app.job_wrapper import with_execution_lock
    from scheduler_app.models import JobRun

    client = redis.Redis.from_url(REDIS_URL)
    locks.use_redis_client(client)

    def noop() -> None:
        return None

    with_execution_lock(timeout_minutes=1, job_id="bench_noop", name="Bench no-op")(noop)

    def bare():
        noop()

    def locked():
        run = services.job_run(job_id="bench_noop", trigger="cli")
        assert run.status == JobRun.Status.SUCCEEDED, run.status

    bare_samples = timed(bare, iterations, warmup=50)
    locked_samples = timed(locked, iterations, warmup=50)
    JobRun.objects.filter(job_id="bench_noop").delete()
    print(json.dumps({"bare": statistics.median(bare_samples), "p50": statistics.median(locked_samples),
                      "p99": pct(locked_samples, 0.99)}))


def fenced_write(iterations: int) -> None:
    """Child mode: inside one running job, ctx.atomic() vs transaction.atomic(), the same INSERT. Prints JSON."""
    import redis
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from scheduler_app import locks, services
    from scheduler_app.context import current_job_context
    from scheduler_app.job_wrapper import with_execution_lock

    locks.use_redis_client(redis.Redis.from_url(REDIS_URL))
    result: dict = {}

    def writer() -> None:
        ctx = current_job_context()
        counter = iter(range(10**9))

        def plain():
            with transaction.atomic():
                Group.objects.create(name=f"plain-{next(counter)}")

        def fenced():
            with ctx.atomic():
                Group.objects.create(name=f"fenced-{next(counter)}")

        samples = interleaved({"plain": plain, "fenced": fenced}, iterations, warmup=50)
        statements = {}
        for name, fn in (("plain", plain), ("fenced", fenced)):
            with CaptureQueriesContext(connection) as queries:
                fn()
            statements[name] = len(queries.captured_queries)
        result.update(samples=samples, statements=statements)

    with_execution_lock(timeout_minutes=10, job_id="bench_fenced_write", name="Bench fenced write")(writer)
    run = services.job_run(job_id="bench_fenced_write", trigger="cli")
    assert run.status == "SUCCEEDED", (run.status, run.error)
    Group.objects.filter(name__regex=r"^(plain|fenced)-").delete()
    samples = result["samples"]
    print(json.dumps({name: {"p50": statistics.median(values), "p99": pct(values, 0.99)}
                      for name, values in samples.items()} | {"statements": result["statements"],
                                                               "vendor": connection.vendor}))


def ensure_pg_database(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    try:
        import psycopg

        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            # A scratch database made anew each run, so an older schema never gets in the way.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except Exception as exc:  # noqa: BLE001
        print(f"(PostgreSQL unavailable: {exc})", file=sys.stderr)
        return False


def run_child(database_url: str, iterations: int, mode: str = "--child-whole-run") -> dict | None:
    proc = subprocess.run([sys.executable, __file__, mode, database_url, "--iterations", str(iterations)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--child-whole-run")
    parser.add_argument("--child-fenced-write")
    args = parser.parse_args()
    if args.child_whole_run:
        setup_django(args.child_whole_run)
        whole_run(args.iterations)
        return
    if args.child_fenced_write:
        setup_django(args.child_fenced_write)
        fenced_write(args.iterations)
        return

    tmp = tempfile.mkdtemp()
    setup_django(f"sqlite:///{tmp}/bench.sqlite3")
    import redis

    redis.Redis.from_url(REDIS_URL).ping()
    rows = []
    ar = bench_acquire_release(args.iterations)
    base = statistics.median(ar["redis-py Lock"])
    for name, samples in ar.items():
        rows.append(("acquire+release", name, ms(statistics.median(samples)), ms(pct(samples, 0.99)),
                     f"{statistics.median(samples) / base:.2f}x"))
    ff = bench_fail_fast(args.iterations)
    base = statistics.median(ff["redis-py Lock"])
    for name, samples in ff.items():
        rows.append(("fail-fast rejection", name, ms(statistics.median(samples)), ms(pct(samples, 0.99)),
                     f"{statistics.median(samples) / base:.2f}x"))
    ho = bench_handoff(100)
    base = statistics.median(ho["redis-py Lock"])
    for name, samples in ho.items():
        rows.append(("handoff latency", name, ms(statistics.median(samples)), ms(pct(samples, 0.99)),
                     f"{statistics.median(samples) / base:.2f}x"))
    servers = Servers(Path(tmp) / "redis")
    try:
        for label, bench, base_name in (("quorum, 3 masters", bench_quorum, "pottery Redlock"),
                                        ("cluster, 3 masters", bench_cluster, "redis-py RedisCluster.lock")):
            for measure, results in bench(servers, args.iterations).items():
                base = statistics.median(results[base_name])
                for name, samples in results.items():
                    rows.append((f"{measure}, {label}", name, ms(statistics.median(samples)),
                                 ms(pct(samples, 0.99)), f"{statistics.median(samples) / base:.2f}x"))
    finally:
        use_topology("standalone")
        servers.close()
    runs = min(args.iterations, 2000)
    for label, url in (("SQLite", f"sqlite:///{tmp}/bench-run.sqlite3"), ("PostgreSQL", PG_URL)):
        if label == "PostgreSQL" and not ensure_pg_database(url):
            continue
        result = run_child(url, runs)
        if result:
            overhead = result["p50"] - result["bare"]
            rows.append((f"whole-run overhead, {label}", "no-op job via job_run", ms(overhead),
                         ms(result["p99"] - result["bare"]), "-"))
        fenced = run_child(url, runs, mode="--child-fenced-write")
        if fenced:
            base, extra = fenced["plain"]["p50"], fenced["statements"]["fenced"] - fenced["statements"]["plain"]
            for name, label_impl in (("fenced", "ctx.atomic() insert"), ("plain", "transaction.atomic() insert")):
                count = fenced["statements"][name]
                rows.append((f"fenced write, {label}", f"{label_impl} ({count} statements)",
                             ms(fenced[name]["p50"]), ms(fenced[name]["p99"]),
                             f"{fenced[name]['p50'] / base:.2f}x" + (f", +{extra} statement" if name == "fenced"
                                                                      else "")))

    print(f"\nLock benchmark: {args.iterations} iterations, Redis {REDIS_URL}, Python {sys.version.split()[0]}\n")
    header = ("measure", "implementation", "p50", "p99", "vs baseline")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


if __name__ == "__main__":
    main()
