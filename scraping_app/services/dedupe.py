"""Duplicates: link each posting to the canonical posting of the same real job (scraping_app.dedupe has the rules).

At upsert the links are decided before the batch is written, so they go into its one INSERT ... ON CONFLICT DO
UPDATE (on PostgreSQL a second UPDATE of the same rows would recompute their stored search vectors): read the
batch's stored rows, lock its keys and read them again (PostgreSQL), read which of them have copies, read the
candidate canonicals by `dedupe_key__in`; after the write, one small UPDATE only when a new posting copies another
new one of the same batch. A batch costs that fixed number of queries, whatever its size.

`duplicate_of` only ever names a canonical posting (no chains, no pairs pointing at each other), also under
concurrent upserts: on PostgreSQL each batch takes a transaction-scoped advisory lock per key it reads or writes
(old and new keys, in ascending order, so two batches never wait on each other in a circle). A second batch with
the same key waits for the first to commit, then sees its canonical. SQLite runs one write transaction at a time.

A canonical posting that is deleted leaves its copies canonical (on_delete=SET_NULL); `dedupe_postings` (the
command) merges them again.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

from scraping_app.dedupe import DedupeRow, dedupe_key, dedupe_resolve, similarity_threshold
from scraping_app.models import JobPosting

_ROW_FIELDS = ("id", "company", "title", "location", "description_text", "dedupe_key", "duplicate_of_id")
COMMAND_CHUNK = 2000
DEDUPE_FIELDS = ["dedupe_key", "duplicate_of"]  # what postings_upsert also writes on conflict
_NEW = 10 ** 18  # stand-in ids of a batch's new postings: after every stored one, in the board's order


def postings_dedupe_prepare(*, source_id: int, postings: list[JobPosting]) -> list[tuple[JobPosting, JobPosting]]:
    """Before an upsert's write (in its transaction): set `dedupe_key` and `duplicate_of_id` on the batch's unsaved
    models. Returns the (copy, canonical) pairs whose canonical is a new posting of this same batch: they get their
    link from postings_dedupe_link_new once the write has given the canonical its id."""
    stored = _stored(source_id=source_id, postings=postings)
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        # Lock first, then read again: a concurrent upsert of these same postings has committed by then, so its
        # links are seen (and kept) rather than overwritten by this batch's ON CONFLICT.
        keys = {*(_key(posting) for posting in postings), *(key for _, key, _ in stored.values() if key)}
        _keys_lock(keys=keys)
        stored = _stored(source_id=source_id, postings=postings)
        _keys_lock(keys={key for _, key, _ in stored.values() if key} - keys)  # changed meanwhile: rare
    rows: dict[int, tuple[JobPosting, DedupeRow]] = {}
    for n, posting in enumerate(postings):
        pk, key, copy_of = stored.get(posting.source_job_id, (_NEW + n, "", None))
        rows[pk] = (posting, DedupeRow(id=pk, company=posting.company, title=posting.title, location=posting.location,
                                       description=posting.description_text, key=key, duplicate_of=copy_of))
    resolved = _resolve(rows=[row for _, row in rows.values()], stored_ids=[pk for pk, *_ in stored.values()],
                        merge_canonicals=False, locked=True)
    pending = []
    for pk, (key, copy_of) in resolved.items():
        posting = rows[pk][0]
        posting.dedupe_key = key
        if copy_of is not None and copy_of >= _NEW:
            posting.duplicate_of_id = None
            pending.append((posting, rows[copy_of][0]))
        else:
            posting.duplicate_of_id = copy_of
    return pending


def postings_dedupe_link_new(*, pairs: list[tuple[JobPosting, JobPosting]], ids: dict[str, int]) -> None:
    """After the write: link each copy to its canonical, a new posting of the same batch (`ids`: board id -> pk)."""
    links = [JobPosting(pk=ids[copy.source_job_id], duplicate_of_id=ids[canonical.source_job_id])
             for copy, canonical in pairs if copy.source_job_id in ids and canonical.source_job_id in ids]
    if links:
        JobPosting.objects.bulk_update(links, ["duplicate_of"])


def postings_dedupe_all(*, rebuild: bool = False, chunk_size: int = COMMAND_CHUNK) -> dict:
    """Every stored posting, oldest first, in chunks (one transaction each): keys computed, copies linked, and
    canonical postings of one job merged (e.g. after their canonical was deleted, or the threshold lowered).
    `rebuild` first forgets every key and link, so a raised threshold splits what it no longer merges."""
    totals = {"postings": 0, "changed": 0, "duplicates": 0}
    if rebuild:
        with transaction.atomic():
            JobPosting.objects.exclude(dedupe_key="", duplicate_of__isnull=True).update(dedupe_key="",
                                                                                       duplicate_of=None)
    last_id = 0
    while True:
        with transaction.atomic():
            rows = [_row(values) for values in JobPosting.objects.filter(pk__gt=last_id).order_by("pk")
                    .values_list(*_ROW_FIELDS)[:chunk_size]]
            if not rows:
                break
            totals["changed"] += _dedupe_rows(rows=rows, merge_canonicals=True)
        totals["postings"] += len(rows)
        last_id = rows[-1].id
    totals["duplicates"] = JobPosting.objects.filter(duplicate_of__isnull=False).count()
    return totals


def _row(values: tuple) -> DedupeRow:
    pk, company, title, location, description, key, duplicate_of = values
    return DedupeRow(id=pk, company=company, title=title, location=location, description=description, key=key,
                     duplicate_of=duplicate_of)


def _stored(*, source_id: int, postings: list[JobPosting]) -> dict[str, tuple[int, str, int | None]]:
    """board id -> (pk, dedupe_key, duplicate_of_id) of the batch's postings already stored."""
    return {job_id: (pk, key, copy_of) for job_id, pk, key, copy_of in JobPosting.objects.filter(
        source_id=source_id, source_job_id__in=[p.source_job_id for p in postings]).values_list(
        "source_job_id", "id", "dedupe_key", "duplicate_of_id")}


