"""The seed guide's Tests 2, 5, 9 and 10 against real processes in REDIS_MODE=cluster: `manage.py runserver` (the
guide's curl commands, as written) and `manage.py runjob`, on a real 3-master Redis Cluster. The operator's view is
checked the way the guide's readers look: `redis-cli -c GET job_lock:scrape_jobs_task` on a node.

Test 2 and 9 here hold the lock with a slow offline board, so every second trigger meets it (HTTP 409)."""

from __future__ import annotations

import json
import re
import threading

import pytest
import requests

from scheduler_app.models import JobRun
from scraping_app.models import JobSource
from tests.acceptance.test_guide_curl import GUIDE, guide_setup, run_block  # noqa: F401  (guide_setup: a fixture)
from tests.conftest import manage, require
from tests.redis_servers import ClusterServers, redis_binaries_present
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
LOCK_KEY = "job_lock:scrape_jobs_task"


def guide_curl_blocks(test: int) -> list[str]:
    """The curl blocks of the guide's `## Test <test>:` section, in order."""
    section = re.search(rf"^## Test {test}:.*?(?=^## )", GUIDE.read_text(encoding="utf-8"), re.S | re.M).group(0)
    return [b for b in re.findall(r"```bash\n(.*?)```", section, re.S) if "curl " in b]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require(redis_binaries_present(), "redis-server and redis-cli are needed to start a Redis Cluster")
    servers = ClusterServers(tmp_path_factory.mktemp("guide-cluster"))
    yield servers
    servers.close()


@pytest.fixture
def cluster_env(cluster, web_server_env) -> dict:
    """Servers and commands of this test talk to the cluster only (REDIS_URL names one node)."""
    for node in cluster.nodes:
        node.client().flushall()
    web_server_env.update(REDIS_MODE="cluster", REDIS_URL=cluster.url)
    return web_server_env


@pytest.fixture
def server(cluster_env, guide_setup, request):  # noqa: F811  (guide_setup: the imported fixture)
    """runserver in cluster mode, the guide's users and tokens, and a board slow enough to meet its lock."""
    JobSource.objects.update(params={"page_size": 200, "delay_seconds": 1.5})
    return request.getfixturevalue("web_server"), guide_setup


def cluster_get(cluster, key: str) -> str:
    """What an operator sees: `redis-cli -c -p <node> GET <key>`, asked of every node (each redirects)."""
    answers = {node.cli("-c", "GET", key) for node in cluster.nodes}
    assert len(answers) == 1, answers
    return answers.pop()


def in_background(block: str, base: str, tokens: dict) -> tuple[threading.Thread, dict]:
    box: dict = {}
    thread = threading.Thread(target=lambda: box.setdefault("codes", run_block(block, base, tokens)))
    thread.start()
    return thread, box


def running_scrape() -> JobRun:
    return wait_for(lambda: JobRun.objects.filter(job_id="scrape_jobs_task", status="RUNNING").first(), timeout=30,
                    interval=0.05, message="the scrape to be RUNNING")


def test_healthz_reports_the_cluster(server):
    base, _ = server
    body = requests.get(f"{base}/healthz", timeout=10).json()
    assert body["redis"]["status"] == "ok" and body["redis"]["mode"] == "cluster", body


def test_guide_2_second_trigger_is_refused_and_redis_cli_shows_the_holder(server, cluster):
    base, tokens = server
    first, second = guide_curl_blocks(2)
    thread, box = in_background(first, base, tokens)
    run = running_scrape()
    holder = json.loads(cluster_get(cluster, LOCK_KEY))
    assert holder["run_id"] == run.pk
    assert run_block(second, base, tokens) == [409]
    thread.join(60)
    assert box["codes"] == [200]
    assert cluster_get(cluster, LOCK_KEY) == ""  # released
    runs = JobRun.objects.filter(job_id="scrape_jobs_task").order_by("pk")
    assert [(r.status, r.skip_reason) for r in runs] == [("SUCCEEDED", ""), ("SKIPPED", "lock_held")]
    assert runs[1].blocked_by["holder"]["run_id"] == run.pk


def test_guide_5_different_jobs_run_concurrently(server):
    base, tokens = server
    scrape, clear = guide_curl_blocks(5)
    thread, box = in_background(scrape.replace(" &\n", "\n"), base, tokens)  # the test waits for it, not bash
    running_scrape()
    assert run_block(clear.replace(" &\n", "\n"), base, tokens) == [200]
    thread.join(60)
    assert box["codes"] == [200]
    statuses = dict(JobRun.objects.values_list("job_id", "status"))
    assert statuses == {"scrape_jobs_task": "SUCCEEDED", "cleanup_old_logs_task": "SUCCEEDED"}


def test_guide_9_five_concurrent_triggers_one_runs(server, cluster):
    base, tokens = server
    (block,) = guide_curl_blocks(9)
    codes = run_block(block, base, tokens)
    assert sorted(codes) == [200, 409, 409, 409, 409]
    runs = JobRun.objects.filter(job_id="scrape_jobs_task")
    assert runs.filter(status="SUCCEEDED").count() == 1
    assert runs.filter(status="SKIPPED", skip_reason="lock_held").count() == 4
    assert cluster_get(cluster, LOCK_KEY) == ""


def test_guide_10_a_crash_releases_the_lock(cluster, cluster_env):
    """The guide's "introduce an error" is the test job that raises; each `runjob` crashes and frees its lock."""
    for _ in range(2):
        proc = manage("runjob", "failing_job", env=cluster_env)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, (out, err)
        assert cluster_get(cluster, "job_lock:failing_job") == ""
    runs = JobRun.objects.filter(job_id="failing_job")
    assert [r.status for r in runs] == ["FAILED", "FAILED"]
    assert all("RuntimeError: Test error" in r.error for r in runs)
