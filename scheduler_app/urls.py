from scheduler_app.api import views
from scheduler_app.api.routes import api_route

urlpatterns = [
    api_route("scheduler/status", views.SchedulerStatusView.as_view(), name="scheduler-status"),
    api_route("scheduler/restart", views.SchedulerRestartView.as_view(), name="scheduler-restart"),
    api_route("scheduler/job", views.SchedulerJobView.as_view(), name="scheduler-job"),
    api_route("scheduler/jobs/<job_id>", views.JobDefinitionDetailView.as_view(), name="scheduler-job-definition"),
    api_route("scheduler/jobs/<job_id>/pause", views.SchedulePauseView.as_view(), name="scheduler-job-pause"),
    api_route("scheduler/jobs/<job_id>/resume", views.ScheduleResumeView.as_view(), name="scheduler-job-resume"),
    api_route("scheduler/jobs/<job_id>/next-runs", views.JobNextRunsView.as_view(), name="scheduler-job-next-runs"),
    api_route("scheduler/runs", views.RunListView.as_view(), name="scheduler-run-list"),
    api_route("scheduler/runs/<id>", views.RunDetailView.as_view(), name="scheduler-run-detail"),
    api_route("scheduler/runs/<id>/cancel", views.RunCancelView.as_view(), name="scheduler-run-cancel"),
    api_route("scheduler/locks", views.LockListView.as_view(), name="scheduler-lock-list"),
    api_route("scheduler/locks/cleanup", views.LockCleanupView.as_view(), name="scheduler-lock-cleanup"),
    api_route("scheduler/locks/<job_id>", views.LockDetailView.as_view(), name="scheduler-lock-detail"),
]
