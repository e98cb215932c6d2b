"""Admin pages for every model, the demo data, and the job's parameter validation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduler_app.services import InvalidJobParams
from scraping_app.models import (
    AutomationRule,
    FollowUp,
    JobApplication,
    JobPosting,
    JobSource,
    SavedSearch,
    Team,
)
from scraping_app.services import demo_domain_seed, scrape_params_validate

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
    assert sample.params["delay_seconds"] > 0  # the guide expects a scrape to take a while
    assert SavedSearch.objects.count() == 1 and AutomationRule.objects.count() == 1


def test_every_model_has_working_admin_pages(admin_client):
    now = timezone.now()
    team = Team.objects.create(name="T")
    source = JobSource.objects.create(kind="sample", name="S")
    posting = JobPosting.objects.create(source=source, source_job_id="1", title="Dev", first_seen_at=now,
                                        last_seen_at=now, fingerprint="f")
    application = JobApplication.objects.create(team=team, posting=posting)
    objects = [team, source, posting, application, FollowUp.objects.create(application=application, due_at=now,
                                                                            message="m"),
               SavedSearch.objects.create(team=team, keyword="k"), AutomationRule.objects.create(team=team, name="r")]
    for obj in objects:
        model = obj._meta.model_name
        assert admin_client.get(f"/admin/scraping_app/{model}/").status_code == 200, model
        assert admin_client.get(f"/admin/scraping_app/{model}/{obj.pk}/change/").status_code == 200, model
    response = admin_client.post("/admin/scraping_app/jobsource/", {"action": "enable_sources",
                                                                    "_selected_action": [source.pk]})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.enabled


@pytest.mark.parametrize("params, field", [
    ({"keyword": "x", "limit": "0"}, "limit"),
    ({"keyword": "x", "limit": 101}, "limit"),
    ({"keyword": "x", "limit": "ten"}, "limit"),
    ({"keyword": "  "}, "keyword"),
    ({"keyword": "x" * 101}, "keyword"),
    ({"keyword": "x", "location": "y" * 101}, "location"),
    ({"keyword": "x", "colour": "red"}, "colour"),
])
def test_job_params_are_validated_for_every_trigger(params, field):
    with pytest.raises(InvalidJobParams) as raised:
        scrape_params_validate(params)
    assert field in raised.value.errors


def test_cli_strings_are_coerced():
    assert scrape_params_validate({"keyword": " python ", "location": "remote", "limit": "25"}) == {
        "keyword": "python", "location": "remote", "limit": 25}
    assert scrape_params_validate({}) == {"limit": 25}


def test_demo_team_one_does_not_block_the_next_team():
    demo_domain_seed(members=[])
    assert Team.objects.create(name="Another team").pk != 1
