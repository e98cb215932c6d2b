"""Posting upserts: one INSERT ... ON CONFLICT (source, source_job_id) DO UPDATE per batch, so two runs racing on
the same board can never make a duplicate. Each batch commits through the job's fenced transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from scraping_app.models import JobPosting, JobSource
from scraping_app.normalize import posting_normalized_fields
from scraping_app.services.common import job_atomic
from scraping_app.services.dedupe import DEDUPE_FIELDS, postings_dedupe_link_new, postings_dedupe_prepare
from scraping_app.sources.base import PostingData

UPDATE_FIELDS = ["title", "company", "location", "is_remote", "employment_type", "salary_min", "salary_max",
                 "salary_currency", "salary_period", "tags", "description_text", "url", "apply_url", "posted_at",
                 "last_seen_at", "fingerprint", "raw",
                 # what the boards publish beyond the basics (sources/*)
                 "company_logo_url", "other_locations", "expires_at", "requirements",
                 # derived (scraping_app.normalize): the filters' and sorts' columns
                 "employment_type_normalized", "seniority", "salary_annual_min", "salary_annual_max"]
BATCH_SIZE = 500


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    skipped: int = 0  # repeated ids within one response
    ids: list[int] = field(default_factory=list)  # stored pks, in the order the board returned them


def postings_upsert(*, source: JobSource, postings: list[PostingData], now: datetime | None = None) -> UpsertCounts:
    now = now or timezone.now()
    unique: dict[str, PostingData] = {}
    for posting in postings:
        unique[posting.source_job_id] = posting  # the last copy wins
    counts = UpsertCounts(skipped=len(postings) - len(unique))
    items = list(unique.values())
    for start in range(0, len(items), BATCH_SIZE):
        batch = items[start:start + BATCH_SIZE]
        job_ids = [posting.source_job_id for posting in batch]
        with job_atomic():
            models = [_posting_model(source, posting, now) for posting in batch]
            # copies of one real job on other boards: linked in the same write, so no reader sees them apart
            new_copies = postings_dedupe_prepare(source_id=source.pk, postings=models)
            JobPosting.objects.bulk_create(
                models, update_conflicts=True, unique_fields=["source", "source_job_id"],
                update_fields=[*UPDATE_FIELDS, *DEDUPE_FIELDS],
            )
            # first_seen_at is never updated, so rows still carrying this batch's timestamp are the ones this
            # batch inserted; exact even when another run upserted the same postings concurrently.
            stored = {job_id: (pk, first_seen == now) for job_id, pk, first_seen in
                      JobPosting.objects.filter(source=source, source_job_id__in=job_ids)
                      .values_list("source_job_id", "pk", "first_seen_at")}
            postings_dedupe_link_new(pairs=new_copies, ids={job_id: pk for job_id, (pk, _) in stored.items()})
        created = sum(1 for _, is_new in stored.values() if is_new)
        counts.created += created
        counts.updated += len(stored) - created
        counts.ids.extend(stored[job_id][0] for job_id in job_ids if job_id in stored)
    return counts


def _posting_model(source: JobSource, posting: PostingData, now: datetime) -> JobPosting:
    title = posting.title or "(untitled)"
    derived = posting_normalized_fields(title=title, employment_type=posting.employment_type,
                                        salary_min=posting.salary_min, salary_max=posting.salary_max,
                                        salary_currency=posting.salary_currency, salary_period=posting.salary_period)
    if posting.seniority:  # the board's own level (normalize.seniority_normalize) wins over the title's
        derived["seniority"] = posting.seniority
    return JobPosting(
        source=source, source_job_id=posting.source_job_id, title=title,
        company=posting.company, location=posting.location, is_remote=posting.is_remote,
        employment_type=posting.employment_type, salary_min=posting.salary_min, salary_max=posting.salary_max,
        salary_currency=posting.salary_currency, salary_period=posting.salary_period, tags=posting.tags,
        description_text=posting.description_text, url=posting.url[:1000], apply_url=posting.apply_url[:1000],
        posted_at=posting.posted_at, first_seen_at=now, last_seen_at=now, fingerprint=posting.fingerprint,
        raw=posting.raw, company_logo_url=posting.company_logo_url[:1000], other_locations=posting.other_locations,
        expires_at=posting.expires_at, requirements=posting.requirements, **derived,
    )
