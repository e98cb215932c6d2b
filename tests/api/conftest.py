from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_app.models import JobRun
from tests.waiting import wait_for


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(db):
    from scraping_app.models import Team

    return Team.objects.create(pk=1, name="Team one")


@pytest.fixture
def users(db, team, django_user_model):
    staff = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    member = django_user_model.objects.create_user("member", password="pw")
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    team.members.add(member)
    return {"staff": staff, "member": member, "outsider": outsider}


def bearer(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


@pytest.fixture
def staff_api(users):
    return bearer(users["staff"])


@pytest.fixture
def member_api(users):
    return bearer(users["member"])


def wait_finished(run_id: int, timeout: float = 60.0) -> JobRun:
    return wait_for(lambda: (run := JobRun.objects.get(pk=run_id)).is_finished and run, timeout=timeout,
                    message=f"run {run_id} to finish")
