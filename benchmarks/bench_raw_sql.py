"""Does `scheduler_app.raw_sql` earn its place? It stays only while it is worth >= 20 % on a measured target.

    BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/jobsite_bench_speed BENCH_REDIS_URL=redis://127.0.0.1:6379/12 \
        .venv/bin/python benchmarks/bench_raw_sql.py [--repeats 3] [--iterations 300] [--history 20]

`raw_sql.cursor()` registers psycopg's C `TimestamptzLoader`; the plain variant is a bare `connection.cursor()`
(Django's Python loader), swapped in here by monkeypatching, never by editing the app. Targets on PostgreSQL with
bench_status.py's data (100 jobs, --history finished runs each, every tenth running): `scheduler_status()`, GET
/api/v1/scheduler/status, `job_runs_recent_per_job()` and `scheduler_dashboard()`. The variants run interleaved (A,
B, A, B ... with the first one rotating) in one process on the same data, `--repeats` blocks each; the table shows
each block's p50/p95 and the p50 ratio (trick / plain; below 1.00 means the trick is faster).

(The two other tricks this script measured, a run id reserved with `nextval` in the definition read and a row
INSERTed already RUNNING, saved 1-2 % and 10-11 % of a whole run on PostgreSQL and were removed.)

PostgreSQL: BENCH_PG_URL (dropped and created afresh; dropped at the end). Redis: BENCH_REDIS_URL (flushed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench_locks import interleaved, pct
from bench_status import pg_recreate, staff_client_seeded

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/jobsite_bench_speed")


def setup_django(database_url: str, tmp: str) -> None:
    if ROOT.as_posix() not in sys.path:
        sys.path.insert(0, ROOT.as_posix())
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = REDIS_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    os.environ.setdefault("DEBUG", "1")  # development settings (no SECRET_KEY needed); DEBUG off below
    os.environ["LOG_LEVEL"] = "WARNING"  # measure the code, not the console
    os.environ.setdefault("LOG_DIR", tmp)
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # as in production: no per-query debug recording
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def use_redis() -> None:
    import redis

    from scheduler_app import locks

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    locks.use_redis_client(client)


def stats(samples: list[float]) -> dict:
    return {"p50": statistics.median(samples) * 1000, "p95": pct(samples, 0.95) * 1000}


def queries_of(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


# --- the C timestamptz loader of raw_sql.cursor() -------------------------------------------------------------

def child_status(args) -> dict:
    from django.db import connection

    from scheduler_app import raw_sql, selectors

    use_redis()
    client = staff_client_seeded(args.jobs, args.history)

    c_cursor = raw_sql.cursor

    @contextmanager
    def plain_cursor():
        with connection.cursor() as wrapper:
            yield wrapper

    def variant(use_c: bool, fn):
        def call():
            raw_sql.cursor = c_cursor if use_c else plain_cursor
            try:
                return fn()
            finally:
                raw_sql.cursor = c_cursor
        return call

    def endpoint():
        response = client.get("/api/v1/scheduler/status")
        assert response.status_code == 200, response.content
        return response.json()

    targets = {"scheduler_status() selector": selectors.scheduler_status,
               "GET /api/v1/scheduler/status": endpoint,
               "job_runs_recent_per_job(limit=50)": lambda: selectors.job_runs_recent_per_job(limit=50),
               "scheduler_dashboard()": selectors.scheduler_dashboard}
    def comparable(answer: dict) -> dict:
        """The answer without the lock TTLs and ages, which tick on between two calls."""
        if "timeline" in answer:  # the dashboard: the status and the timeline's runs are what the loader reads
            return {"status": comparable(answer["status"]), "timeline": answer["timeline"]["jobs"]}
        for job in answer.get("jobs", []):
            if job.get("lock"):
                job["lock"]["ttl_seconds"] = None
            job["heartbeat_age_seconds"] = None
            for age in ("elapsed_seconds", "heartbeat_age_seconds"):
                job.get("state", {}).pop(age, None)
        return answer

    # Same answer either way (ISO strings in the status; equal aware datetimes in the recent runs).
    for name, fn in targets.items():
        with_c, without = comparable(variant(True, fn)()), comparable(variant(False, fn)())
        assert with_c == without, f"{name}: the two loaders disagree"
    loader_of = {}
    for use_c in (True, False):
        def probe():
            with raw_sql.cursor() as cursor:
                loader = cursor.cursor.adapters.get_loader(1184, 0)  # timestamptz, text format
                return f"{loader.__module__}.{loader.__qualname__}"
        loader_of[use_c] = variant(use_c, probe)()
    result: dict = {"vendor": connection.vendor, "loaders": {"trick": loader_of[True], "plain": loader_of[False]},
                    "targets": {}}
    for name, fn in targets.items():
        blocks = []
        for _ in range(args.repeats):
            samples = interleaved({"trick": variant(True, fn), "plain": variant(False, fn)}, args.iterations,
                                  warmup=20)
            blocks.append({k: stats(v) for k, v in samples.items()})
        result["targets"][name] = {"blocks": blocks, "queries": queries_of(fn)}
    return result


# --- the parent: one child per database, then the tables -----------------------------------------------------------

def run_child(mode: str, database_url: str, args) -> dict | None:
    argv = [sys.executable, __file__, mode, "--child", database_url, "--iterations", str(args.iterations),
            "--repeats", str(args.repeats), "--jobs", str(args.jobs), "--history", str(args.history)]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[tuple]) -> str:
    header = ("target", "variant", "block", "p50 ms", "p95 ms", "p50 / plain p50")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def block_rows(target: str, blocks: list[dict], plain: str) -> list[tuple]:
    rows = []
    for i, block in enumerate(blocks, 1):
        for name, s in block.items():
            ratio = s["p50"] / block[plain]["p50"]
            rows.append((target, name, i, f"{s['p50']:.3f}", f"{s['p95']:.3f}", f"{ratio:.3f}"))
    return rows


def verdict(label: str, blocks: list[dict], trick: str, base: str) -> str:
    """The trick's p50 and p95 against its baseline, block by block: time saved = 1 - trick/base."""
    p50 = [b[trick]["p50"] / b[base]["p50"] for b in blocks]
    p95 = [b[trick]["p95"] / b[base]["p95"] for b in blocks]
    saved = [(1 - r) * 100 for r in p50]
    speedup = [1 / r for r in p50]
    return (f"  {label}: p50 ratio {statistics.median(p50):.3f} (blocks {min(p50):.3f}-{max(p50):.3f}), p95 ratio "
            f"{statistics.median(p95):.3f} (blocks {min(p95):.3f}-{max(p95):.3f}); p50 time saved "
            f"{statistics.median(saved):.1f} % (blocks {min(saved):.1f} to {max(saved):.1f} %), speed-up "
            f"{statistics.median(speedup):.3f}x; every block: time saved >= 20 % "
            f"{'yes' if min(saved) >= 20 else 'no'}, speed-up >= 1.20x {'yes' if min(speedup) >= 1.2 else 'no'}")


