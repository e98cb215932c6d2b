"""Job-search domain writes. The scheduler's jobs call `scrape_run`, `follow_ups_check` and `automation_run`."""

from scraping_app.services.alerts import saved_search_digests_send
from scraping_app.services.applications import (
    ApplicationRefused,
    application_create,
    application_move,
    application_update,
    applications_first_stage_record,
    contact_create,
    contact_delete,
    contact_update,
    interview_create,
    interview_delete,
    interview_update,
)
from scraping_app.services.automation import RuleOutcome, automation_rule_apply, automation_run
from scraping_app.services.budget import BudgetGrant, source_budget_record, source_budget_reserve
from scraping_app.services.demo import demo_data_seed, demo_domain_seed
from scraping_app.services.follow_ups import (
    SNOOZE_DAYS_MAX,
    FollowUpRefused,
    follow_up_done,
    follow_up_emails_send,
    follow_up_snooze,
    follow_ups_check,
)
from scraping_app.services.postings import postings_upsert
from scraping_app.services.scrape import SourceOutcome, scrape_params_validate, scrape_run, sources_scrape
from scraping_app.services.sources import SourceInputError, source_add, source_set_enabled
from scraping_app.services.team_data import (
    SavedSearchCapReached,
    automation_rule_create,
    automation_rule_update,
    saved_search_create,
    saved_search_team_cap_check,
    saved_search_update,
    team_record_delete,
)

__all__ = [
    "ApplicationRefused",
    "application_create",
    "application_move",
    "application_update",
    "applications_first_stage_record",
    "contact_create",
    "contact_delete",
    "contact_update",
    "interview_create",
    "interview_delete",
    "interview_update",
    "SNOOZE_DAYS_MAX",
    "BudgetGrant",
    "FollowUpRefused",
    "RuleOutcome",
    "SavedSearchCapReached",
    "SourceInputError",
    "SourceOutcome",
    "automation_rule_apply",
    "automation_rule_create",
    "automation_rule_update",
    "automation_run",
    "demo_data_seed",
    "demo_domain_seed",
    "follow_up_done",
    "follow_up_emails_send",
    "follow_up_snooze",
    "follow_ups_check",
    "postings_upsert",
    "saved_search_create",
    "saved_search_digests_send",
    "saved_search_team_cap_check",
    "saved_search_update",
    "scrape_params_validate",
    "scrape_run",
    "source_add",
    "source_budget_record",
    "source_budget_reserve",
    "source_set_enabled",
    "sources_scrape",
    "team_record_delete",
]
