"""The shipped alert rules and Grafana dashboard: promtool's own checks and unit tests, a runbook for each alert,
and every series (and label) they name exists on a live /metrics served by a real web server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
import requests
import yaml
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from scheduler_app import locks
from scheduler_app.models import JobRun
from scheduler_app.services import job_run, job_run_record_not_started, scheduler_instance_start
from tests.conftest import ROOT, require
from tests.logs_app.ops.promql_names import selectors, series_names

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "jobsite-dashboard.json"
OPERATIONS = ROOT / "docs" / "operations.md"
ALERTS = {"JobsiteStuckLock", "JobsiteJobFailing", "JobsiteFailureRate", "JobsiteNoScheduler", "JobsiteJobLate",
          "JobsiteSkipsHigh", "JobsiteLockBackendDegraded"}
SCRAPE_LABELS = {"instance", "job"}  # added by Prometheus, not by /metrics


def promtool() -> str:
    path = shutil.which("promtool")
    require(path is not None, "promtool is not installed (Debian package prometheus)")
    return path


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def as_promql(expr: str) -> str:
    """A dashboard query as plain PromQL: Grafana's variables replaced by what they stand for."""
    return expr.replace("$__rate_interval", "5m").replace('"$job_id"', '".*"')


def test_promtool_checks_the_rules():
    done = subprocess.run([promtool(), "check", "rules", RULES.name], cwd=PROMETHEUS, capture_output=True,
                          text=True, timeout=60)
    print(done.stdout, done.stderr)
    assert done.returncode == 0
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    done = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=PROMETHEUS, capture_output=True,
                          text=True, timeout=120)
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == ALERTS  # every alert has its own test cases


def test_each_alert_has_a_summary_a_description_and_a_runbook_section():
    headings = _headings(OPERATIONS.read_text())
    assert {rule["alert"] for rule in rules()} == ALERTS
    for rule in rules():
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        doc, _, anchor = annotations["runbook_url"].partition("#")
        assert doc == "docs/operations.md" and anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in headings, f"docs/operations.md has no section for {rule['alert']}"


def _headings(markdown: str) -> set[str]:
    """The anchors of a Markdown file's headings (lines in code blocks are not headings)."""
    anchors, fenced = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            anchors.add(_anchor(line.lstrip("#").strip()))
    return anchors


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading.lower()))


def test_the_dashboard_queries_are_valid_promql(tmp_path):
    recorded = [{"record": f"jobsite:dashboard_panel_{i}", "expr": as_promql(expr)}
                for i, expr in enumerate(dashboard_exprs())]
    recording = {"groups": [{"name": "dashboard", "rules": recorded}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(recording))
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scanner_finds_names_and_matchers():
    expr = ('max by (job_id) (increase(jobsite_runs_total{status=~"FAILED|X", job_id="a"}[1h])) / '
            'ignoring (le) histogram_quantile(0.9, rate(jobsite_lock_wait_seconds_bucket[$__rate_interval])) '
            'or time() - jobsite_redis_up > bool 0')
    assert series_names(expr) == {"jobsite_runs_total", "jobsite_lock_wait_seconds_bucket", "jobsite_redis_up"}
    assert selectors(expr) == [("jobsite_runs_total", [("status", "=~", "FAILED|X"), ("job_id", "=", "a")])]


@pytest.fixture
def every_kind_of_run(real_redis):
    """Runs of each kind the rules read: successes, three failures in a row, a late scheduled run, a scheduled
    trigger refused by a held lock, a misfired slot, a live holder, and a scheduler's heartbeat."""
    now = timezone.now()
    assert job_run(job_id="quick_job", trigger="cli").status == JobRun.Status.SUCCEEDED
    for _ in range(3):
        assert job_run(job_id="failing_job", trigger="cli").status == JobRun.Status.FAILED
    late = job_run(job_id="quick_job", trigger="scheduled", scheduled_for=now - timedelta(seconds=90))
    assert late.status == JobRun.Status.SUCCEEDED and late.start_lateness_ms >= 90_000
    holder = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                   started_at=now, heartbeat_at=now)
    lease = locks.acquire("hold_job", ttl_seconds=60, run_id=holder.pk)
    refused = job_run(job_id="hold_job", trigger="scheduled", scheduled_for=now)
    assert refused.skip_reason == JobRun.SkipReason.LOCK_HELD
    job_run_record_not_started(job_id="quick_job", scheduled_for=now - timedelta(minutes=5),
                               status=JobRun.Status.MISSED, skip_reason=JobRun.SkipReason.MISFIRE)
    scheduler_instance_start(host="test-host", pid=os.getpid())
    yield
    lease.release()


def live_series(base: str) -> dict[str, dict[str, set[str]]]:
    """name -> label -> values, from the server's /metrics."""
    response = requests.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    found: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = found.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
    return found


def test_rules_dashboard_and_rule_tests_name_only_live_series(web_server, every_kind_of_run):
    live = live_series(web_server)
    queries = {rule["alert"]: rule["expr"] for rule in rules()}
    queries.update({f"dashboard query {i}": as_promql(e) for i, e in enumerate(dashboard_exprs())})
    for where, expr in queries.items():
        assert series_names(expr), where
        for name in series_names(expr):
            assert name in live, f"{where}: {name} is not on /metrics"
        for name, matchers in selectors(expr):
            for label, operator, value in matchers:
                assert label in live[name], f"{where}: {name} has no label {label}"
                if operator == "=" and label != "job_id":
                    assert value in live[name][label], f"{where}: {name}{{{label}={value!r}}} is not on /metrics"
    # promtool's test series use the same names and exactly the labels /metrics gives them.
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for series in case["input_series"]:
            name, _, body = series["series"].partition("{")
            labels = set(re.findall(r"(\w+)=", body)) - SCRAPE_LABELS
            assert name in live, f"alerts_test.yml: {name} is not on /metrics"
            assert labels == set(live[name]), f"alerts_test.yml: {name} labels {labels} != {set(live[name])}"
