"""Job-search routes under /api/v1/. Every route answers with or without its trailing slash (the acceptance
guide writes `/api/v1/jobs/scrape` without one)."""

from django.urls import re_path

from scraping_app import apis

urlpatterns = [
    re_path(r"^jobs/scrape/?$", apis.JobScrapeApi.as_view(), name="jobs-scrape"),
    re_path(r"^jobs/?$", apis.PostingListApi.as_view(), name="jobs-list"),
    re_path(r"^jobs/(?P<pk>[0-9]+)/?$", apis.PostingDetailApi.as_view(), name="jobs-detail"),
    re_path(r"^teams/?$", apis.TeamListApi.as_view(), name="teams-list"),
    re_path(r"^saved-searches/?$", apis.SavedSearchListApi.as_view(), name="saved-searches-list"),
    re_path(r"^saved-searches/(?P<pk>[0-9]+)/?$", apis.SavedSearchDetailApi.as_view(), name="saved-searches-detail"),
    re_path(r"^applications/?$", apis.JobApplicationListApi.as_view(), name="applications-list"),
    re_path(r"^applications/(?P<pk>[0-9]+)/?$", apis.JobApplicationDetailApi.as_view(), name="applications-detail"),
    re_path(r"^automation-rules/?$", apis.AutomationRuleListApi.as_view(), name="automation-rules-list"),
    re_path(r"^automation-rules/(?P<pk>[0-9]+)/?$", apis.AutomationRuleDetailApi.as_view(),
            name="automation-rules-detail"),
]
