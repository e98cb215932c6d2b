"""The job-search API: every status code of the scrape endpoint, postings, and team-scoped CRUD."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_app.models import JobRun
from scraping_app.models import AutomationRule, JobApplication, JobPosting, SavedSearch, Team
from tests.scraping_app.conftest import Reply, fixture_json, make_source, wait_until

SCRAPE = "/api/v1/jobs/scrape?keyword=python&location=remote&limit=25"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def people():
    User = get_user_model()
    alice = User.objects.create(username="alice", email="alice@example.com")
    mallory = User.objects.create(username="mallory")
    staff = User.objects.create(username="root", is_staff=True)
    team = Team.objects.create(name="Alice's team")
    team.members.add(alice)
    other = Team.objects.create(name="Other team")
    other.members.add(mallory)
    return {"alice": alice, "mallory": mallory, "staff": staff, "team": team, "other": other}


@pytest.fixture
def api(people):
    return client_for(people["alice"])


@pytest.fixture
def sample(db):
    return make_source("sample", name="Sample", params={"page_size": 30})


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "scrape-api-tests"}}
    from django.core.cache import cache

    cache.clear()  # throttle history from earlier tests


@pytest.mark.django_db
class TestScrape:
    def test_200_runs_the_job_through_the_lock(self, fake_redis, api, sample):
        response = api.get(SCRAPE)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) >= {"run_id", "status", "counts", "postings"}
        assert body["status"] == "SUCCEEDED"
        assert body["counts"]["Sample"]["created"] == len(body["postings"]) > 0
        assert all(p["is_remote"] for p in body["postings"])
        run = JobRun.objects.get(pk=body["run_id"])
        assert run.trigger == "api" and run.user.username == "alice"

    def test_post_with_a_json_body_and_the_trailing_slash(self, fake_redis, api, sample):
        response = api.post("/api/v1/jobs/scrape/", {"keyword": "django", "limit": 2}, format="json")
        assert response.status_code == 200
        assert len(response.json()["postings"]) == 2

    def test_401_without_a_token(self, sample):
        response = APIClient().get(SCRAPE)
        assert response.status_code == 401

    @pytest.mark.parametrize("query, field", [
        ("keyword=python&limit=0", "limit"),
        ("keyword=python&limit=101", "limit"),
        ("keyword=python&limit=many", "limit"),
        ("keyword=&limit=5", "keyword"),
        ("keyword=" + "x" * 101, "keyword"),
        ("limit=5", "keyword"),
        ("keyword=python&team_id=abc", "team_id"),
        ("keyword=python&team_id=999", "team_id"),
        ("keyword=python&wait=601", "wait"),
        ("keyword=python&wait=-1", "wait"),
    ])
    def test_400_for_invalid_input(self, api, sample, query, field):
        response = api.get(f"/api/v1/jobs/scrape?{query}")
        assert response.status_code == 400
        assert field in response.json()
        assert not JobRun.objects.exists()  # refused before any run

    def test_400_for_a_team_the_user_is_not_in(self, api, people, sample):
        response = api.get(f"{SCRAPE}&team_id={people['other'].pk}")
        assert response.status_code == 400
        assert response.json() == {"team_id": ["Unknown team."]}

    def test_staff_may_use_any_team(self, fake_redis, people, sample):
        response = client_for(people["staff"]).get(f"{SCRAPE}&team_id={people['other'].pk}")
        assert response.status_code == 200
        assert JobRun.objects.get().team == people["other"]

    def test_team_saved_searches_make_keyword_optional(self, fake_redis, api, people, sample):
        SavedSearch.objects.create(team=people["team"], keyword="django", location="remote", limit=3)
        response = api.get(f"/api/v1/jobs/scrape?team_id={people['team'].pk}")
        assert response.status_code == 200
        assert 0 < len(response.json()["postings"]) <= 3

    def test_a_team_scrape_holds_the_request_at_most_its_budget_plus_one_page(self, fake_redis, api, people, board,
                                                                                settings):
        """The synchronous endpoint's bound: SCRAPE_RUN_BUDGET_SECONDS plus the board page under way when it ran
        out (at most SCRAPE_HTTP_READ_TIMEOUT here: one attempt, no retries), against a slow board over HTTP."""
        settings.SCRAPE_RUN_BUDGET_SECONDS = 0.6
        settings.SCRAPE_HTTP_READ_TIMEOUT = 1.0
        settings.SCRAPE_RETRY_TOTAL = 0
        page_seconds = 0.4  # under the read timeout: every page answers, slowly
        make_source("remoteok", board.add("/remoteok", Reply([{"legal": "T"}, *fixture_json("remoteok-2.json")],
                                                             delay=page_seconds)))
        searches = [SavedSearch.objects.create(team=people["team"], keyword=f"k{i}") for i in range(12)]
        unbounded = len(searches) * page_seconds  # 4.8 s: what the run took before the budget
        bound = settings.SCRAPE_RUN_BUDGET_SECONDS + settings.SCRAPE_HTTP_READ_TIMEOUT
        overhead = 1.0  # the request's own work: auth, the run's rows, the lock, the upserts
        assert bound + overhead < unbounded

        started = time.monotonic()
        response = api.post("/api/v1/jobs/scrape", {"team_id": people["team"].pk}, format="json")
        elapsed = time.monotonic() - started

        assert response.status_code == 200, response.content
        assert elapsed < bound + overhead, f"{elapsed:.2f} s"
        body = response.json()
        assert body["status"] == "PARTIAL"
        result = JobRun.objects.get(pk=body["run_id"]).result
        ran, skipped = result["searches"], result["skipped_searches"]
        assert ran and skipped and len(ran) + len(skipped) == len(searches)
        assert len(board.hits("/remoteok")) == len(ran)
        [warning] = body["warnings"]
        assert "SCRAPE_RUN_BUDGET_SECONDS" in warning
        assert all(f"#{s['id']} {s['keyword']} in anywhere" in warning for s in skipped)

    def test_409_while_the_lock_is_held(self, fake_redis, api, sample):
        from scheduler_app import locks

        lease = locks.acquire("scrape_jobs_task", ttl_seconds=60)
        try:
            response = api.get(SCRAPE)
        finally:
            lease.release()
        assert response.status_code == 409
        assert response.json()["detail"] == "Job is already running"
        assert response.json()["ttl_seconds"] > 0
        assert JobRun.objects.get().status == JobRun.Status.SKIPPED

    def test_429_when_the_scrape_throttle_is_exceeded(self, fake_redis, api, sample, settings):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"user": "1000/hour", "scrape": "2/minute"}}
        codes = [api.get("/api/v1/jobs/scrape?keyword=python&limit=1").status_code for _ in range(3)]
        assert codes == [200, 200, 429]

    def test_the_throttle_lets_requests_through_when_its_cache_is_down(self, fake_redis, api, sample, settings):
        settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                                       "LOCATION": "redis://127.0.0.1:1/0",
                                       "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
        assert api.get("/api/v1/jobs/scrape?keyword=python&limit=1").status_code == 200

    def test_200_with_partial_status_when_a_board_fails(self, fake_redis, api, sample, fast_http):
        make_source("remoteok", "http://127.0.0.1:1/api", name="Down board")
        body = api.get(SCRAPE).json()
        assert body["status"] == "PARTIAL"
        assert "error" in body["counts"]["Down board"] and body["counts"]["Sample"]["created"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_second_trigger_during_a_running_scrape_gets_409_then_the_lock_frees(fake_redis, people):
    """The first request runs (slowly); a second one meanwhile is refused at once with 409."""
    slow = make_source("sample", name="Slow sample", params={"delay_seconds": 0.15, "page_size": 10})
    api = client_for(people["alice"])
    first: dict = {}

    def slow_request():
        try:
            first["response"] = client_for(people["mallory"]).get(SCRAPE)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_until(lambda: JobRun.objects.filter(status=JobRun.Status.RUNNING).exists(),
               message="the first scrape never started running")
    second = api.get(SCRAPE)
    thread.join(20)

    assert second.status_code == 409 and second.json()["detail"] == "Job is already running"
    assert first["response"].status_code == 200 and first["response"].json()["status"] == "SUCCEEDED"
    slow.params = {"page_size": 50}
    slow.save()
    assert api.get(SCRAPE).status_code == 200  # released after the first finished


@pytest.mark.django_db
class TestPostings:
    @pytest.fixture
    def postings(self, sample):
        now = timezone.now()
        base = dict(source=sample, first_seen_at=now, last_seen_at=now, fingerprint="x")
        return [
            JobPosting.objects.create(source_job_id="1", title="Python dev", company="A", location="Remote (EU)",
                                      is_remote=True, posted_at=now - timedelta(days=1), **base),
            JobPosting.objects.create(source_job_id="2", title="Go dev", company="B", location="Berlin",
                                      posted_at=now - timedelta(days=10), **base),
            JobPosting.objects.create(source_job_id="3", title="Python data", company="C", location="BERLIN Mitte",
                                      posted_at=now - timedelta(days=3), description_text="secret", **base),
        ]

    def ids(self, api, query=""):
        response = api.get(f"/api/v1/jobs/?{query}")
        assert response.status_code == 200, response.content
        return sorted(int(p["source_job_id"]) for p in response.json()["results"])

    def test_filters(self, api, postings):
        assert self.ids(api) == [1, 2, 3]
        assert self.ids(api, "keyword=python") == [1, 3]
        assert self.ids(api, "location=berlin") == [2, 3]
        assert self.ids(api, "location=REMOTE") == [1]
        assert self.ids(api, "remote=false") == [2, 3]
        assert self.ids(api, "source=sample") == [1, 2, 3]
        assert self.ids(api, "source=lever") == []
        posted_after = (timezone.now() - timedelta(days=5)).date().isoformat()
        assert self.ids(api, f"posted_after={posted_after}") == [1, 3]

    def test_newest_first_and_undated_last(self, api, postings, sample):
        now = timezone.now()
        JobPosting.objects.create(source=sample, source_job_id="4", title="Undated", first_seen_at=now,
                                  last_seen_at=now, fingerprint="x")
        order = [p["source_job_id"] for p in api.get("/api/v1/jobs/").json()["results"]]
        assert order == ["1", "3", "2", "4"]

    def test_pagination_and_bad_filters(self, api, postings, settings):
        page = api.get("/api/v1/jobs?page_size=1").json()
        assert page["count"] == 3 and len(page["results"]) == 1 and page["next"]
        assert api.get("/api/v1/jobs/?posted_after=yesterday").status_code == 400
        # pages go by cursor now (issue 16): `page` is an unknown parameter
        assert api.get("/api/v1/jobs/?page=99").json() == {"page": ["Unknown field."]}

    def test_detail_includes_the_description(self, api, postings):
        response = api.get(f"/api/v1/jobs/{postings[2].pk}")
        assert response.status_code == 200 and response.json()["description_text"] == "secret"
        assert api.get("/api/v1/jobs/999999").status_code == 404

    def test_401_without_a_token(self, postings):
        assert APIClient().get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
class TestTeamRecords:
    @pytest.fixture
    def posting(self, sample):
        now = timezone.now()
        return JobPosting.objects.create(source=sample, source_job_id="1", title="Python dev", first_seen_at=now,
                                         last_seen_at=now, fingerprint="x")

    def test_saved_search_crud_in_my_team(self, api, people, sample):
        created = api.post("/api/v1/saved-searches/", {"team": people["team"].pk, "keyword": "python",
                                                       "location": "remote", "limit": 10, "sources": [sample.pk]},
                           format="json")
        assert created.status_code == 201, created.content
        pk = created.json()["id"]
        assert api.patch(f"/api/v1/saved-searches/{pk}", {"active": False}, format="json").json()["active"] is False
        assert [s["id"] for s in api.get("/api/v1/saved-searches/").json()["results"]] == [pk]
        assert api.delete(f"/api/v1/saved-searches/{pk}").status_code == 204
        assert not SavedSearch.objects.exists()

    def test_the_21st_saved_search_is_a_409_naming_the_cap(self, member_api, team):
        """The service's cap (SAVED_SEARCHES_PER_TEAM_MAX, 20 by default) reaches the client as a 409: the request
        is well formed, the team's state refuses it."""
        SavedSearch.objects.bulk_create([SavedSearch(team=team, keyword=f"k{i}") for i in range(20)])
        response = member_api.post("/api/v1/saved-searches/", {"team": team.pk, "keyword": "one more"},
                                   format="json")
        assert response.status_code == 409, response.content
        assert response.json() == {"team": [
            "A team may keep at most 20 saved searches (SAVED_SEARCHES_PER_TEAM_MAX); this team has 20. "
            "Delete one before adding another."]}
        assert SavedSearch.objects.filter(team=team).count() == 20

    def test_limit_is_validated(self, api, people):
        response = api.post("/api/v1/saved-searches/", {"team": people["team"].pk, "keyword": "x", "limit": 500},
                            format="json")
        assert response.status_code == 400 and "limit" in response.json()

    def test_other_teams_records_are_invisible_and_unwritable(self, api, people, posting):
        theirs = JobApplication.objects.create(team=people["other"], posting=posting)
        assert api.get("/api/v1/applications/").json()["results"] == []
        assert api.get(f"/api/v1/applications/{theirs.pk}").status_code == 404
        assert api.patch(f"/api/v1/applications/{theirs.pk}", {"notes": "x"}, format="json").status_code == 404
        assert api.delete(f"/api/v1/applications/{theirs.pk}").status_code == 404
        response = api.post("/api/v1/applications/", {"team": people["other"].pk, "posting": posting.pk},
                            format="json")
        assert response.status_code == 400 and response.json() == {"team": ["Unknown team."]}
        assert api.get(f"/api/v1/applications/?team_id={people['other'].pk}").status_code == 400

    def test_application_lifecycle_and_uniqueness(self, api, people, posting):
        payload = {"team": people["team"].pk, "posting": posting.pk, "status": "applied"}
        created = api.post("/api/v1/applications/", payload, format="json")
        assert created.status_code == 201
        again = api.post("/api/v1/applications/", payload, format="json")
        assert again.status_code == 409 and "already exists" in again.json()["detail"]
        pk = created.json()["id"]
        updated = api.put(f"/api/v1/applications/{pk}", {**payload, "status": "interviewing", "notes": "call"},
                          format="json")
        assert updated.status_code == 200 and updated.json()["status"] == "interviewing"
        assert api.patch(f"/api/v1/applications/{pk}", {"status": "hired"}, format="json").status_code == 400

    def test_automation_rules_and_staff_see_everything(self, api, people):
        created = api.post("/api/v1/automation-rules/", {"team": people["team"].pk, "name": "Py",
                                                         "include_keywords": ["python"], "remote_only": True},
                           format="json")
        assert created.status_code == 201, created.content
        AutomationRule.objects.create(team=people["other"], name="Theirs")
        assert [r["name"] for r in api.get("/api/v1/automation-rules").json()["results"]] == ["Py"]
        staff = client_for(people["staff"])
        assert sorted(r["name"] for r in staff.get("/api/v1/automation-rules/").json()["results"]) == ["Py",
                                                                                                       "Theirs"]
        assert [t["name"] for t in api.get("/api/v1/teams/").json()] == ["Alice's team"]

    def test_401_without_a_token(self):
        for path in ("/api/v1/saved-searches/", "/api/v1/applications/", "/api/v1/automation-rules/"):
            assert APIClient().get(path).status_code == 401
