"""Scrape benchmark: 5 local boards serve 1000 postings in total; fetch, parse and upsert them. Target: <= 2 s.

    .venv/bin/python benchmarks/bench_scrape.py [--repeat 3]

Sets Django up itself, on a throwaway database: a temporary SQLite file, or (with DATABASE_URL set) a temporary
`bench_scrape_<pid>` database next to the one DATABASE_URL names, dropped at the end.

The boards (real HTTP on 127.0.0.1, one thread per request) are RemoteOK (200 in one response), Greenhouse (200),
Lever (2 pages of 100), Arbeitnow (2 pages of 100) and Himalayas (10 pages of 20), in each board's own shape.

Compared in the same run:
- ours:  `sources_scrape` — boards fetched concurrently (ThreadPoolExecutor), parsed in the workers, upserted in
         batches with one INSERT ... ON CONFLICT DO UPDATE per 500 rows.
- naive: the same adapters one board after another, then `update_or_create` per posting (one SELECT and one
         INSERT/UPDATE per row) — how a straightforward ORM scraper is usually written.
Each is timed cold (empty table: 1000 inserts) and warm (same postings again: 1000 updates).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_SECONDS = 2.0
WORDS = ["Python", "Backend", "Data", "Platform", "Frontend", "DevOps", "ML", "Security", "Mobile", "QA"]


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    os.environ.setdefault("DEBUG", "1")  # development settings: no SECRET_KEY needed
    tmp = tempfile.mkdtemp(prefix="bench_scrape_")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["SQLITE_TEST_NAME"] = f"{tmp}/bench-test.sqlite3"
    os.environ.setdefault("LOG_DIR", tmp)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


# -- the boards ------------------------------------------------------------------------------------------------------
def _job(n: int) -> tuple[str, str]:
    return f"{WORDS[n % len(WORDS)]} Engineer {n}", f"<p>Build things with <b>{WORDS[n % 7]}</b> &amp; friends.</p>"


def boards_data() -> dict[str, object]:
    """path -> JSON body, or a callable(query) -> JSON body for paged boards."""
    remoteok = [{"legal": "Terms"}] + [
        {"id": str(100000 + n), "position": _job(n)[0], "company": f"Co {n % 37}", "location": "Worldwide",
         "tags": ["python"], "description": _job(n)[1], "epoch": 1771718404 + n, "salary_min": 0, "salary_max": 0,
         "url": f"https://remoteok.com/remote-jobs/{n}", "apply_url": f"https://remoteok.com/l/{n}"}
        for n in range(200)]
    greenhouse = {"jobs": [
        {"id": 5000000 + n, "title": _job(n)[0], "company_name": "Acme", "location": {"name": "Remote - US "},
         "content": _job(n)[1].replace("<", "&lt;").replace(">", "&gt;"), "updated_at": "2026-09-17T17:25:09-04:00",
         "first_published": "2026-09-17T13:05:33-04:00", "absolute_url": f"https://example.test/gh/{n}",
         "departments": [{"name": "Engineering"}], "metadata": None}
        for n in range(200)], "meta": {"total": 200}}
    lever = [{"id": f"lever-{n}", "text": _job(n)[0], "categories": {"location": "Berlin", "commitment": "Full-time",
              "team": "Platform"}, "descriptionPlain": "Plain text", "hostedUrl": f"https://jobs.lever.co/x/{n}",
              "applyUrl": f"https://jobs.lever.co/x/{n}/apply", "workplaceType": "remote", "createdAt": 1778529611285,
              "salaryRange": {"min": 60000, "max": 90000, "currency": "EUR", "interval": "per-year-salary"}}
             for n in range(200)]
    arbeitnow = [{"slug": f"arbeitnow-{n}", "title": _job(n)[0], "company_name": "GmbH", "description": _job(n)[1],
                  "remote": n % 2 == 0, "url": f"https://www.arbeitnow.com/jobs/{n}", "tags": ["IT"],
                  "job_types": ["full time"], "location": "Munich", "created_at": 1779021029} for n in range(200)]
    himalayas = [{"guid": f"https://himalayas.app/jobs/{n}", "title": _job(n)[0], "companyName": "Remote Inc",
                  "employmentType": "Full Time", "minSalary": 50000, "maxSalary": 80000, "currency": "USD",
                  "locationRestrictions": ["Canada"], "pubDate": 1781591469, "applicationLink":
                  f"https://himalayas.app/apply/{n}", "description": _job(n)[1], "categories": ["Backend"]}
                 for n in range(200)]
    return {
        "/remoteok": remoteok,
        "/greenhouse/v1/boards/acme/jobs": greenhouse,
        "/lever/v0/postings/acme": lambda q: lever[int(q["skip"]):int(q["skip"]) + int(q["limit"])],
        "/arbeitnow": lambda q: {"data": arbeitnow[(int(q["page"]) - 1) * 100:int(q["page"]) * 100],
                                 "links": {"next": "more" if int(q["page"]) < 2 else None}},
        "/himalayas": lambda q: {"totalCount": 200, "jobs": himalayas[int(q["offset"]):int(q["offset"]) + 20]},
    }


def boards_serve() -> ThreadingHTTPServer:
    routes = {path: (body if callable(body) else json.dumps(body).encode()) for path, body in boards_data().items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real boards do

        def do_GET(self):  # noqa: N802
            parsed = urlparse(self.path)
            body = routes[parsed.path]
            if callable(body):
                body = json.dumps(body({k: v[0] for k, v in parse_qs(parsed.query).items()})).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- the approaches --------------------------------------------------------------------------------------------------
def sources_create(port: int) -> list:
    from scraping_app.models import JobSource

    base = f"http://127.0.0.1:{port}"
    specs = [("remoteok", "/remoteok", {}), ("greenhouse", "/greenhouse/v1/boards/acme/jobs", {}),
             ("lever", "/lever/v0/postings/acme", {"page_size": 100}), ("arbeitnow", "/arbeitnow", {"max_pages": 5}),
             ("himalayas", "/himalayas", {"max_pages": 20})]
    return [JobSource.objects.create(kind=kind, name=f"bench {kind}", base_url=base + path, params=params,
                                     enabled=True, min_interval_seconds=0, daily_request_cap=None)
            for kind, path, params in specs]


def ours(sources: list) -> dict:
    from scraping_app.services import sources_scrape
    from scraping_app.sources import SearchQuery

    outcomes: dict = {}
    ids = sources_scrape(query=SearchQuery(limit=1000), sources=sources, outcomes=outcomes)
    errors = {name: o.error for name, o in outcomes.items() if o.error}
    assert not errors, errors
    return {"postings": len(ids), "created": sum(o.created for o in outcomes.values()),
            "updated": sum(o.updated for o in outcomes.values())}


def naive(sources: list) -> dict:
    from django.utils import timezone

    from scraping_app.models import JobPosting
    from scraping_app.sources import SearchQuery, source_class
    from scraping_app.sources.http import Fetcher

    created = updated = total = 0
    for source in sources:
        result = source_class(source.kind)(base_url=source.base_url, params=source.params,
                                           fetcher=Fetcher()).fetch(SearchQuery(limit=1000))
        for p in result.postings:
            now = timezone.now()
            _, made = JobPosting.objects.update_or_create(
                source=source, source_job_id=p.source_job_id,
                defaults=dict(title=p.title, company=p.company, location=p.location, is_remote=p.is_remote,
                              employment_type=p.employment_type, salary_min=p.salary_min, salary_max=p.salary_max,
                              salary_currency=p.salary_currency, salary_period=p.salary_period, tags=p.tags,
                              description_text=p.description_text, url=p.url, apply_url=p.apply_url,
                              posted_at=p.posted_at, last_seen_at=now, fingerprint=p.fingerprint, raw=p.raw),
                create_defaults=dict(first_seen_at=now, last_seen_at=now, title=p.title, company=p.company,
                                     location=p.location, is_remote=p.is_remote, tags=p.tags, url=p.url,
                                     apply_url=p.apply_url, posted_at=p.posted_at, fingerprint=p.fingerprint,
                                     description_text=p.description_text, raw=p.raw, salary_min=p.salary_min,
                                     salary_max=p.salary_max, salary_currency=p.salary_currency,
                                     salary_period=p.salary_period, employment_type=p.employment_type))
            created += made
            updated += not made
            total += 1
    return {"postings": total, "created": created, "updated": updated}


def measure(fn, sources, repeat: int) -> list[dict]:
    from scraping_app.models import JobPosting

    rows = []
    for phase in ("cold", "warm"):
        times, outcome = [], {}
        for _ in range(repeat):
            if phase == "cold":
                JobPosting.objects.all().delete()  # cold: every posting is new
            # warm: the previous (cold) run left all 1000 in place, so every posting is an update
            started = time.perf_counter()
            outcome = fn(sources)
            times.append(time.perf_counter() - started)
        rows.append({"phase": phase, "seconds": statistics.median(times), **outcome})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown")
    args = parser.parse_args()
    django_setup()
    from django.db import connection

    connection.settings_dict.setdefault("TEST", {})
    if connection.vendor != "sqlite":
        connection.settings_dict["TEST"]["NAME"] = f"bench_scrape_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server = boards_serve()
    try:
        sources = sources_create(server.server_port)
        results = [("ours (concurrent + bulk upsert)", measure(ours, sources, args.repeat)),
                   ("naive (sequential + update_or_create)", measure(naive, sources, args.repeat))]
    finally:
        server.shutdown()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"\nbench_scrape: 5 local boards, 1000 postings, database {connection.vendor}, median of {args.repeat}, "
          f"target <= {TARGET_SECONDS:g} s\n")
    header = (f"{'approach':<40}{'phase':<7}{'postings':>9}{'created':>9}{'updated':>9}{'seconds':>9}{'per s':>8}"
              "  target")
    print(header)
    print("-" * len(header))
    for name, rows in results:
        for row in rows:
            verdict = "ok" if row["seconds"] <= TARGET_SECONDS else "MISSED"
            print(f"{name:<40}{row['phase']:<7}{row['postings']:>9}{row['created']:>9}{row['updated']:>9}"
                  f"{row['seconds']:>9.3f}{row['postings'] / row['seconds']:>8.0f}  {verdict}")
    ours_cold = results[0][1][0]["seconds"]
    naive_cold = results[1][1][0]["seconds"]
    print(f"\nours vs naive (cold): {naive_cold / ours_cold:.1f}x faster")


if __name__ == "__main__":
    main()
