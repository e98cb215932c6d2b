"""Migrations 0004 (normalised fields, backfilled) and 0005 (the search structures and keyset indexes), run on the
database under test: backwards to 0003, a posting stored the old way, forwards again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import JobPosting

BEFORE = [("scraping_app", "0003_saved_search_last_scraped_at")]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "scraping_app"]


@pytest.mark.django_db(transaction=True)
def test_backfill_and_search_after_migrating_a_store_forwards():
    migrate(BEFORE)
    try:
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        Source = apps.get_model("scraping_app", "JobSource")
        Posting = apps.get_model("scraping_app", "JobPosting")
        source = Source.objects.create(kind="sample", name="Old")
        now = timezone.now()
        Posting.objects.create(source=source, source_job_id="old", title="Sr. Backend Dev", company="Acme",
                               employment_type="FULL_TIME", salary_min=Decimal("50"), salary_currency="USD",
                               salary_period="hour", description_text="Kotlin and gRPC.", first_seen_at=now,
                               last_seen_at=now, fingerprint="f")
    finally:
        migrate(latest())
    posting = JobPosting.objects.get(source_job_id="old")
    assert (posting.employment_type_normalized, posting.seniority) == ("full_time", "senior")
    assert posting.salary_annual_min == posting.salary_annual_max == Decimal("104000.00")
    # stored before the search existed, and found by it: the index was built from the existing rows
    assert [p.source_job_id for p in selectors.postings_search(q="kotlin grpc")] == ["old"]
    JobPosting.objects.all().delete()
