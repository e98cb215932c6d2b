"""Benchmark: GET /api/v1/scheduler/status with 100 job definitions, through Django's test client.

    .venv/bin/python benchmarks/bench_status.py [--jobs 100] [--history 20] [--requests 300] [--database-url URL]

Reports the SQL query count and p50/p99 latency of the real endpoint, against a named baseline in the same run:
"naive per-job", the obvious implementation that reads each job's last run, running run, lock and job-store entry
one job at a time (N+1 queries). Targets for the endpoint: <= 5 queries, p99 <= 20 ms. `--history` sets the
finished runs per job; the endpoint's cost should not grow with it (try 1000: 100,000 runs).

It sets Django up itself on a throwaway SQLite database (or --database-url, e.g. a scratch PostgreSQL database,
which it creates and drops). Locks come from the Redis at REDIS_URL when it answers (a scratch database index is
flushed), else from fakeredis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pg_recreate(url: str, *, drop_only: bool = False) -> None:
    """A scratch PostgreSQL database: dropped and created fresh (or only dropped at the end)."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str | None, tmp: str) -> None:
    if database_url and database_url.startswith("postgres"):
        pg_recreate(database_url)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{tmp}/bench_status.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    os.environ.setdefault("DEBUG", "1")  # development settings (no SECRET_KEY needed); DEBUG off below
    os.environ.setdefault("LOG_DIR", tmp)
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as in production: no per-query debug recording
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def use_redis():
    import fakeredis
    import redis
    from django.conf import settings

    from scheduler_app import locks

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
        client.flushdb()
        name = f"redis ({settings.REDIS_URL})"
    except redis.exceptions.RedisError:
        client, name = fakeredis.FakeRedis(), "fakeredis"
    locks.use_redis_client(client)
    return name


def seed(jobs: int, history: int = 20) -> None:
    from django.utils import timezone
    from django_apscheduler.models import DjangoJob

    from scheduler_app import locks
    from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance

    now = timezone.now()
    JobDefinition.objects.bulk_create([
        JobDefinition(job_id=f"bench_job_{i:03d}", name=f"Bench job {i}", cron=f"{i % 60} * * * *",
                      timeout_minutes=5) for i in range(jobs)])
    runs = []
    for i in range(jobs):
        for k in range(history):  # finished runs per job
            runs.append(JobRun(job_id=f"bench_job_{i:03d}", lock_key=f"bench_job_{i:03d}", trigger="scheduled",
                               status="SUCCEEDED", duration_ms=10 + k, started_at=now, finished_at=now))
    JobRun.objects.bulk_create(runs, batch_size=5000)
    for i in range(0, jobs, 10):  # every tenth job is running, holding its lock
        run = JobRun.objects.create(job_id=f"bench_job_{i:03d}", lock_key=f"bench_job_{i:03d}", trigger="api",
                                    status="RUNNING", started_at=now, heartbeat_at=now)
        locks.acquire(f"bench_job_{i:03d}", ttl_seconds=3600, run_id=run.pk)
    SchedulerInstance.objects.create(host="bench", pid=1, started_at=now, heartbeat_at=now)
    DjangoJob.objects.bulk_create([DjangoJob(id=f"bench_job_{i:03d}", next_run_time=now, job_state=b"")
                                   for i in range(jobs)])


def naive_status() -> dict:
    """The baseline: one job at a time."""
    from django.utils import timezone
    from django_apscheduler.models import DjangoJob

    from scheduler_app import locks, selectors
    from scheduler_app.models import JobDefinition, JobRun
    from scheduler_app.selectors import lease_ago

    jobs = []
    for definition in JobDefinition.objects.all():
        last = JobRun.objects.filter(job_id=definition.job_id).order_by("-id").first()
        live = JobRun.objects.filter(job_id=definition.job_id, status="RUNNING",
                                     heartbeat_at__gte=lease_ago()).first()
        lock = locks.inspect(definition.job_id)
        stored = DjangoJob.objects.filter(id=definition.job_id).values_list("next_run_time", flat=True).first()
        jobs.append({"id": definition.job_id, "next_run": stored or timezone.now(), "running": bool(live or lock),
                     "last_run": last and last.status})
    return {"running": bool(selectors.scheduler_instances_alive()), "jobs": jobs}


def measure(call, n: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(10):
        call()
    with CaptureQueriesContext(connection) as ctx:
        call()
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"queries": queries, "p50": statistics.median(times), "p99": times[min(len(times) - 1, int(n * 0.99))],
            "mean": statistics.fmean(times)}


def staff_client_seeded(jobs: int, history: int):
    """Seed the definitions and their history, refresh the planner's statistics, and return a staff API client."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    seed(jobs, history)
    with connection.cursor() as cursor:  # fresh planner statistics, as autovacuum keeps them in production
        cursor.execute("ANALYZE")
    user = get_user_model().objects.create_user("bench", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--history", type=int, default=20, help="finished runs per job")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(args.database_url, tmp)
        from django.conf import settings
        from django.db import connection

        from scheduler_app.models import JobDefinition

        redis_name = use_redis()
        client = staff_client_seeded(args.jobs, args.history)

        def endpoint():
            response = client.get("/api/v1/scheduler/status")
            assert response.status_code == 200, response.content
            return response

        body = endpoint().json()
        definitions = JobDefinition.objects.count()
        assert len(body["jobs"]) == definitions and sum(j["running"] for j in body["jobs"]) >= args.jobs // 10
        settings.DEBUG = False
        rows = [("GET /api/v1/scheduler/status (this project)", measure(endpoint, args.requests)),
                ("naive per-job selectors (baseline, no HTTP)", measure(naive_status, args.requests))]
        # the endpoint's query count includes the token lookup; the status selector's own is reported too
        from scheduler_app import selectors

        own = measure(selectors.scheduler_status, 50)["queries"]
        vendor = connection.vendor
        connection.close()
        if args.database_url and args.database_url.startswith("postgres"):
            pg_recreate(args.database_url, drop_only=True)

    print(f"scheduler/status with {definitions} job definitions ({args.jobs} benchmark + registered jobs), "
          f"{args.jobs * args.history} finished runs, {args.requests} requests, {vendor}, locks on {redis_name}")
    print(f"{'implementation':48} {'SQL queries':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, r in rows:
        print(f"{name:48} {r['queries']:>11} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['mean']:>8.2f}")
    endpoint_result = rows[0][1]
    print(f"status selector alone: {own} SQL queries (the endpoint adds 1 for the Bearer token)")
    ok = own <= 5 and endpoint_result["p99"] <= 20
    print(f"targets (<= 5 queries, p99 <= 20 ms): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
