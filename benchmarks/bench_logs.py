"""Benchmarks for logs_app, each against a named baseline in the same run. Sets Django up itself.

    .venv/bin/python benchmarks/bench_logs.py [--rows 1000000] [--calls 20000] [--backends sqlite,postgres]

1. Retention delete: 1,000,000 old LogEntry rows (plus 10,000 recent ones that must stay), deleted the way
   cleanup_old_logs_task does it (batches of 10,000 rows, one transaction each), on SQLite and on PostgreSQL.
   Baseline: one unbatched `DELETE ... WHERE timestamp < cutoff` over the same rows. Target: <= 10 s.
2. Handler overhead per log call: logging.NullHandler (no I/O, the floor), logging.FileHandler, the
   DatabaseLogHandler (batched, background writer) and a naive handler doing one INSERT per record.

Each backend runs in a child process (Django is set up once per process, for one database).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/jobsite_bench_logs")
RECENT = 10_000


# -- parent -----------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, rows=args.rows, calls=args.calls)))
        return

    results = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3" if backend == "sqlite" else PG_URL
            if backend == "postgres" and not pg_recreate(url):
                print(f"postgres: skipped (cannot reach {url})", file=sys.stderr)
                continue
            env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="jobsite.settings", LOG_DB_ENABLED="0",
                       LOG_DIR=tmp, BENCH_TMP=tmp)
            env.setdefault("DEBUG", "1")  # development settings: no SECRET_KEY needed
            out = subprocess.run([sys.executable, __file__, "--child", backend, "--rows", str(args.rows),
                                  "--calls", str(args.calls)], env=env, cwd=ROOT, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{backend} child failed:\n{out.stderr[-3000:]}")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    report(results, rows=args.rows)


def pg_recreate(url: str) -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    base, name = url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except psycopg.Error:
        return False


def report(results: list[dict], *, rows: int) -> None:
    print(f"\nRetention delete: {rows:,} old rows + {RECENT:,} recent rows that must stay")
    print(f"{'database':<10} {'method':<40} {'rows deleted':>12} {'batches':>8} {'seconds':>8} {'rows/s':>11}"
          f" {'target <=10 s':>14}")
    for r in results:
        for label, d in (("cleanup (10k rows/transaction)", r["delete"]),
                         ("baseline: one unbatched DELETE", r["delete_baseline"])):
            ok = "yes" if d["seconds"] <= 10 else "NO"
            print(f"{r['backend']:<10} {label:<40} {d['deleted']:>12,} {d['batches']:>8} {d['seconds']:>8.2f}"
                  f" {d['deleted'] / d['seconds']:>11,.0f} {ok if 'cleanup' in label else '':>14}")
        print(f"{'':<10} (bulk insert of the rows: {r['insert_seconds']:.1f} s; survivors checked: "
              f"{r['delete']['remaining']:,})")
    print("\nHandler overhead per log call (logger.info with one argument; median of 5 rounds)")
    print(f"{'database':<10} {'handler':<44} {'calls':>7} {'us/call':>9} {'vs NullHandler':>15}")
    for r in results:
        floor = r["handlers"][0]["us"]
        for h in r["handlers"]:
            print(f"{r['backend']:<10} {h['name']:<44} {h['calls']:>7,} {h['us']:>9.2f} {h['us'] / floor:>14.1f}x")
        w = r["writer"]
        print(f"{'':<10} (DatabaseLogHandler: {w['rows']:,} rows committed; flush() after each round waited "
              f"{w['seconds']:.2f} s in total for the rest; dropped {w['dropped']})")


# -- child: one database ----------------------------------------------------------------------------------------------
def child(backend: str, *, rows: int, calls: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    result = {"backend": backend}
    t0 = time.perf_counter()
    insert_rows(rows)
    result["insert_seconds"] = time.perf_counter() - t0
    result["delete"] = timed_cleanup(rows)
    insert_rows(rows)
    result["delete_baseline"] = timed_unbatched(rows)
    result["handlers"], result["writer"] = handler_overhead(calls)
    return result


def insert_rows(rows: int) -> None:
    """Old rows 60 days back and RECENT rows from today, generated inside the database (no Python loop)."""
    from django.db import connection, transaction

    from logs_app.models import LogEntry

    LogEntry.objects.all().delete()
    table = LogEntry._meta.db_table
    cols = "timestamp, level, levelno, logger, message, job_id, run_id, team_id, extra"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for n, age in ((rows, "60 days"), (RECENT, "1 hour")):
                cursor.execute(
                    f"INSERT INTO {table} ({cols}) SELECT now() - interval '{age}' + g * interval '1 ms', 'INFO', 20, "
                    f"'scheduler_app', 'Acquiring lock for job: scrape_jobs_task #' || g, 'scrape_jobs_task', g, NULL,"
                    f" '{{}}'::jsonb FROM generate_series(1, {n}) AS g")
        else:
            for n, age in ((rows, "-60 days"), (RECENT, "-1 hours")):
                cursor.execute(
                    f"WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g LIMIT {n}) "
                    f"INSERT INTO {table} ({cols}) SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', '{age}'), 'INFO', 20, "
                    f"'scheduler_app', 'Acquiring lock for job: scrape_jobs_task #' || x, 'scrape_jobs_task', x, "
                    f"NULL, '{{}}' FROM g")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def _cutoff():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(days=30)


def timed_cleanup(rows: int) -> dict:
    from logs_app.models import LogEntry
    from logs_app.services import log_entries_delete_before

    t0 = time.perf_counter()
    deleted, batches = log_entries_delete_before(cutoff=_cutoff(), batch_size=10_000)
    seconds = time.perf_counter() - t0
    remaining = LogEntry.objects.count()
    assert deleted == rows and remaining == RECENT, (deleted, remaining)
    return {"deleted": deleted, "batches": batches, "seconds": seconds, "remaining": remaining}


def timed_unbatched(rows: int) -> dict:
    from django.db import transaction

    from logs_app.models import LogEntry

    t0 = time.perf_counter()
    with transaction.atomic():
        deleted = LogEntry.objects.filter(timestamp__lt=_cutoff())._raw_delete(LogEntry.objects.db)
    seconds = time.perf_counter() - t0
    assert deleted == rows, deleted
    return {"deleted": deleted, "batches": 1, "seconds": seconds, "remaining": LogEntry.objects.count()}


class NaiveDatabaseHandler(logging.Handler):
    """The obvious handler: one INSERT (one transaction) per record, in the caller's thread."""

    def emit(self, record: logging.LogRecord) -> None:
        from datetime import UTC, datetime

        from logs_app.models import LogEntry

        LogEntry.objects.create(timestamp=datetime.fromtimestamp(record.created, tz=UTC), level=record.levelname,
                                levelno=record.levelno, logger=record.name, message=record.getMessage())


