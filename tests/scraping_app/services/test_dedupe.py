"""Duplicates at upsert (services.dedupe): copies across boards link to one canonical posting, chain-free, in a
bounded number of queries per batch; the command re-links; a deleted canonical leaves its copies canonical."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from scraping_app.models import JobPosting
from scraping_app.services.dedupe import postings_dedupe_all
from scraping_app.services.postings import postings_upsert
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import make_source

TEXT = ("Build and run the payment services that move money for our customers; own them in production, review "
        "code, mentor engineers and plan the next quarter with product.")
OTHER = ("Run the data platform: batch pipelines in Spark, the warehouse and the dashboards finance reads every "
         "morning; on call one week in six, learning budget included.")


def job(job_id: str, title="Senior Backend Engineer", company="Acme", location="Berlin", text=TEXT) -> PostingData:
    return PostingData(source_job_id=job_id, title=title, company=company, location=location,
                       description_text=text, url=f"https://board.test/{job_id}")


def stored(source, job_id: str) -> JobPosting:
    return JobPosting.objects.get(source=source, source_job_id=job_id)


def assert_chain_free() -> None:
    copies = JobPosting.objects.filter(duplicate_of__isnull=False)
    assert not copies.filter(duplicate_of__duplicate_of__isnull=False).exists()


@pytest.mark.django_db
class TestUpsert:
    def test_copies_on_other_boards_link_to_the_first(self):
        boards = [make_source("sample", name=f"board {n}") for n in range(4)]
        postings_upsert(source=boards[0], postings=[job("a")])
        postings_upsert(source=boards[1], postings=[job("b", title="Sr. Back-end Engineer (m/w/d)",
                                                        company="Acme GmbH", location="Berlin, Germany")])
        postings_upsert(source=boards[2], postings=[job("c", company="Acme Inc.", text=TEXT + " Apply here.")])
        postings_upsert(source=boards[3], postings=[job("d", text=OTHER)])  # another opening, one title
        first = stored(boards[0], "a")
        assert first.duplicate_of_id is None and len(first.dedupe_key) == 64
        assert stored(boards[1], "b").duplicate_of_id == first.pk
        assert stored(boards[2], "c").duplicate_of_id == first.pk
        assert stored(boards[3], "d").duplicate_of_id is None
        assert {p.dedupe_key for p in JobPosting.objects.all()} == {first.dedupe_key}
        assert_chain_free()

    def test_copies_within_one_batch_link_to_the_oldest(self):
        board = make_source("sample", name="board")
        postings_upsert(source=board, postings=[job("1"), job("2", company="ACME Ltd"), job("3", title="Backend")])
        one, two, three = (stored(board, n) for n in "123")
        assert (one.duplicate_of_id, two.duplicate_of_id, three.duplicate_of_id) == (None, one.pk, None)

    def test_a_re_upsert_keeps_the_links(self):
        a, b = make_source("sample", name="a"), make_source("sample", name="b")
        postings_upsert(source=a, postings=[job("1")])
        postings_upsert(source=b, postings=[job("2")])
        before = list(JobPosting.objects.order_by("pk").values_list("pk", "dedupe_key", "duplicate_of_id"))
        with CaptureQueriesContext(connection) as queries:
            postings_upsert(source=a, postings=[job("1")])
            postings_upsert(source=b, postings=[job("2")])
        assert list(JobPosting.objects.order_by("pk").values_list("pk", "dedupe_key", "duplicate_of_id")) == before
        assert not any(q["sql"].startswith("UPDATE") for q in queries.captured_queries)  # nothing to write

    def test_a_changed_title_moves_a_copy_out(self):
        a, b = make_source("sample", name="a"), make_source("sample", name="b")
        postings_upsert(source=a, postings=[job("1")])
        postings_upsert(source=b, postings=[job("2")])
        postings_upsert(source=b, postings=[job("2", title="Staff Data Engineer")])
        assert stored(b, "2").duplicate_of_id is None

    def test_a_canonical_with_copies_stays_canonical_when_its_title_changes(self):
        a, b, c = (make_source("sample", name=n) for n in "abc")
        postings_upsert(source=a, postings=[job("1", title="Data Engineer")])
        postings_upsert(source=b, postings=[job("2")])
        postings_upsert(source=c, postings=[job("3")])  # a copy of b's
        postings_upsert(source=b, postings=[job("2", title="Data Engineer")])  # b's now matches a's
        assert stored(b, "2").duplicate_of_id is None and stored(c, "3").duplicate_of_id == stored(b, "2").pk
        assert_chain_free()

    @pytest.mark.parametrize("size", [10, 500])
    def test_a_batch_costs_a_bounded_number_of_queries(self, size):
        a, b = make_source("sample", name="a"), make_source("sample", name="b")
        postings_upsert(source=a, postings=[job(str(n), title=f"Engineer {n}") for n in range(size)])
        with CaptureQueriesContext(connection) as queries:
            postings_upsert(source=b, postings=[job(str(n), title=f"Engineer {n}") for n in range(size)])
        assert JobPosting.objects.filter(duplicate_of__isnull=False).count() == size
        kinds = [q["sql"].split()[0] for q in queries.captured_queries]
        # read the batch's stored rows, (PostgreSQL: lock its keys, read them again,) read the candidates, the one
        # INSERT ... ON CONFLICT carrying the links (SQLite splits it at its variable limit), the upsert's read-back;
        # no UPDATE.
        assert kinds.count("SELECT") == (5 if connection.vendor == "postgresql" else 3)
        assert "UPDATE" not in kinds and len(kinds) - kinds.count("INSERT") <= 7  # + SAVEPOINT, RELEASE

    def test_a_copy_of_a_new_posting_in_the_same_batch_is_linked_after_the_write(self):
        board = make_source("sample", name="board")
        with CaptureQueriesContext(connection) as queries:
            postings_upsert(source=board, postings=[job("1"), job("2", company="Acme AG")])
        assert stored(board, "2").duplicate_of_id == stored(board, "1").pk
        assert [q["sql"].split()[0] for q in queries.captured_queries].count("UPDATE") == 1

    def test_a_deleted_canonical_leaves_its_copies_canonical_and_the_command_merges_them(self):
        boards = [make_source("sample", name=f"board {n}") for n in range(3)]
        for n, board in enumerate(boards):
            postings_upsert(source=board, postings=[job(str(n))])
        stored(boards[0], "0").delete()
        assert JobPosting.objects.filter(duplicate_of__isnull=True).count() == 2
        totals = postings_dedupe_all()
        assert totals == {"postings": 2, "changed": 1, "duplicates": 1}
        assert stored(boards[2], "2").duplicate_of_id == stored(boards[1], "1").pk

    def test_the_command_rebuild_applies_a_raised_threshold(self, settings):
        a, b = make_source("sample", name="a"), make_source("sample", name="b")
        half = " ".join(TEXT.split()[:12]) + " " + OTHER  # similarity 0.4
        settings.DEDUPE_SIMILARITY_THRESHOLD = 0.3
        postings_upsert(source=a, postings=[job("1")])
        postings_upsert(source=b, postings=[job("2", text=half)])
        assert stored(b, "2").duplicate_of_id == stored(a, "1").pk
        settings.DEDUPE_SIMILARITY_THRESHOLD = 0.6
        call_command("dedupe_postings")  # without --rebuild a link stays
        assert stored(b, "2").duplicate_of_id is not None
        call_command("dedupe_postings", "--rebuild")
        assert stored(b, "2").duplicate_of_id is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_job_make_one_canonical_and_no_chain():
    """Four boards upsert copies of the same 30 jobs at once: each job ends with one canonical posting (PostgreSQL:
    the key's advisory lock makes the second batch wait and see the first; SQLite: one writer at a time)."""
    boards = [make_source("sample", name=f"board {n}") for n in range(4)]
    start = threading.Barrier(len(boards))
    errors = []

    def upsert(board):
        try:
            start.wait(timeout=10)
            postings_upsert(source=board, postings=[job(f"{board.pk}-{n}", title=f"Engineer {n}") for n in range(30)])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=upsert, args=(board,)) for board in boards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert JobPosting.objects.count() == 120
    assert JobPosting.objects.filter(duplicate_of__isnull=True).count() == 30
    assert_chain_free()
