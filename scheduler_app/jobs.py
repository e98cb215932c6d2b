"""The four jobs. Each is a thin call into its domain service and wears the execution lock.

This module is where the scheduler meets the domain apps (the only place in scheduler_app that imports them).
"""

from __future__ import annotations

from logs_app import services as logs_services
from scheduler_app import services as scheduler_services
from scheduler_app.job_wrapper import with_execution_lock
from scraping_app import services as scraping_services


@with_execution_lock(timeout_minutes=10, name="Job Scraping", cron="*/30 * * * *",
                     params_validator=scraping_services.scrape_params_validate)
def scrape_jobs_task(*, keyword: str | None = None, location: str | None = None, limit: int = 25,
                     team=None) -> dict:
    return scraping_services.scrape_run(keyword=keyword, location=location, limit=limit, team=team)


@with_execution_lock(timeout_minutes=5, name="Check Follow-ups", cron="0 9 * * *")
def check_follow_ups_task(*, team=None) -> dict:
    return scraping_services.follow_ups_check(team=team)


@with_execution_lock(timeout_minutes=3, name="Log Cleanup", cron="0 3 * * *",
                     params_validator=logs_services.cleanup_params_validate)
def cleanup_old_logs_task(*, older_than_days: int | None = None) -> dict:
    return logs_services.log_entries_cleanup(older_than_days=older_than_days,
                                             run_history_delete=scheduler_services.run_history_delete_before)


@with_execution_lock(timeout_minutes=10, name="Job Automation", cron="15 * * * *")
def run_job_automation_task(*, team=None) -> dict:
    return scraping_services.automation_run(team=team)
