"""Schemathesis against the live API: every check, positive and negative data, a staff token and a member token.
It must find zero failures of any kind: no 500, no status or body the OpenAPI document does not describe, no
schema-valid request refused and no schema-violating one accepted.

Phases: examples, fuzzing and stateful (links between operations). The coverage phase is left out: it sends
boundary values for references the document cannot bound (a team id or posting id that exists), which only
test data can supply, and that phase ignores the test data given here.

The test data (the `[parameters]` below) name what exists: team 1, one posting, and no sources or params, plus a
keyword for the scrape, whose "a keyword, or a team with active saved searches" rule the document can only say
in words. `wait` is 0 so that a trigger never waits for a lock the fuzzer holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
SEED = os.environ.get("API_FUZZ_SEED", "20261201")
SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"


@pytest.fixture
def web_server_env(subprocess_env) -> dict:
    # The fuzzer sends a few thousand requests, some with bad tokens on purpose (its ignored_auth check): the
    # per-user rate and the token-failure rate would answer most of them 429 (documented, so allowed, but it
    # would leave the operations untested).
    return {**subprocess_env, "API_THROTTLE_USER": "1000000/hour", "API_THROTTLE_SCRAPE": "1000000/minute",
            "API_THROTTLE_AUTH_FAILURES": "1000000/minute"}


@pytest.fixture
def fuzz_data(transactional_db, django_user_model) -> dict:
    from scraping_app.models import JobPosting, JobSource, Team

    staff = django_user_model.objects.create_user("fuzz-staff", password="x", is_staff=True, is_superuser=True)
    member = django_user_model.objects.create_user("fuzz-member", password="x")
    team = Team.objects.create(pk=1, name="Fuzz team")
    team.members.add(staff, member)
    source = JobSource.objects.create(kind="sample", name="Sample board", enabled=True, params={"page_size": 10})
    posting = JobPosting.objects.create(source=source, source_job_id="fuzz-1", title="Python developer",
                                        company="Acme", url="https://example.invalid/1",
                                        first_seen_at=timezone.now(), last_seen_at=timezone.now())
    return {"staff": Token.objects.create(user=staff).key, "member": Token.objects.create(user=member).key,
            "team": team.pk, "posting": posting.pk}


def config_write(path: Path, data: dict) -> Path:
    path.write_text(f"""
[parameters]
"query.team_id" = {data["team"]}
"body.team" = {data["team"]}
"body.team_id" = {data["team"]}
"body.posting" = {data["posting"]}
"body.sources" = []
"body.params" = {{}}
"query.wait" = 0
"body.wait" = 0
"query.wait_seconds" = 0
"body.wait_seconds" = 0
"query.keyword" = "python"
"body.keyword" = "python"
""", encoding="utf-8")
    return path


@pytest.mark.parametrize("who", ["staff", "member"])
def test_schemathesis_finds_no_failures(web_server, fuzz_data, tmp_path, who):
    config = config_write(tmp_path / "schemathesis.toml", fuzz_data)
    command = [SCHEMATHESIS, "--config-file", str(config), "run", f"{web_server}/api/schema/", "--url", web_server,
               "-H", f"Authorization: Bearer {fuzz_data[who]}", "--checks", "all", "--mode", "all",
               "--phases", "examples,fuzzing,stateful", "--max-examples", str(EXAMPLES), "--seed", SEED,
               "--no-color", "--request-timeout", "30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = done.stdout + done.stderr
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-3000:]
    print(summary)  # the closing table, for the log
    assert done.returncode == 0, output[-20000:]
    assert "No issues found" in output or " passed" in summary, summary
