"""scrape_jobs_task end to end through `job_run` (lock, run record, fenced writes) against local boards."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import connection

from scheduler_app.context import JobContext, StaleFencingToken, job_context_active
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.services import InvalidJobParams, job_definitions_sync, job_run
from scraping_app.models import JobPosting, JobSource, SavedSearch, Team
from scraping_app.services import postings_upsert, scrape_params_validate
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import Reply, arbeitnow_endless, fixture_json, make_source

pytestmark = pytest.mark.usefixtures("fast_http")


def scrape(trigger: str = "cli", team=None, **params) -> JobRun:
    params.setdefault("limit", 100)
    return job_run(job_id="scrape_jobs_task", trigger=trigger, team=team, params=params)


def remoteok_board(board) -> str:
    return board.add("/remoteok", [{"legal": "Terms"}, *fixture_json("remoteok-2.json")])


@pytest.mark.django_db
def test_scrape_upserts_without_duplicates_and_counts_created_then_updated(fake_redis, board):
    make_source("remoteok", remoteok_board(board))
    make_source("greenhouse", board.add("/v1/boards/acme/jobs", fixture_json("greenhouse-3.json")))

    first = scrape(keyword="e")
    assert first.status == JobRun.Status.SUCCEEDED, first.error
    stored = JobPosting.objects.count()
    assert stored == 4 + 3  # RemoteOK's untitled job is skipped
    assert first.result["totals"] == {"created": 7, "updated": 0, "skipped": 1}
    assert {name: counts["created"] for name, counts in first.result["counts"].items()} == {
        "remoteok 1": 4, "greenhouse 2": 3}

    second = scrape(keyword="e")
    assert second.result["totals"] == {"created": 0, "updated": 7, "skipped": 1}
    assert JobPosting.objects.count() == stored
    posting = JobPosting.objects.get(source_job_id="1130495")
    assert posting.last_seen_at > posting.first_seen_at
    assert len(second.result["postings"]) == 7


@pytest.mark.django_db
def test_logs_the_start_and_completion_lines_and_returns_matches_up_to_limit(fake_redis, caplog):
    make_source("sample", params={"page_size": 20})
    with caplog.at_level(logging.INFO, logger="scraping_app"):
        run = scrape(keyword="python", location="remote", limit=5)
    messages = [r.getMessage() for r in caplog.records if r.name == "scraping_app"]
    assert messages[0] == "Starting scrape for python in remote"
    assert messages[-1] == "Scraping completed"
    assert run.status == JobRun.Status.SUCCEEDED
    assert len(run.result["postings"]) == 5
    assert all(p["is_remote"] for p in run.result["postings"])


@pytest.mark.django_db
def test_one_board_failing_makes_the_run_partial_and_keeps_the_others(fake_redis, board):
    make_source("remoteok", remoteok_board(board), name="RemoteOK")
    make_source("greenhouse", board.add("/gh", Reply("down", status=500)), name="Greenhouse")
    make_source("lever", board.add("/lever", Reply("[{not json")), name="Lever")
    make_source("ashby", board.add("/ashby", Reply({"jobs": []}, delay=2)), name="Ashby")

    run = scrape(keyword="a")

    assert run.status == JobRun.Status.PARTIAL
    counts = run.result["counts"]
    assert counts["RemoteOK"]["created"] == 4 and "error" not in counts["RemoteOK"]
    assert counts["Greenhouse"]["error"].startswith("HTTP 500")
    assert counts["Lever"]["error"].startswith("malformed JSON")
    assert counts["Ashby"]["error"].startswith("timeout")
    assert sorted(w.split(":")[0] for w in run.warnings) == ["Ashby", "Greenhouse", "Lever"]
    assert JobPosting.objects.count() == 4
    assert JobSource.objects.get(name="Greenhouse").last_error.startswith("HTTP 500")


@pytest.mark.django_db
def test_politeness_interval_is_shared_by_triggers_and_serves_stored_postings(fake_redis, board):
    source = make_source("remoteok", remoteok_board(board), min_interval_seconds=60)
    scheduled = scrape(trigger="scheduled", keyword="a")
    assert scheduled.result["totals"]["created"] == 4
    assert len(board.hits("/remoteok")) == 1

    manual = scrape(trigger="api", keyword="a")

    assert len(board.hits("/remoteok")) == 1  # no second request inside the interval
    assert manual.status == JobRun.Status.SUCCEEDED
    counts = manual.result["counts"][source.name]
    assert "minimum interval of 60 s" in counts["over_budget"]
    assert counts["served_from_store"] == 4
    assert manual.result["served_from_store"] is True
    assert len(manual.result["postings"]) == 4
    assert any("over its politeness budget" in w for w in manual.warnings)


@pytest.mark.django_db
def test_daily_cap_counts_every_page_and_stops_paging(fake_redis, board):
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/arbeitnow", arbeitnow_endless(items[:5]))
    source = make_source("arbeitnow", url, params={"max_pages": 10}, daily_request_cap=3)

    first = scrape(keyword="a")
    assert len(board.hits("/arbeitnow")) == 3
    assert any("budget" in note for note in first.result["counts"][source.name]["notes"])
    source.refresh_from_db()
    assert source.requests_today == 3

    second = scrape(keyword="a")
    assert len(board.hits("/arbeitnow")) == 3
    assert "daily cap of 3 requests reached" in second.result["counts"][source.name]["over_budget"]


@pytest.mark.django_db
def test_team_saved_searches_run_when_no_keyword_is_given(fake_redis):
    make_source("sample")
    team = Team.objects.create(name="A")
    SavedSearch.objects.create(team=team, keyword="django", location="remote", limit=3)
    SavedSearch.objects.create(team=team, keyword="rust", limit=2, active=False)
    run = scrape(team=team, limit=25)
    assert run.result["searches"] == [{"keyword": "django", "location": "remote", "limit": 3}]
    assert 0 < len(run.result["postings"]) <= 3
    assert all("django" in (p["title"]).lower() or p["is_remote"] for p in run.result["postings"])


@pytest.mark.django_db
def test_a_run_within_its_budget_runs_every_search_and_marks_them_scraped(fake_redis):
    make_source("sample")
    team = Team.objects.create(name="A")
    searches = [SavedSearch.objects.create(team=team, keyword=k) for k in ("python", "django")]
    run = scrape(team=team, limit=25)
    assert run.status == JobRun.Status.SUCCEEDED, run.warnings
    assert [s["keyword"] for s in run.result["searches"]] == ["python", "django"]
    assert run.result["skipped_searches"] == [] and run.result["budget_exhausted"] is False
    assert run.result["budget_seconds"] == 120.0  # the default, well under the job's 10-minute timeout
    assert all(SavedSearch.objects.get(pk=s.pk).last_scraped_at is not None for s in searches)


@pytest.mark.django_db
def test_a_search_that_starts_before_the_deadline_but_cannot_send_a_page_is_skipped(fake_redis, board, settings,
                                                                                    monkeypatch):
    """The second search starts inside the budget, but the deadline passes before its board's first page (here:
    while its sources are read): it sends nothing, so it is reported skipped and runs first next time, not as run."""
    from scraping_app.services import scrape as scrape_module

    settings.SCRAPE_RUN_BUDGET_SECONDS = 0.5
    make_source("remoteok", board.add("/remoteok", Reply([{"legal": "T"}, *fixture_json("remoteok-2.json")])))
    team = Team.objects.create(name="Late")
    searches = [SavedSearch.objects.create(team=team, keyword=k) for k in ["a", "e", "i"]]
    reads = []
    real_sources_enabled = scrape_module.selectors.sources_enabled

    def sources_enabled_slow_the_second_time():
        reads.append(time.monotonic())
        if len(reads) == 2:
            time.sleep(0.6)  # the budget (0.5 s) ends while the second search reads its sources
        return real_sources_enabled()

    monkeypatch.setattr(scrape_module.selectors, "sources_enabled", sources_enabled_slow_the_second_time)
    run = scrape(team=team, limit=100)

    assert len(reads) == 2  # the second search did start
    assert len(board.hits("/remoteok")) == 1
    assert [s["keyword"] for s in run.result["searches"]] == ["a"]
    assert [s["id"] for s in run.result["skipped_searches"]] == [s.pk for s in searches[1:]]
    assert set(SavedSearch.objects.filter(last_scraped_at__isnull=False).values_list("keyword", flat=True)) == {"a"}
    assert run.status == JobRun.Status.PARTIAL and "after 1 of 3" in run.warnings[0]


@pytest.mark.django_db
def test_a_run_out_of_budget_skips_the_remaining_searches_names_them_and_keeps_what_it_stored(
        fake_redis, board, settings):
    settings.SCRAPE_RUN_BUDGET_SECONDS = 0.5
    make_source("remoteok", board.add("/remoteok", Reply([{"legal": "T"}, *fixture_json("remoteok-2.json")],
                                                         delay=0.2)))
    team = Team.objects.create(name="Busy")
    keywords = ["a", "e", "i", "o", "n", "r"]
    searches = [SavedSearch.objects.create(team=team, keyword=k) for k in keywords]  # 6 x 0.2 s > the budget

    run = scrape(team=team, limit=100)

    assert run.status == JobRun.Status.PARTIAL
    ran, skipped = run.result["searches"], run.result["skipped_searches"]
    assert ran and skipped and len(ran) + len(skipped) == len(keywords)
    assert [s["keyword"] for s in ran] == keywords[:len(ran)]  # none scraped before: by id
    assert skipped == [{"id": s.pk, "keyword": s.keyword, "location": None, "limit": 25}
                       for s in searches[len(ran):]]
    assert run.result["budget_exhausted"] is True
    assert len(board.hits("/remoteok")) == len(ran)  # a skipped search sends nothing
    [warning] = run.warnings
    assert "SCRAPE_RUN_BUDGET_SECONDS" in warning and f"after {len(ran)} of {len(keywords)}" in warning
    assert all(f"#{s['id']} {s['keyword']} in anywhere" in warning for s in skipped)
    assert JobPosting.objects.count() == run.result["totals"]["created"] > 0  # what it stored stays
    scraped = set(SavedSearch.objects.filter(last_scraped_at__isnull=False).values_list("keyword", flat=True))
    assert scraped == {s["keyword"] for s in ran}

    second = scrape(team=team, limit=100)

    assert second.result["searches"][0]["keyword"] == skipped[0]["keyword"]  # the skipped ones go first


@pytest.mark.django_db
def test_the_budget_stops_a_paged_board_between_pages_and_keeps_its_pages(fake_redis, board, settings):
    settings.SCRAPE_RUN_BUDGET_SECONDS = 0.5
    items = fixture_json("arbeitnow-1.json")["data"]
    url = board.add("/arbeitnow", arbeitnow_endless(items[:5], delay=0.2))
    source = make_source("arbeitnow", url, params={"max_pages": 20})

    run = scrape(keyword="a")

    assert 1 <= len(board.hits("/arbeitnow")) < 20
    counts = run.result["counts"][source.name]
    assert counts["requests"] == len(board.hits("/arbeitnow"))
    assert any("SCRAPE_RUN_BUDGET_SECONDS" in note and "stopped paging" in note for note in counts["notes"])
    assert run.result["budget_exhausted"] is True
    assert run.status == JobRun.Status.SUCCEEDED  # like the daily cap: a note; nothing was skipped
    assert JobPosting.objects.count() == counts["created"]


@pytest.mark.django_db
def test_the_budget_stops_the_sample_board_between_pages(fake_redis, settings):
    settings.SCRAPE_RUN_BUDGET_SECONDS = 0.3
    source = make_source("sample", params={"page_size": 2, "delay_seconds": 0.1})
    run = scrape(keyword="e", limit=100)
    counts = run.result["counts"][source.name]
    assert any("SCRAPE_RUN_BUDGET_SECONDS" in note for note in counts["notes"])
    assert 0 < counts["fetched"] < 20  # a few pages of 2, not the whole file


@pytest.mark.django_db
def test_a_stale_fencing_token_cannot_commit_postings(fake_redis):
    source = make_source("sample")
    ctx = JobContext(run_id=0, job_id="scrape_jobs_task", lock_key="scrape_jobs_task", fencing_token=1,
                     fence_check=lambda: False)
    with job_context_active(ctx), pytest.raises(StaleFencingToken):
        postings_upsert(source=source, postings=[PostingData(source_job_id="1", title="Late write")])
    assert not JobPosting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_timed_out_scrape_stops_between_pages_and_commits_nothing(fake_redis):
    job_definitions_sync()
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(timeout_minutes=0.01)  # 0.6 s
    make_source("sample", params={"delay_seconds": 0.2, "page_size": 1})
    started = time.monotonic()
    run = scrape(keyword="python", limit=50)
    assert run.status == JobRun.Status.TIMED_OUT
    assert "Job exceeded timeout" in run.error
    assert time.monotonic() - started < 3
    assert not JobPosting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scrapes_of_the_same_boards_leave_no_duplicates(lock_redis, board, settings):
    """Per-team lock scope lets two teams' scrapes run at once; the upsert keeps one row per posting."""
    settings.SCRAPE_HTTP_READ_TIMEOUT = 5  # the boards answer slowly on purpose, so the runs overlap
    job_definitions_sync()
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(lock_scope="team")
    greenhouse = fixture_json("greenhouse-3.json")
    make_source("remoteok", board.add("/remoteok", Reply([{"legal": "T"}, *fixture_json("remoteok-2.json")],
                                                         delay=0.5)))
    make_source("greenhouse", board.add("/gh", Reply(greenhouse, delay=0.5)))
    make_source("sample", params={"page_size": 40})
    teams = [Team.objects.create(name=f"T{i}") for i in range(2)]
    runs: list[JobRun] = []
    barrier = threading.Barrier(2)

    def worker(team):
        barrier.wait()
        try:
            runs.append(scrape(trigger="api", team=team, keyword="e"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(team,)) for team in teams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [run.status for run in runs] == [JobRun.Status.SUCCEEDED] * 2, [run.error for run in runs]
    assert len(board.hits("/remoteok")) == 2
    for run in runs:
        run.refresh_from_db()
    assert max(run.started_at for run in runs) < min(run.finished_at for run in runs)  # they really overlapped
    keys = list(JobPosting.objects.values_list("source_id", "source_job_id"))
    assert len(keys) == len(set(keys))
    expected = 4 + len(greenhouse["jobs"]) + runs[0].result["counts"]["sample 3"]["fetched"] \
        - runs[0].result["counts"]["sample 3"]["skipped"]
    assert len(keys) == expected
    assert sum(run.result["totals"]["created"] for run in runs) == expected


@pytest.mark.django_db
def test_a_board_still_rate_limiting_after_retries_is_left_alone_for_its_retry_after(fake_redis, board):
    url = board.add("/remoteok", Reply({}, status=429, headers={"Retry-After": "120"}))
    source = make_source("remoteok", url)  # no minimum interval of its own

    first = scrape(keyword="a")
    assert first.status == JobRun.Status.PARTIAL and "HTTP 429" in first.result["counts"][source.name]["error"]
    hits = len(board.hits("/remoteok"))
    assert hits == 3  # one try, two retries (each Retry-After capped to 0.4 s)

    second = scrape(trigger="api", keyword="a")
    assert len(board.hits("/remoteok")) == hits  # every trigger stays off it for the 120 s it asked for
    assert "rate-limited us" in second.result["counts"][source.name]["over_budget"]


@pytest.mark.django_db
def test_a_saved_search_limited_to_some_sources_fetches_only_those(fake_redis, board):
    wanted = make_source("remoteok", remoteok_board(board))
    make_source("greenhouse", board.add("/gh", fixture_json("greenhouse-3.json")))
    team = Team.objects.create(name="A")
    SavedSearch.objects.create(team=team, keyword="e").sources.set([wanted])
    run = scrape(team=team)
    assert list(run.result["counts"]) == [wanted.name]
    assert board.hits("/gh") == []


@pytest.mark.parametrize("params, field", [
    ({"keyword": "x", "limit": "0"}, "limit"),
    ({"keyword": "x", "limit": 101}, "limit"),
    ({"keyword": "x", "limit": "ten"}, "limit"),
    ({"keyword": "  "}, "keyword"),
    ({"keyword": "x" * 101}, "keyword"),
    ({"keyword": "x", "location": "y" * 101}, "location"),
    ({"keyword": "x", "colour": "red"}, "colour"),
])
def test_job_params_are_validated_for_every_trigger(params, field):
    with pytest.raises(InvalidJobParams) as raised:
        scrape_params_validate(params)
    assert field in raised.value.errors


def test_cli_strings_are_coerced():
    assert scrape_params_validate({"keyword": " python ", "location": "remote", "limit": "25"}) == {
        "keyword": "python", "location": "remote", "limit": 25}
    assert scrape_params_validate({}) == {"limit": 25}


@pytest.mark.django_db
def test_a_scrape_stores_what_the_board_publishes_beyond_the_basics(fake_redis, board):
    jobs = fixture_json("himalayas-3.json")
    source = make_source("himalayas", board.add("/himalayas", {"totalCount": 3, "offset": 0, "limit": 20,
                                                               "jobs": jobs}))
    run = scrape(keyword="a")
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    stored = {p.company: p for p in JobPosting.objects.filter(source=source)}
    adobe = stored["Adobe"]
    assert adobe.company_logo_url == "https://cdn-images.himalayas.app/s3mevgay6igae0nux6lo39kln2qc"
    assert adobe.expires_at is not None and adobe.expires_at.timestamp() == 1777035110
    assert adobe.seniority == "mid"  # the board's "Mid-level"; "Business Consultant" names no level
    assert stored["Acumatica"].seniority == "director"
