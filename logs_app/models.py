from django.db import models


class LogEntry(models.Model):
    """One log record, written by the database handler. Job, run and team are stamped from the running job.

    run_id and team_id are plain numbers, not foreign keys: a log line outlives its run (the two retentions
    differ) and deleting a run must not touch a million log rows.
    """

    timestamp = models.DateTimeField()
    level = models.CharField(max_length=10)
    levelno = models.PositiveSmallIntegerField()
    logger = models.CharField(max_length=200)
    message = models.TextField()
    job_id = models.CharField(max_length=64, blank=True, default="")
    run_id = models.BigIntegerField(null=True, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        verbose_name_plural = "log entries"
        indexes = [
            # Retention deletes and `since` filters range over timestamp; the API lists newest first.
            models.Index(fields=["timestamp"], name="logentry_ts"),
            models.Index(fields=["levelno", "timestamp"], name="logentry_level_ts"),
            models.Index(fields=["job_id", "timestamp"], name="logentry_job_ts"),
            models.Index(fields=["run_id"], name="logentry_run"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level} {self.logger}: {self.message[:80]}"


class MetricTotal(models.Model):
    """Run metrics of history that retention has deleted, so that counters exported at /metrics never go down.

    `watermark` rows hold the created_at boundary: runs created before it are counted here, the rest live.
    """

    name = models.CharField(max_length=64)
    job_id = models.CharField(max_length=64, blank=True, default="")
    label = models.CharField(max_length=64, blank=True, default="")
    value = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "job_id", "label"], name="unique_metric_total")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.job_id},{self.label}}}={self.value}"
