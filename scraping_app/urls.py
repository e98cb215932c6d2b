"""Job-search routes under /api/v1/ (every one answers with or without its trailing slash: scheduler_app's
api_route rule)."""

from scheduler_app.api.routes import api_route
from scraping_app.api import views

# A second id in a path (an application's contact or interview): the same 1-18 digits as api_route's <id>.
CHILD_ID = "(?P<{name}>[0-9]{{1,18}})"

urlpatterns = [
    api_route("jobs/scrape", views.JobScrapeApi.as_view(), name="jobs-scrape"),
    api_route("jobs", views.PostingListApi.as_view(), name="jobs-list"),
    api_route("jobs/<id>", views.PostingDetailApi.as_view(), name="jobs-detail"),
    api_route("teams", views.TeamListApi.as_view(), name="teams-list"),
    api_route("saved-searches", views.SavedSearchListApi.as_view(), name="saved-searches-list"),
    api_route("saved-searches/<id>", views.SavedSearchDetailApi.as_view(), name="saved-searches-detail"),
    api_route("applications", views.JobApplicationListApi.as_view(), name="applications-list"),
    api_route("applications/<id>", views.JobApplicationDetailApi.as_view(), name="applications-detail"),
    api_route("applications/<id>/move", views.JobApplicationMoveApi.as_view(), name="applications-move"),
    api_route("applications/<id>/contacts", views.ApplicationContactListApi.as_view(), name="applications-contacts"),
    api_route(f"applications/<id>/contacts/{CHILD_ID.format(name='contact_id')}",
              views.ApplicationContactDetailApi.as_view(), name="applications-contact"),
    api_route("applications/<id>/interviews", views.ApplicationInterviewListApi.as_view(),
              name="applications-interviews"),
    api_route(f"applications/<id>/interviews/{CHILD_ID.format(name='interview_id')}",
              views.ApplicationInterviewDetailApi.as_view(), name="applications-interview"),
    api_route("automation-rules", views.AutomationRuleListApi.as_view(), name="automation-rules-list"),
    api_route("automation-rules/<id>", views.AutomationRuleDetailApi.as_view(), name="automation-rules-detail"),
    api_route("automation-rules/<id>/preview", views.AutomationRulePreviewApi.as_view(),
              name="automation-rules-preview"),
    api_route("follow-ups", views.FollowUpListApi.as_view(), name="follow-ups-list"),
    api_route("follow-ups/<id>/done", views.FollowUpDoneApi.as_view(), name="follow-ups-done"),
    api_route("follow-ups/<id>/snooze", views.FollowUpSnoozeApi.as_view(), name="follow-ups-snooze"),
]
