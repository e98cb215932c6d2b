from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class JobSource(models.Model):
    """One configured job board (or the offline sample), with its politeness budget.

    The budget lives in the database so every trigger (schedule, API, admin, CLI, any host) shares it.
    """

    class Kind(models.TextChoices):
        SAMPLE = "sample", "Offline sample"
        REMOTIVE = "remotive", "Remotive"
        ARBEITNOW = "arbeitnow", "Arbeitnow"
        REMOTEOK = "remoteok", "RemoteOK"
        GREENHOUSE = "greenhouse", "Greenhouse"
        LEVER = "lever", "Lever"
        ASHBY = "ashby", "Ashby"
        HIMALAYAS = "himalayas", "Himalayas"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.CharField(max_length=500, blank=True, help_text="The board's API endpoint.")
    params = models.JSONField(default=dict, blank=True, help_text="Adapter options, e.g. company, max_pages.")
    enabled = models.BooleanField(default=False)
    min_interval_seconds = models.FloatField(
        default=1.0, validators=[MinValueValidator(0)],
        help_text="Minimum seconds between two requests to this board, across all triggers.")
    daily_request_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most requests per UTC day; empty means no cap.")
    # Budget bookkeeping (written by services.source_budget_* only).
    next_request_at = models.DateTimeField(null=True, blank=True)
    budget_day = models.DateField(null=True, blank=True)
    requests_today = models.PositiveIntegerField(default=0)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class JobPosting(models.Model):
    source = models.ForeignKey(JobSource, on_delete=models.CASCADE, related_name="postings")
    source_job_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    company = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=300, blank=True)
    is_remote = models.BooleanField(default=False)
    employment_type = models.CharField(max_length=100, blank=True)
    employment_type_normalized = models.CharField(
        max_length=20, blank=True, help_text="full_time, part_time, contract, internship or temporary; derived.")
    seniority = models.CharField(max_length=20, blank=True, help_text="Derived from the title; empty: not named.")
    salary_min = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    salary_max = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    salary_currency = models.CharField(max_length=10, blank=True)
    salary_period = models.CharField(max_length=20, blank=True)
    # Annual, in settings.SALARY_BASE_CURRENCY (scraping_app.normalize), for filters and the salary sort.
    salary_annual_min = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    salary_annual_max = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    description_text = models.TextField(blank=True, help_text="Sanitized plain text.")
    url = models.URLField(max_length=1000, blank=True, help_text="The board's own link, kept for attribution.")
    apply_url = models.URLField(max_length=1000, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True, help_text="UTC.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    fingerprint = models.CharField(max_length=64, db_index=True,
                                   help_text="sha256(company|title|location), for cross-board duplicates.")
    # Duplicates (scraping_app.dedupe): the normalised key that finds candidates, and the posting this one copies.
    dedupe_key = models.CharField(max_length=64, blank=True, db_index=True,
                                  help_text="sha256 of the normalised company, title and city; derived.")
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="duplicates",
                                     help_text="The posting of the same real job this one copies; empty: canonical.")
    # What the boards publish beyond the basics (sources/*).
    company_logo_url = models.URLField(max_length=1000, blank=True)
    other_locations = models.JSONField(default=list, blank=True, help_text="The posting's further locations.")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the board says the posting closes.")
    requirements = models.JSONField(default=list, blank=True,
                                    help_text='Sections the board lists apart: [{"title": ..., "items": [...]}].')
    raw = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_job_id"], name="unique_posting_per_source"),
        ]
        indexes = [models.Index(fields=["first_seen_at"]), models.Index(fields=["posted_at"])]

    def __str__(self) -> str:
        return f"{self.title} at {self.company}"


class SavedSearch(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="saved_searches")
    keyword = models.CharField(max_length=100)
    location = models.CharField(max_length=100, blank=True)
    limit = models.PositiveSmallIntegerField(default=25, validators=[MinValueValidator(1), MaxValueValidator(100)])
    sources = models.ManyToManyField(JobSource, blank=True, help_text="Empty means every enabled source.")
    filters = models.JSONField(
        default=dict, blank=True,
        help_text="The postings list's other filters (remote, employment_type, salary_min, seniority, company, "
                  "tags, posted_within_hours, source), validated like GET /api/v1/jobs.")
    active = models.BooleanField(default=True)

    class Alert(models.TextChoices):
        OFF = "off", "No alerts"
        EACH_SCRAPE = "each_scrape", "After each scrape"
        DAILY = "daily", "Daily digest"

    alert = models.CharField(max_length=20, choices=Alert.choices, default=Alert.OFF,
                             help_text="Email the team a digest of new matches.")
    alert_emails = models.JSONField(default=list, blank=True,
                                    help_text="Where digests go; empty: the team members' addresses.")
    last_alerted_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="Postings first seen after this are new to the next digest.")
    last_scraped_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a scrape run last ran this search. A run takes the least recently scraped first.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "saved searches"

    def __str__(self) -> str:
        return f"{self.keyword} in {self.location or 'anywhere'} ({self.team})"