def report_status(args) -> None:
    if not pg_ok():
        return
    result = run_child("status", PG_URL, args)
    pg_recreate(PG_URL, drop_only=True)
    if not result:
        return
    print(f"\n## raw_sql.cursor(): the C timestamptz loader ({result['vendor']}, {args.jobs} jobs x "
          f"{args.history} finished runs, "
          f"{args.iterations} interleaved calls per variant per block, {args.repeats} blocks)\n")
    print(f"trick loader: `{result['loaders']['trick']}`; plain loader: `{result['loaders']['plain']}`\n")
    rows, notes = [], []
    for target, data in result["targets"].items():
        blocks = [{("trick (C loader)" if k == "trick" else "plain (Django loader)"): v for k, v in b.items()}
                  for b in data["blocks"]]
        rows += block_rows(f"{target} ({data['queries']} queries)", blocks, "plain (Django loader)")
        notes.append(verdict(target, blocks, "trick (C loader)", "plain (Django loader)"))
    print(table(rows))
    print()
    print("\n".join(notes))


def pg_ok() -> bool:
    try:
        pg_recreate(PG_URL)
        return True
    except Exception as exc:  # noqa: BLE001
        print(f"(PostgreSQL unavailable: {exc})", file=sys.stderr)
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="status", choices=("status",))
    parser.add_argument("--iterations", type=int, default=300, help="per variant per block")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--history", type=int, default=20, help="finished runs per job (status)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(args.child, tmp)
            result = child_status(args)
            from django.db import connection

            connection.close()
        print(json.dumps(result))
        return
    print(f"raw_sql benchmark: Python {sys.version.split()[0]}, PostgreSQL {PG_URL}, Redis {REDIS_URL}")
    report_status(args)


if __name__ == "__main__":
    main()
