"""The seed guide's curl commands, exactly as written, run by the real curl against a real `manage.py runserver`.

`manual-testing-guide.md` beside this file is a verbatim copy of the acceptance guide. Each ```bash block with a
curl command runs in bash with three substitutions only: the server's address for localhost:8000 and the two
tokens. Each curl also prints its HTTP status, so the test can check it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from scheduler_app.models import JobRun
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]
GUIDE = Path(__file__).with_name("manual-testing-guide.md")


def curl_blocks() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return [block for block in blocks if "curl " in block]


@pytest.fixture
def guide_setup(django_user_model):
    """What `make run` seeds for the guide: an admin and a user (both in team 1) with tokens, and a job board."""
    from scraping_app.models import JobSource, Team

    admin = django_user_model.objects.create_user("admin", password="admin", is_staff=True, is_superuser=True)
    user = django_user_model.objects.create_user("demo", password="demo")
    team = Team.objects.create(pk=1, name="Demo team")
    team.members.add(admin, user)
    JobSource.objects.create(kind="sample", name="Sample board", enabled=True, params={"page_size": 30})
    return {"YOUR_ADMIN_TOKEN": Token.objects.create(user=admin).key, "YOUR_TOKEN": Token.objects.create(user=user).key}


def run_block(block: str, base: str, tokens: dict) -> list[int]:
    script = block.replace("http://localhost:8000", base)
    for placeholder, token in tokens.items():  # YOUR_ADMIN_TOKEN first: YOUR_TOKEN is not a prefix of it
        script = re.sub(rf"\b{placeholder}\b", token, script)
    script = script.replace("curl ", 'curl -sS -o /dev/null -w "%{http_code}\\n" ')
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [int(code) for code in done.stdout.split()]


def test_the_guide_has_its_curl_commands():
    assert len(curl_blocks()) >= 10


def test_every_curl_command_of_the_guide_works_as_written(web_server, guide_setup, real_redis):
    seen = set()
    for block in curl_blocks():
        codes = run_block(block, web_server, guide_setup)
        assert len(codes) == (5 if "for i in {1..5}" in block else block.count("curl ")), (block, codes)
        if "for i in" in block:  # Test 9: five at once; one runs, the others may be refused while it runs
            assert set(codes) <= {200, 409} and 200 in codes, (block, codes)
        elif "scheduler/restart" in block or "scheduler/job" in block:
            assert codes == [202], (block, codes)
        else:
            assert codes == [200], (block, codes)
        seen.update(re.findall(r"/api/v1/[a-z/]+", block))
    assert seen >= {"/api/v1/jobs/scrape", "/api/v1/scheduler/restart", "/api/v1/logs/clear",
                    "/api/v1/scheduler/status", "/api/v1/scheduler/job"}
    triggered = JobRun.objects.filter(job_id="scrape_jobs_task", trigger="api", team_id=1)
    wait_for(lambda: triggered.exists() and triggered.first().is_finished, timeout=60, interval=0.1,
             message="Test 8's background run to finish")
    assert triggered.get().status == "SUCCEEDED"