class JobApplication(models.Model):
    class Status(models.TextChoices):
        SHORTLISTED = "shortlisted"
        APPLIED = "applied"
        INTERVIEWING = "interviewing"
        OFFER = "offer"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="applications")
    posting = models.ForeignKey(JobPosting, on_delete=models.CASCADE, related_name="applications", null=True,
                                blank=True, help_text="The scraped posting; empty for a job found elsewhere.")
    # A job found elsewhere (no scraped posting): its link, title and company.
    external_url = models.URLField(max_length=1000, blank=True)
    external_title = models.CharField(max_length=300, blank=True)
    external_company = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SHORTLISTED)
    # Set by the tracker's moves (services), never by hand: when the application first reached each stage.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    interviewing_at = models.DateTimeField(null=True, blank=True)
    offer_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    salary_expected = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    offer_salary = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    offer_currency = models.CharField(max_length=10, blank=True)
    offer_period = models.CharField(max_length=20, blank=True, help_text="year, month, week, day or hour.")
    offer_notes = models.TextField(blank=True)
    follow_up_at = models.DateTimeField(null=True, blank=True, db_index=True)
    notes = models.TextField(blank=True)
    created_by_rule = models.ForeignKey("AutomationRule", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="applications")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "posting"], name="one_application_per_team_posting"),
            models.CheckConstraint(condition=Q(posting__isnull=False) | ~Q(external_title=""),
                                   name="application_posting_or_external_title"),
        ]
        indexes = [models.Index(fields=["team", "status"], name="application_team_status")]

    def __str__(self) -> str:
        job = self.posting if self.posting_id else f"{self.external_title} at {self.external_company or '?'}"
        return f"{job} [{self.status}] ({self.team})"


class ApplicationStageChange(models.Model):
    """One move of an application between stages: the tracker's history, written by its service only."""

    application = models.ForeignKey(JobApplication, on_delete=models.CASCADE, related_name="stage_changes")
    from_status = models.CharField(max_length=20, blank=True, help_text="Empty for the first stage.")
    to_status = models.CharField(max_length=20)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '(new)'} -> {self.to_status} at {self.changed_at:%Y-%m-%d %H:%M}"


class Contact(models.Model):
    """Someone at the hiring company an application is in touch with."""

    application = models.ForeignKey(JobApplication, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True, help_text="Recruiter, hiring manager, ...")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    url = models.URLField(max_length=1000, blank=True, help_text="A profile link.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


class Interview(models.Model):
    class Kind(models.TextChoices):
        PHONE = "phone"
        VIDEO = "video"
        ONSITE = "onsite"
        TECHNICAL = "technical"
        TAKE_HOME = "take_home"
        OTHER = "other"

    application = models.ForeignKey(JobApplication, on_delete=models.CASCADE, related_name="interviews")
    scheduled_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.VIDEO)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scheduled_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} interview at {self.scheduled_at:%Y-%m-%d %H:%M}"


class FollowUp(models.Model):
    """A reminder for one application's follow-up date. Unique per (application, due_at): each happens once."""

    application = models.ForeignKey(JobApplication, on_delete=models.CASCADE, related_name="follow_ups")
    due_at = models.DateTimeField()
    message = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True, help_text="Marked done: no reminder is sent after this.")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    snooze_count = models.PositiveSmallIntegerField(default=0, help_text="How often its due date was moved on.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["application", "due_at"], name="one_follow_up_per_due_date")]

    def __str__(self) -> str:
        return f"Follow up on {self.application} at {self.due_at:%Y-%m-%d %H:%M}"


class AutomationRule(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="automation_rules")
    name = models.CharField(max_length=100)
    include_keywords = models.JSONField(default=list, blank=True, help_text="Any of these (empty: any posting).")
    exclude_keywords = models.JSONField(default=list, blank=True, help_text="None of these.")
    locations = models.JSONField(default=list, blank=True, help_text="Any of these; 'remote' means is_remote.")
    remote_only = models.BooleanField(default=False)
    min_salary = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    auto_shortlist = models.BooleanField(default=True)
    follow_up_days = models.PositiveSmallIntegerField(default=3)
    active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True, help_text="Postings first seen after this are new.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"
