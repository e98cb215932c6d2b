"""A scrape's trace: one board.fetch span per board page, made in the worker threads but inside the run's trace."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from tests.scraping_app.conftest import Reply, arbeitnow_page, fixture_json, make_source

pytestmark = pytest.mark.usefixtures("fast_http")


@pytest.mark.django_db
def test_each_board_page_is_a_span_of_the_runs_trace(spans, fake_redis, board):
    items = fixture_json("arbeitnow-1.json")["data"]
    make_source("arbeitnow", board.add("/arbeitnow", Reply(arbeitnow_page(items[:2], has_next=True)),
                                       Reply(arbeitnow_page(items[2:4], has_next=False))),
                name="Arbeitnow", params={"max_pages": 5})
    make_source("greenhouse", board.add("/gh", Reply("down", status=500)), name="Greenhouse")

    run = job_run(job_id="scrape_jobs_task", trigger="cli", params={"keyword": "e", "limit": 100})
    assert run.status == JobRun.Status.PARTIAL, run.error  # one board failed, the other's postings are stored

    finished = spans.get_finished_spans()
    root = next(span for span in finished if span.name == "job.run scrape_jobs_task")
    body = next(span for span in finished if span.name == "job.body")
    fetches = [span for span in finished if span.name == "board.fetch"]
    assert {span.context.trace_id for span in finished} == {root.context.trace_id}
    assert {span.parent.span_id for span in fetches} == {body.context.span_id}  # from the workers, in the body
    by_board = {}
    for span in fetches:
        by_board.setdefault(span.attributes["board.name"], []).append(span)
    assert sorted(by_board) == ["Arbeitnow", "Greenhouse"]
    assert len(by_board["Arbeitnow"]) == 2  # two pages, two spans
    for span in by_board["Arbeitnow"]:
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["http.response.status_code"] == 200
        assert span.status.status_code == StatusCode.UNSET
    [failed] = by_board["Greenhouse"]  # its retries are inside its one span
    assert len(board.hits("/gh")) == 3  # SCRAPE_RETRY_TOTAL=2 (fast_http): the first request and two retries
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.status.status_code == StatusCode.ERROR
    # The stored postings went through the run's fenced transactions: ctx.atomic spans in the body.
    commits = [span for span in finished if span.name == "ctx.atomic"]
    assert commits and {span.parent.span_id for span in commits} == {body.context.span_id}
    assert {span.attributes["db.transaction.outcome"] for span in commits} == {"committed"}
