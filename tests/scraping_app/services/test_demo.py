"""Demo data for `make run`: what it seeds, idempotence, and the team sequence."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from scraping_app.models import (
    AutomationRule,
    JobSource,
    SavedSearch,
    Team,
)
from scraping_app.services import demo_domain_seed

pytestmark = pytest.mark.django_db


def test_demo_data_enables_only_the_offline_sample_and_is_idempotent():
    user = get_user_model().objects.create(username="demo")
    demo_domain_seed(members=[user])
    JobSource.objects.filter(kind="remotive").update(enabled=True)  # a user's edit survives a re-seed
    team = demo_domain_seed(members=[user])
    assert team.pk == 1 and list(team.members.all()) == [user]
    assert set(JobSource.objects.values_list("kind", flat=True)) == {
        "sample", "remotive", "arbeitnow", "remoteok", "greenhouse", "lever", "ashby", "himalayas"}
    assert set(JobSource.objects.filter(enabled=True).values_list("kind", flat=True)) == {"sample", "remotive"}
    sample = JobSource.objects.get(kind="sample")
    assert sample.params["delay_seconds"] > 0  # a demo scrape takes a while, so a second trigger meets its lock
    assert SavedSearch.objects.count() == 1 and AutomationRule.objects.count() == 1


def test_demo_team_one_does_not_block_the_next_team():
    demo_domain_seed(members=[])
    assert Team.objects.create(name="Another team").pk != 1
