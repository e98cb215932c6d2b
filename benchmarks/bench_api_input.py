"""What the API's bounded input costs: SafeJSONParser (size limit, depth limit, storable text) against DRF's own
JSONParser on the same bodies, and SafeJSONRenderer against DRF's JSONRenderer. No database, no server.

    .venv/bin/python benchmarks/bench_api_input.py [--repeat 2000]

Bodies: a typical trigger (`POST scheduler/job` with params), an automation rule with 50 keywords, and a 100 KB
body of 2,000 strings. The table prints microseconds per call (median of 5 rounds) and the ratio to DRF.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
os.environ.setdefault("DEBUG", "1")  # development settings (no SECRET_KEY needed)
os.environ.setdefault("LOG_DIR", tempfile.mkdtemp())
os.environ["LOG_LEVEL"] = "WARNING"

import django  # noqa: E402

django.setup()

from rest_framework.parsers import JSONParser  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

from scheduler_app.api.parsers import SafeJSONParser  # noqa: E402
from scheduler_app.api.renderers import SafeJSONRenderer  # noqa: E402

BODIES = {
    "trigger (90 B)": {"job_id": "scrape_jobs_task", "team_id": 1, "params": {"keyword": "python", "limit": 5}},
    "rule, 50 keywords (1.4 KB)": {"team": 1, "name": "Remote Python", "include_keywords": [f"kw{i}" for i in
                                                                                        range(50)],
                                   "locations": ["remote", "berlin"], "min_salary": "52000.00"},
    "2,000 strings (100 KB)": {"items": [{"title": f"Senior engineer {i:04d} " + "x" * 20} for i in range(2000)]},
}


def per_call_us(func, repeat: int) -> float:
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            func()
        rounds.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print("| body | DRF JSONParser µs | SafeJSONParser µs | ratio | DRF JSONRenderer µs | SafeJSONRenderer µs "
          "| ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, body in BODIES.items():
        raw = json.dumps(body).encode()
        repeat = max(50, args.repeat // (1 + len(raw) // 2000))
        drf, safe = JSONParser(), SafeJSONParser()
        assert drf.parse(io.BytesIO(raw)) == safe.parse(io.BytesIO(raw))
        drf_us = per_call_us(lambda: drf.parse(io.BytesIO(raw)), repeat)  # noqa: B023
        safe_us = per_call_us(lambda: safe.parse(io.BytesIO(raw)), repeat)  # noqa: B023
        drf_r, safe_r = JSONRenderer(), SafeJSONRenderer()
        drf_render = per_call_us(lambda: drf_r.render(body), repeat)  # noqa: B023
        safe_render = per_call_us(lambda: safe_r.render(body), repeat)  # noqa: B023
        print(f"| {name} | {drf_us:.1f} | {safe_us:.1f} | {safe_us / drf_us:.2f}× | {drf_render:.1f} | "
              f"{safe_render:.1f} | {safe_render / drf_render:.2f}× |")


if __name__ == "__main__":
    main()
