"""Migration 0008: the postings stored before it get their dedupe keys and links, in chunks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from scraping_app.dedupe import dedupe_key
from scraping_app.models import JobPosting

BEFORE = [("scraping_app", "0007_tracker_dedupe_alerts_adapter_fields")]
TEXT = "Own the payment services that move money for our customers, in production, with code review."
OTHER = "Run the data platform: batch pipelines in Spark, the warehouse and the dashboards finance reads."


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "scraping_app"]


@pytest.mark.django_db(transaction=True)
def test_the_backfill_links_the_stored_copies(monkeypatch):
    migration = __import__("scraping_app.migrations.0008_posting_dedupe_backfill", fromlist=["CHUNK"])
    monkeypatch.setattr(migration, "CHUNK", 2)  # several chunks: a copy meets its canonical in an earlier chunk
    migrate(BEFORE)
    try:
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        Source = apps.get_model("scraping_app", "JobSource")
        Posting = apps.get_model("scraping_app", "JobPosting")
        now = timezone.now()
        for n, (company, title, location, text) in enumerate([
                ("Acme", "Senior Backend Engineer", "Berlin", TEXT),
                ("Acme Inc.", "Sr. Back-end Engineer", "Berlin, Germany", OTHER),  # another opening
                ("Acme GmbH", "Senior Backend Engineer (m/w/d)", "Berlin, DE", TEXT),
                ("ACME", "Senior Backend Engineer", "Berlin", TEXT + " Apply here."),
                ("Acme", "Designer", "Berlin", TEXT)]):
            source = Source.objects.create(kind="sample", name=f"board {n}")
            Posting.objects.create(source=source, source_job_id="1", title=title, company=company, location=location,
                                   description_text=text, first_seen_at=now, last_seen_at=now, fingerprint="f")
    finally:
        migrate(latest())
    first, other, copy, again, designer = JobPosting.objects.order_by("pk")
    assert first.dedupe_key == dedupe_key(company="Acme", title="Senior Backend Engineer", location="Berlin")
    assert (first.duplicate_of_id, other.duplicate_of_id, designer.duplicate_of_id) == (None, None, None)
    assert copy.duplicate_of_id == first.pk and again.duplicate_of_id == first.pk
    JobPosting.objects.all().delete()
