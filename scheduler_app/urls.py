from django.urls import path

from scheduler_app.api import views

urlpatterns = [
    path("scheduler/status", views.SchedulerStatusView.as_view(), name="scheduler-status"),
    path("scheduler/restart", views.SchedulerRestartView.as_view(), name="scheduler-restart"),
    path("scheduler/job", views.SchedulerJobView.as_view(), name="scheduler-job"),
    path("scheduler/jobs/<str:job_id>", views.JobDefinitionDetailView.as_view(), name="scheduler-job-definition"),
    path("scheduler/runs", views.RunListView.as_view(), name="scheduler-run-list"),
    path("scheduler/runs/<int:pk>", views.RunDetailView.as_view(), name="scheduler-run-detail"),
    path("scheduler/locks", views.LockListView.as_view(), name="scheduler-lock-list"),
    path("scheduler/locks/cleanup", views.LockCleanupView.as_view(), name="scheduler-lock-cleanup"),
    path("scheduler/locks/<str:job_id>", views.LockDetailView.as_view(), name="scheduler-lock-detail"),
]
