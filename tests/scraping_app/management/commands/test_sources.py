"""manage.py sources list|add|enable|disable, and exit code 2 on bad input."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scraping_app.models import JobSource
from scraping_app.services import demo_domain_seed
from tests.conftest import manage

pytestmark = pytest.mark.django_db


def sources(*args: str) -> str:
    out = StringIO()
    call_command("sources", *args, stdout=out)
    return out.getvalue()


def test_add_uses_the_boards_default_budget_and_stays_disabled():
    output = sources("add", "remotive", "--url", "https://remotive.com/api/remote-jobs", "--param",
                     "category=software-dev")
    source = JobSource.objects.get()
    assert f"Added source {source.pk}: Remotive" in output and "disabled" in output
    assert (source.kind, source.enabled, source.params) == ("remotive", False, {"category": "software-dev"})
    assert (source.min_interval_seconds, source.daily_request_cap) == (60.0, 4)  # Remotive: at most 4 a day


def test_add_names_per_company_boards_from_their_url_and_parses_numbers():
    sources("add", "greenhouse", "--url", "https://boards-api.greenhouse.io/v1/boards/acme/jobs", "--param",
            "max_pages=2", "--enable")
    source = JobSource.objects.get()
    assert source.name == "Greenhouse acme" and source.enabled and source.params == {"max_pages": 2}


def test_enable_disable_and_list():
    demo_domain_seed(members=[])
    remoteok = JobSource.objects.get(kind="remoteok")
    assert "enabled" in sources("enable", str(remoteok.pk))
    remoteok.refresh_from_db()
    assert remoteok.enabled
    sources("disable", str(remoteok.pk))
    remoteok.refresh_from_db()
    assert not remoteok.enabled
    listing = sources("list").splitlines()
    assert listing[0].split() == ["ID", "NAME", "KIND", "ENABLED", "BUDGET", "URL", "PARAMS"]
    assert len(listing) == 1 + JobSource.objects.count()
    assert any("Offline sample" in line and " yes " in line for line in listing)


@pytest.mark.parametrize("args, message", [
    (["add", "monster", "--url", "https://example.com"], "Unknown source kind 'monster'"),
    (["add", "lever"], "--url is required for lever"),
    (["add", "remoteok", "--url", "not a url"], "Invalid URL"),
    (["add", "remoteok", "--param", "novalue"], "--param expects KEY=VALUE"),
    (["enable", "999"], "Unknown source id 999"),
])
def test_bad_input_is_a_clear_error_with_exit_code_2(args, message):
    with pytest.raises(CommandError, match=message) as raised:
        sources(*args)
    assert raised.value.returncode == 2


def test_duplicate_names_are_refused():
    sources("add", "remoteok", "--name", "Board")
    with pytest.raises(CommandError, match="already exists"):
        sources("add", "himalayas", "--name", "Board")


def test_the_real_command_exits_2(subprocess_env):
    process = manage("sources", "add", "nope", "--url", "https://example.com", env=subprocess_env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "Unknown source kind 'nope'" in stderr
