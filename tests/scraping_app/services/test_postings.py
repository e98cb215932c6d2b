"""postings_upsert: one row per (source, board id), created once and updated after; counts and ids in order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from scraping_app.models import JobPosting, JobSource
from scraping_app.services import postings as postings_service
from scraping_app.services import postings_upsert
from scraping_app.sources import PostingData


@pytest.fixture
def source(db):
    return JobSource.objects.create(kind="sample", name="upsert source")


def _posting(job_id: str, title: str = "Engineer", **fields) -> PostingData:
    return PostingData(source_job_id=job_id, title=title, **fields)


def test_new_postings_are_created_in_the_boards_order(source):
    counts = postings_upsert(source=source, postings=[_posting("b"), _posting("a"), _posting("c")])
    assert (counts.created, counts.updated, counts.skipped) == (3, 0, 0)
    by_id = dict(JobPosting.objects.values_list("source_job_id", "pk"))
    assert counts.ids == [by_id["b"], by_id["a"], by_id["c"]]


def test_fields_are_stored(source):
    now = timezone.now()
    posting = _posting("1", "Backend dev", company="Acme", location="Berlin", is_remote=True, salary_min=Decimal(50),
                       tags=["python"], url="https://x.test/1", raw={"id": 1})
    postings_upsert(source=source, postings=[posting], now=now)
    stored = JobPosting.objects.get(source=source, source_job_id="1")
    assert (stored.title, stored.company, stored.location, stored.is_remote, stored.salary_min, stored.tags,
            stored.url, stored.raw) == ("Backend dev", "Acme", "Berlin", True, Decimal(50), ["python"],
                                        "https://x.test/1", {"id": 1})
    assert stored.first_seen_at == stored.last_seen_at == now
    assert stored.fingerprint == posting.fingerprint


def test_a_second_fetch_updates_and_keeps_first_seen(source):
    first = timezone.now() - timedelta(hours=1)
    postings_upsert(source=source, postings=[_posting("1", "Old title"), _posting("2")], now=first)
    later = timezone.now()
    counts = postings_upsert(source=source, postings=[_posting("1", "New title"), _posting("3")], now=later)
    assert (counts.created, counts.updated) == (1, 1)
    assert JobPosting.objects.count() == 3
    updated = JobPosting.objects.get(source_job_id="1")
    assert updated.title == "New title"
    assert updated.first_seen_at == first and updated.last_seen_at == later


def test_repeated_ids_in_one_response_are_skipped_and_the_last_copy_wins(source):
    counts = postings_upsert(source=source, postings=[_posting("1", "first"), _posting("2"), _posting("1", "last")])
    assert (counts.created, counts.updated, counts.skipped) == (2, 0, 1)
    assert len(counts.ids) == 2
    assert JobPosting.objects.get(source_job_id="1").title == "last"


def test_the_same_id_on_another_source_is_another_posting(source):
    other = JobSource.objects.create(kind="sample", name="other source")
    postings_upsert(source=source, postings=[_posting("1")])
    counts = postings_upsert(source=other, postings=[_posting("1")])
    assert counts.created == 1
    assert JobPosting.objects.filter(source_job_id="1").count() == 2


def test_an_empty_fetch_changes_nothing(source):
    counts = postings_upsert(source=source, postings=[])
    assert (counts.created, counts.updated, counts.skipped, counts.ids) == (0, 0, 0, [])


def test_a_blank_title_and_long_urls_are_made_storable(source):
    long_url = "https://x.test/" + "a" * 2000
    postings_upsert(source=source, postings=[_posting("1", "", url=long_url, apply_url=long_url)])
    stored = JobPosting.objects.get(source_job_id="1")
    assert stored.title == "(untitled)"
    assert stored.url == long_url[:1000] and stored.apply_url == long_url[:1000]


def test_large_fetches_go_in_batches(source, monkeypatch):
    monkeypatch.setattr(postings_service, "BATCH_SIZE", 2)
    batches = []
    real = JobPosting.objects.bulk_create

    def counting(objs, **kwargs):
        batches.append(len(objs))
        return real(objs, **kwargs)

    monkeypatch.setattr(JobPosting.objects, "bulk_create", counting)
    postings_upsert(source=source, postings=[_posting("0")])
    counts = postings_upsert(source=source, postings=[_posting(str(i)) for i in range(5)])
    assert batches == [1, 2, 2, 1]
    assert (counts.created, counts.updated) == (4, 1)
    assert counts.ids == list(JobPosting.objects.filter(source_job_id__in=[str(i) for i in range(5)])
                              .order_by("source_job_id").values_list("pk", flat=True))


def test_the_boards_extras_are_stored_and_updated_on_re_upsert(source):
    expires = timezone.now() + timedelta(days=30)
    sections = [{"title": "What you bring", "items": ["Python", "SQL"]}]
    postings_upsert(source=source, postings=[_posting(
        "1", "Backend dev", location="Berlin", company_logo_url="https://cdn.example/acme.png",
        other_locations=["Hamburg", "Remote (DE)"], expires_at=expires, requirements=sections)])
    stored = JobPosting.objects.get(source_job_id="1")
    assert (stored.company_logo_url, stored.other_locations, stored.expires_at, stored.requirements) == (
        "https://cdn.example/acme.png", ["Hamburg", "Remote (DE)"], expires, sections)

    later = expires + timedelta(days=7)
    postings_upsert(source=source, postings=[_posting(
        "1", "Backend dev", location="Berlin", company_logo_url="https://cdn.example/acme-2.png",
        other_locations=["Munich"], expires_at=later, requirements=[])])
    stored.refresh_from_db()
    assert (stored.company_logo_url, stored.other_locations, stored.expires_at, stored.requirements) == (
        "https://cdn.example/acme-2.png", ["Munich"], later, [])


def test_the_boards_seniority_wins_over_the_titles(source):
    postings_upsert(source=source, postings=[_posting("1", "Senior Backend Engineer", seniority="director"),
                                             _posting("2", "Senior Backend Engineer"),
                                             _posting("3", "Backend Engineer", seniority="mid")])
    assert dict(JobPosting.objects.values_list("source_job_id", "seniority")) == {
        "1": "director", "2": "senior", "3": "mid"}
    postings_upsert(source=source, postings=[_posting("1", "Senior Backend Engineer")])  # the board dropped it
    assert JobPosting.objects.get(source_job_id="1").seniority == "senior"