def _resolve(*, rows: list[DedupeRow], stored_ids: list[int], merge_canonicals: bool, locked: bool = False) -> dict:
    """Lock the rows' old and new keys (unless `locked`), read which rows have copies and the candidate canonicals,
    resolve."""
    new_keys = {row.id: _key(row) for row in rows}
    if not locked:
        _keys_lock(keys={*new_keys.values(), *(row.key for row in rows if row.key)})
    with_copies = set(JobPosting.objects.filter(duplicate_of_id__in=stored_ids).values_list(
        "duplicate_of_id", flat=True).distinct()) if stored_ids else set()
    for row in rows:
        row.has_copies = row.id in with_copies
    candidates = [_row(values) for values in JobPosting.objects.filter(
        dedupe_key__in=set(new_keys.values()), duplicate_of__isnull=True).exclude(pk__in=stored_ids)
        .values_list(*_ROW_FIELDS)]
    return dedupe_resolve(rows=rows, canonicals=candidates, threshold=similarity_threshold(),
                          merge_canonicals=merge_canonicals)


def _dedupe_rows(*, rows: list[DedupeRow], merge_canonicals: bool) -> int:
    stored = {row.id: (row.key, row.duplicate_of) for row in rows}
    resolved = _resolve(rows=rows, stored_ids=list(stored), merge_canonicals=merge_canonicals)
    changed = [JobPosting(pk=pk, dedupe_key=key, duplicate_of_id=duplicate_of)
               for pk, (key, duplicate_of) in resolved.items() if stored[pk] != (key, duplicate_of)]
    if changed:
        JobPosting.objects.bulk_update(changed, ["dedupe_key", "duplicate_of"], batch_size=1000)
    return len(changed)


def _key(row: DedupeRow | JobPosting) -> str:
    return dedupe_key(company=row.company, title=row.title, location=row.location)


def _keys_lock(*, keys: Iterable[str]) -> None:
    """PostgreSQL: one advisory lock per key until the transaction ends, taken in ascending order in one query."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    numbers = sorted({int(key[:15], 16) for key in keys if key})  # 60 bits: fits a signed bigint
    if numbers:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(%s::bigint[]) AS k "
                           "ORDER BY 1) AS keys", [numbers])
