"""Demo data for `make run` (idempotent, never overwrites an edit): the admin superuser and a non-staff demo user
with their API tokens, team 1, the offline sample source (enabled, with a per-page delay so a demo scrape takes a
while and a second trigger meets its lock), the real boards (disabled until a user enables them), a saved search
and an automation rule. The job definitions are seeded by `migrate` itself."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection
from rest_framework.authtoken.models import Token

from scraping_app.models import AutomationRule, JobSource, SavedSearch, Team
from scraping_app.sources import source_class

DEMO_SOURCES = [
    # (kind, name, url, params, enabled)
    ("sample", "Offline sample", "", {"delay_seconds": 3, "page_size": 10}, True),
    ("remotive", "Remotive", "", {}, False),
    ("arbeitnow", "Arbeitnow", "", {}, False),
    ("remoteok", "RemoteOK", "", {}, False),
    ("greenhouse", "Greenhouse Airbnb", "https://boards-api.greenhouse.io/v1/boards/airbnb/jobs",
     {"company": "Airbnb"}, False),
    ("lever", "Lever Spotify", "https://api.lever.co/v0/postings/spotify", {"company": "Spotify"}, False),
    ("ashby", "Ashby Ramp", "https://api.ashbyhq.com/posting-api/job-board/ramp", {"company": "Ramp"}, False),
    ("himalayas", "Himalayas", "", {}, False),
]


def demo_domain_seed(*, members: list) -> Team:
    team, created = Team.objects.get_or_create(pk=1, defaults={"name": "Demo team"})
    if created:
        _sequence_reset(Team)  # an explicit pk leaves PostgreSQL's sequence behind: the next team would clash
    team.members.add(*members)
    for kind, name, url, params, enabled in DEMO_SOURCES:
        adapter = source_class(kind)
        JobSource.objects.get_or_create(name=name, defaults=dict(
            kind=kind, base_url=url or adapter.default_url, params=params, enabled=enabled,
            min_interval_seconds=adapter.budget.min_interval_seconds,
            daily_request_cap=adapter.budget.daily_request_cap))
    SavedSearch.objects.get_or_create(team=team, keyword="python", location="remote", defaults={"limit": 25})
    AutomationRule.objects.get_or_create(team=team, name="Remote Python", defaults=dict(
        include_keywords=["python", "django"], exclude_keywords=["senior staff"], locations=["remote"],
        remote_only=True, auto_shortlist=True, follow_up_days=3))
    return team


def _sequence_reset(model) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), [model])
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def demo_data_seed() -> list[str]:
    """Seed the demo users, their tokens and the domain data; return the lines `seed_demo` prints (one per token)."""
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@localhost"}
    )
    if created:
        admin.set_password(os.environ.get("DJANGO_SUPERUSER_PASSWORD", "admin"))
        admin.save()
    demo, created = User.objects.get_or_create(username="demo", defaults={"email": "demo@localhost"})
    if created:
        demo.set_password(os.environ.get("DEMO_USER_PASSWORD", "demo"))
        demo.save()
    team = demo_domain_seed(members=[admin, demo])
    admin_token, _ = Token.objects.get_or_create(user=admin)
    demo_token, _ = Token.objects.get_or_create(user=demo)
    return [
        "Admin user: admin (password from DJANGO_SUPERUSER_PASSWORD, default 'admin')",
        f"ADMIN_TOKEN={admin_token.key}",
        f"DEMO_TOKEN={demo_token.key}",
        f"Team: {team.pk} ({team.name})",
        "API: http://localhost:8000/api/v1/  docs: http://localhost:8000/api/docs/  admin: http://localhost:8000/admin/",
    ]