def handler_overhead(calls: int) -> tuple[list[dict], dict]:
    from logs_app.handler import DatabaseLogHandler
    from logs_app.models import LogEntry
    from scheduler_app.context import JobContext, job_context_active

    tmp = os.environ.get("BENCH_TMP", tempfile.gettempdir())
    ctx = JobContext(run_id=1, job_id="scrape_jobs_task", lock_key="scrape_jobs_task", fencing_token=1,
                     fence_check=lambda: True)
    db_handler = DatabaseLogHandler(background=True, batch_size=500, flush_seconds=0.5, max_pending=10 * calls)
    candidates = [
        ("logging.NullHandler (baseline)", logging.NullHandler(), calls),
        ("logging.FileHandler", logging.FileHandler(f"{tmp}/bench.log", delay=True), calls),
        ("DatabaseLogHandler (batched, background)", db_handler, calls),
        ("DatabaseLogHandler inside a job context", db_handler, calls),
        ("naive: one INSERT per record (sync)", NaiveDatabaseHandler(), max(200, calls // 20)),
    ]
    out = []
    writer = {"rows": 0, "seconds": 0.0, "dropped": 0}
    for name, handler, n in candidates:
        log = logging.Logger(f"bench.{len(out)}", logging.INFO)
        log.addHandler(handler)
        rounds = []
        for _ in range(5):
            before = LogEntry.objects.count() if handler is db_handler else 0
            with job_context_active(ctx) if "job context" in name else _null():
                t0 = time.perf_counter()
                for i in range(n):
                    log.info("Acquiring lock for job: %s", i)
                rounds.append((time.perf_counter() - t0) / n * 1e6)
            if handler is db_handler:
                t0 = time.perf_counter()
                handler.flush(timeout=120)
                writer["seconds"] += time.perf_counter() - t0
                writer["rows"] += LogEntry.objects.count() - before
        writer["dropped"] = db_handler.dropped
        out.append({"name": name, "calls": n, "us": statistics.median(rounds)})
    db_handler.close()
    return out, writer


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
