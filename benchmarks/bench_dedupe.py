"""Duplicates benchmark (issue 16): recall and false merges of the old fingerprint against the new dedupe (normalised
key + description check), on a labelled set of cross-posted variants; then the scrape upsert of 1,000 postings into a
loaded table on PostgreSQL, dedupe included.

    .venv/bin/python benchmarks/bench_dedupe.py            # 2,000 jobs; the upsert into 500,000 postings (PG_URL)
    .venv/bin/python benchmarks/bench_dedupe.py --small    # 300 jobs; the upsert into 5,000 postings (< 30 s)
    .venv/bin/python benchmarks/bench_dedupe.py --no-db    # the recall table only (pure Python, no database)

The labelled set (seeded): each real job is posted once, then cross-posted 0-7 times, each copy with one variant kind
the issue names (company suffix, seniority word, hyphenation, gender tag, location form, case and punctuation) and a
board's own footer or a truncation of its description. Negatives: for a third of the jobs, another opening with the
same title at the same company and city, with its own description. A pair of postings is a true pair when both are
copies of one job; a method links a pair when it puts both in one group (same fingerprint; same canonical posting).

PostgreSQL: the database `jobsite_bench_dedupe` is created, migrated, loaded with COPY (bench_search's generator, keys
computed) and dropped at the end; 30 % of the upserted postings are copies of loaded ones. Target: <= 1.5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "jobsite_bench_dedupe"
SEED = 1616

COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Vandelay",
             "Soylent", "Tyrell", "Cyberdyne", "Aperture Science", "Massive Dynamic", "Wonka", "Oscorp", "Pied Piper"]
SUFFIXES = ["Inc.", "GmbH", "Ltd", "LLC", "AG", "SA", "SAS", "B.V.", "Oy", "AB", "Corp.", "plc", "S.L."]
LEVELS = [("Senior", ["Sr.", "Sr", "Snr"]), ("Junior", ["Jr.", "Jr"]), ("Mid-Level", ["Mid level", "Intermediate"]),
          ("", [""])]
FIELDS = [("Backend", ["Back-end", "Back end"]), ("Frontend", ["Front-end", "Front End"]),
          ("Full-Stack", ["Fullstack", "Full Stack"]), ("Data", ["Data"]), ("Platform", ["Platform"]),
          ("Mobile", ["Mobile"]), ("DevOps", ["Dev-Ops", "Dev Ops"]), ("Security", ["Security"])]
ROLES = ["Engineer", "Developer", "Software Engineer", "Architect", "Analyst"]
TAGS = ["(m/w/d)", "(m/f/d)", "(f/m/x)", "(w/m/d)", "(all genders)", "(h/f)"]
CITIES = [("Berlin", "Germany", "DE"), ("Munich", "Germany", "DE"), ("London", "United Kingdom", "UK"),
          ("Paris", "France", "FR"), ("Amsterdam", "Netherlands", "NL"), ("Zurich", "Switzerland", "CH"),
          ("New York", "United States", "NY"), ("Austin", "United States", "TX"), ("Toronto", "Canada", "ON"),
          ("Stockholm", "Sweden", "SE"), ("Madrid", "Spain", "ES"), ("Remote", "", "")]
KINDS = ["company suffix", "seniority word", "hyphenation", "gender tag", "location form", "case and punctuation",
         "country only", "title reordered", "description rewritten"]
# The last three are misses by design: a country alone does not say which city; word order is not normalised; a
# board that rewrote most of the text fails the description check (the key alone would merge it, and distinct
# openings with it).
FOOTERS = ["Apply through our board: we forward every application within a day.",
           "Posted via JobHub. Report this job if it looks wrong.", "", ""]


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(4000)})


def _description(rng: random.Random, words: list[str], boilerplate: str) -> str:
    own = " ".join(rng.choice(words) for _ in range(rng.randint(120, 260)))
    return f"{boilerplate} {own}"  # a company's boilerplate, then the opening's own text


def labelled_set(jobs: int, *, seed: int = SEED) -> list[dict]:
    """[{job, kind, company, title, location, description}]: `kind` is "original", "negative" (another opening of
    the same title, company and city: its own job) or the variant kind of a copy."""
    rng = random.Random(seed)
    words = _vocabulary(rng)
    boilerplates = {company: " ".join(rng.choice(words) for _ in range(40)) for company in COMPANIES}
    postings = []
    for job in range(jobs):
        name = rng.choice(COMPANIES)
        company = name + ("" if rng.random() < 0.7 else f" {rng.choice(SUFFIXES)}")
        (level, level_spellings), (field, field_spellings) = rng.choice(LEVELS), rng.choice(FIELDS)
        role = rng.choice(ROLES)
        city, country, code = rng.choice(CITIES)
        # make titles collide often (the hard case): a number only on some
        title = " ".join(part for part in (level, field, role) if part) + ("" if rng.random() < 0.6 else
                                                                             f" {rng.randint(1, 40)}")
        description = _description(rng, words, boilerplates[name])
        base = {"job": job, "company": company, "title": title, "location": city, "description": description}
        postings.append({**base, "kind": "original"})
        if rng.random() < 1 / 3:
            postings.append({**base, "job": jobs + job, "kind": "negative",
                             "description": _description(rng, words, boilerplates[name])})
        for _ in range(rng.randint(0, 7)):
            kind = rng.choice(KINDS)
            if (kind == "seniority word" and not level) or (kind == "hyphenation" and field_spellings == [field]):
                kind = rng.choice(["company suffix", "gender tag", "location form", "case and punctuation"])
            if kind == "country only" and not country:
                kind = "location form"
            copy = dict(base, kind=kind)
            if kind == "company suffix":
                copy["company"] = f"{name} {rng.choice(SUFFIXES)}"
            elif kind == "seniority word" and level:
                copy["title"] = title.replace(level, rng.choice(level_spellings), 1)
            elif kind == "hyphenation":
                copy["title"] = title.replace(field, rng.choice(field_spellings), 1)
            elif kind == "gender tag":
                copy["title"] = f"{title} {rng.choice(TAGS)}"
            elif kind == "location form" and country:
                copy["location"] = rng.choice([f"{city}, {country}", f"{city}, {code}", f"{city} (Hybrid)"])
            elif kind == "location form":
                copy["location"] = rng.choice(["Remote (EU)", "Remote - US", "Fully remote"])
            elif kind == "country only" and country:
                copy["location"] = country
            elif kind == "title reordered":
                copy["title"] = f"{role}, {' '.join(part for part in (level, field) if part)}"
            elif kind == "case and punctuation":
                copy["title"], copy["company"] = title.upper() + "!", company.lower() + ","
            text = description if rng.random() < 0.7 else description[:int(len(description) * rng.uniform(.6, .9))]
            copy["description"] = f"{text} {rng.choice(FOOTERS)}".strip()
            if kind == "description rewritten":  # a third of the original, the rest the board's own summary
                own = description.split()
                copy["description"] = " ".join(own[:len(own) // 3]) + " " + _description(rng, words, "")
            postings.append(copy)
    return postings


def fingerprint(company: str, title: str, location: str) -> str:
    """The old key (PostingData.fingerprint in sources/base.py)."""
    parts = [" ".join(value.lower().split()) for value in (company, title, location)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def groups_old(postings: list[dict]) -> list[int]:
    keys: dict[str, int] = {}
    return [keys.setdefault(fingerprint(p["company"], p["title"], p["location"]), n) for n, p in enumerate(postings)]


def groups_new(postings: list[dict], threshold: float) -> list[int]:
    from scraping_app.dedupe import DedupeRow, dedupe_resolve

    rows = [DedupeRow(id=n + 1, company=p["company"], title=p["title"], location=p["location"],
                      description=p["description"]) for n, p in enumerate(postings)]
    resolved = dedupe_resolve(rows=rows, canonicals=[], threshold=threshold)
    return [(resolved[n + 1][1] or n + 1) - 1 for n in range(len(postings))]


def score(postings: list[dict], groups: list[int]) -> dict:
    by_group: dict[int, list[int]] = defaultdict(list)
    for n, group in enumerate(groups):
        by_group[group].append(n)
    linked_true = linked_false = 0
    for members in by_group.values():
        jobs = Counter(postings[n]["job"] for n in members)
        same = sum(count * (count - 1) // 2 for count in jobs.values())
        linked_true += same
        linked_false += len(members) * (len(members) - 1) // 2 - same
    per_job = Counter(p["job"] for p in postings)
    true_pairs = sum(count * (count - 1) // 2 for count in per_job.values())
    original_group = {p["job"]: groups[n] for n, p in enumerate(postings) if p["kind"] == "original"}
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for n, p in enumerate(postings):
        if p["kind"] in KINDS:
            kinds[p["kind"]][1] += 1
            kinds[p["kind"]][0] += groups[n] == original_group[p["job"]]
    negatives = [n for n, p in enumerate(postings) if p["kind"] == "negative"]
    merged_negatives = sum(1 for n in negatives if groups[n] == original_group[postings[n]["job"] - len(
        original_group)])
    copies_linked = sum(hits for hits, _ in kinds.values()) / max(1, sum(total for _, total in kinds.values()))
    return {"recall": linked_true / true_pairs, "copies_linked": copies_linked, "true_pairs": true_pairs,
            "linked_true": linked_true,
            "false_merges": linked_false, "negatives": len(negatives), "merged_negatives": merged_negatives,
            "kinds": {kind: hits / total for kind, (hits, total) in kinds.items()}}


def recall_table(jobs: int) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from scraping_app.dedupe import similarity_threshold

    postings = labelled_set(jobs)
    threshold = similarity_threshold()
    results = []
    for name, method in (("old fingerprint", groups_old),
                         (f"new dedupe (key + similarity >= {threshold})", lambda p: groups_new(p, threshold))):
        started = time.perf_counter()
        groups = method(postings)
        per_thousand = (time.perf_counter() - started) / len(postings) * 1000 * 1000  # ms
        results.append((name, score(postings, groups), per_thousand))
    copies = sum(1 for p in postings if p["kind"] in KINDS)
    lines = [f"{jobs:,} real jobs, {len(postings):,} postings ({copies:,} cross-posted copies, "
             f"{results[0][1]['negatives']:,} distinct openings sharing a title, company and city), "
             f"{results[0][1]['true_pairs']:,} true pairs", "",
             "| method | recall (true pairs linked) | copies linked to their original | "
             "false merges (pairs of distinct jobs linked) | "
             "negatives merged | "
             + " | ".join(f"recall: {kind}" for kind in KINDS) + " | ms per 1,000 postings |",
             "|---" * (6 + len(KINDS)) + "|"]
    for name, result, per_thousand in results:
        kinds = " | ".join(f"{result['kinds'].get(kind, 0):.1%}" for kind in KINDS)
        lines.append(f"| {name} | {result['recall']:.1%} ({result['linked_true']:,}) | {result['copies_linked']:.1%} | "
                     f"{result['false_merges']:,} | "
                     f"{result['merged_negatives']:,} of {result['negatives']:,} | {kinds} | {per_thousand:.2f} |")
    return "\n".join(lines)


# -- the database part: the real upsert into a loaded table (a child process per database) ---------------------------
def child(database_url: str, total: int) -> None:
    from benchmarks.bench_search import django_setup, posting_rows

    django_setup(database_url)
    from django.core.management import call_command
    from django.db import connection

    from scraping_app.dedupe import dedupe_key
    from scraping_app.models import JobPosting, JobSource
    from scraping_app.normalize import posting_normalized_fields
    from scraping_app.search import PG_GIN_INDEX, PG_GIN_INDEX_SQL
    from scraping_app.services.postings import postings_upsert
    from scraping_app.sources.base import PostingData

    call_command("migrate", verbosity=0)
    source = JobSource.objects.create(kind="sample", name="Bench", enabled=False)
    columns = ["source_id", "source_job_id", "title", "company", "location", "is_remote", "employment_type",
               "employment_type_normalized", "seniority", "salary_min", "salary_max", "salary_currency",
               "salary_period", "salary_annual_min", "salary_annual_max", "tags", "description_text", "url",
               "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint", "dedupe_key", "raw",
               "company_logo_url", "other_locations", "requirements"]  # 0007's columns have no database default
    seen = datetime(2026, 12, 1, tzinfo=UTC)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {PG_GIN_INDEX}")
        with cursor.cursor.copy(f"COPY scraping_app_jobposting ({', '.join(columns)}) FROM STDIN") as copy:
            for (job_id, title, company, location, remote, kind, low, high, currency, period, tags, text,
                 posted) in posting_rows(total):
                derived = posting_normalized_fields(title=title, employment_type=kind, salary_min=low,
                                                    salary_max=high, salary_currency=currency, salary_period=period)
                copy.write_row((source.pk, job_id, title, company, location, remote, kind,
                                derived["employment_type_normalized"], derived["seniority"], low, high, currency,
                                period, derived["salary_annual_min"], derived["salary_annual_max"], json.dumps(tags),
                                text, f"https://jobs.example/{job_id}", "", posted, seen, seen, job_id,
                                dedupe_key(company=company, title=title, location=location), "{}", "", "[]", "[]"))
        cursor.execute(PG_GIN_INDEX_SQL)
        cursor.execute("VACUUM ANALYZE scraping_app_jobposting")
    load_seconds = time.perf_counter() - started

    from scraping_app.services import postings as upsert_module

    with_dedupe = upsert_module.postings_dedupe_prepare
    timings: dict[str, list[float]] = {"with dedupe": [], "without dedupe": [], "again": []}
    linked = 0
    # Alternating rounds on the same table, so the machine's load weighs on both alike; each round upserts 1,000
    # new postings (700 new jobs, 300 copies of stored ones) from a board of its own, then the same again.
    for round_number, label in enumerate(["without dedupe", "with dedupe"] * 2):
        board = JobSource.objects.create(kind="sample", name=f"Other board {round_number}", enabled=False)
        fresh = list(posting_rows(700, seed=17 + round_number, prefix=f"u{round_number}-"))
        copies = [(f"c{round_number}-{job_id}", f"{title} (m/w/d)", f"{company} GmbH", location, remote, kind, low,
                   high, currency, period, tags, text + " Posted via another board.", posted)
                  for (job_id, title, company, location, remote, kind, low, high, currency, period, tags, text,
                       posted) in posting_rows(300)]
        postings = [PostingData(source_job_id=job_id, title=title, company=company, location=location,
                                is_remote=remote, employment_type=kind, salary_min=low, salary_max=high,
                                salary_currency=currency, salary_period=period, tags=tags, description_text=text,
                                posted_at=posted)
                    for (job_id, title, company, location, remote, kind, low, high, currency, period, tags, text,
                         posted) in fresh + copies]
        upsert_module.postings_dedupe_prepare = with_dedupe if label == "with dedupe" else lambda **kwargs: []
        started = time.perf_counter()
        counts = postings_upsert(source=board, postings=postings)
        timings[label].append(time.perf_counter() - started)
        if label == "with dedupe":
            started = time.perf_counter()
            again = postings_upsert(source=board, postings=postings)
            timings["again"].append(time.perf_counter() - started)
            assert again.updated == 1000, again
            linked = JobPosting.objects.filter(source=board, duplicate_of__isnull=False).count()
        assert counts.created == 1000, counts
    upsert_module.postings_dedupe_prepare = with_dedupe
    from scraping_app.selectors import postings_search

    cursor = connection.cursor()
    cursor.execute("ANALYZE scraping_app_jobposting")
    plan = postings_search()[:51].explain()  # the list's page 1: canonical postings only, the recent sort
    print("RESULT " + json.dumps({"total": total, "load": load_seconds, "timings": timings, "linked": linked,
                                  "plan": plan}))


def run_child(database_url: str, total: int) -> dict:
    command = [sys.executable, __file__, "--child", database_url, "--total", str(total)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def upsert_table(pg_url: str, total: int) -> str:
    from benchmarks.bench_search import pg_admin

    base = pg_url.rsplit("/", 1)[0]
    pg_admin(pg_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")
    pg_admin(pg_url, f"CREATE DATABASE {BENCH_DB}")
    try:
        run = run_child(f"{base}/{BENCH_DB}", total)
    finally:
        pg_admin(pg_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")
    timings = run["timings"]

    def seconds(label: str) -> str:
        return " / ".join(f"{value:.2f}" for value in timings[label])

    return "\n".join([
        "| upsert of 1,000 new postings (300 copies of stored jobs) | db | rows before | without dedupe s | "
        "with dedupe s | with dedupe, the same rows again s | copies linked |", "|---|---|---|---|---|---|---|",
        f"| postings_upsert | PostgreSQL | {run['total']:,} | {seconds('without dedupe')} | {seconds('with dedupe')} | "
        f"{seconds('again')} | {run['linked']} of 300 |",
        f"(two alternating rounds each, on the same table; loaded in {run['load']:.0f} s)", "",
        "EXPLAIN of GET /api/v1/jobs page 1 (canonical postings only, recent sort):", run["plan"]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="300 jobs; 5,000 stored postings")
    parser.add_argument("--no-db", action="store_true", help="the recall table only")
    parser.add_argument("--pg-url", default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--child")
    parser.add_argument("--total", type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.total)
        return
    started = time.perf_counter()
    print(recall_table(300 if args.small else 2000), flush=True)
    if not args.no_db:
        print()
        print(upsert_table(args.pg_url, 5_000 if args.small else 500_000))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
