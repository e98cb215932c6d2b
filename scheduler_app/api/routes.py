"""The one URL rule of every API route (a public module of the framework): each route answers with and without
its trailing slash, the same view and no redirect (the acceptance guide writes `/api/v1/jobs/scrape`, the README
`/api/v1/jobs/`). Ids in a path are 1-18 ASCII digits: a longer one is a 404 from the resolver, never an
integer the database cannot hold."""

from __future__ import annotations

from django.urls import re_path

ID = r"(?P<pk>[0-9]{1,18})"
JOB_ID = r"(?P<job_id>[^/]+)"  # the view checks the job-id rule: a malformed id is a 400 that says so


def api_route(route: str, view, name: str):
    """`api_route("jobs/<id>", view, "jobs-detail")`: `<id>` and `<job_id>` are the two path parameters."""
    pattern = route.replace("<id>", ID).replace("<job_id>", JOB_ID).rstrip("/")
    return re_path(rf"^{pattern}/?$", view, name=name)
