"""Admin pages for every model."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scraping_app.models import (
    AutomationRule,
    FollowUp,
    JobApplication,
    JobPosting,
    JobSource,
    SavedSearch,
    Team,
)

pytestmark = pytest.mark.django_db


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
