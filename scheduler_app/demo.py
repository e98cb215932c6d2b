"""Demo data for `make run` (idempotent)."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from scheduler_app import locks
from scheduler_app.services import job_definitions_sync


def demo_data_seed() -> dict:
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
    from scraping_app.services import demo_domain_seed

    team = demo_domain_seed(members=[admin, demo])
    job_definitions_sync()
    admin_token, _ = Token.objects.get_or_create(user=admin)
    demo_token, _ = Token.objects.get_or_create(user=demo)
    lines = [
        "Admin user: admin (password from DJANGO_SUPERUSER_PASSWORD, default 'admin')",
        f"ADMIN_TOKEN={admin_token.key}",
        f"DEMO_TOKEN={demo_token.key}",
        f"Team: {team.pk} ({team.name})",
        "API: http://localhost:8000/api/v1/  docs: http://localhost:8000/api/docs/  admin: http://localhost:8000/admin/",
    ]
    return {"lines": lines, "redis": locks.redis_available()}
