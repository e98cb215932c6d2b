"""The operator console's cells and pictures: what the job list, the dashboard, the run pages and the timeline show,
built from the selectors' facts. Display only: no queries here (the admin wires these to one read per page).

Cells combine several facts with format_html so a job fits one row of a 1280 px screen: fewer, denser columns.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from jobsite import timefmt
from scheduler_app.selectors import dead_after_seconds, run_overlap_note, silent_after_seconds, state_text

STATUS_COLOURS = {
    "SUCCEEDED": "#2e7d32", "PARTIAL": "#9e9d24", "FAILED": "#c62828", "TIMED_OUT": "#ef6c00",
    "LOST_LOCK": "#6a1b9a", "ABANDONED": "#4e342e", "SKIPPED": "#78909c", "MISSED": "#b0bec5",
    "RUNNING": "#1565c0", "QUEUED": "#90caf9", "CANCELLED": "#00838f",
}
STATE_COLOURS = {"running": "#1565c0", "silent": "#c62828", "locked": "#ef6c00", "queued": "#6d4c41",
                 "idle": "#555"}
SKIP_STATUSES = ("SKIPPED", "MISSED")
LIVE_STATUSES = ("RUNNING", "QUEUED")


def run_url(run_id: int) -> str:
    return reverse("admin:scheduler_app_jobrun_change", args=[run_id])


def run_link(run_id: int | None, text: str | None = None):
    if not run_id:
        return "-"
    return format_html('<a href="{}">{}</a>', run_url(run_id), text or f"#{run_id}")


def status_badge(status: str):
    return format_html('<span class="console-status" style="color:{}">{}</span>', STATUS_COLOURS.get(status, "#333"),
                       status)


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else timefmt.duration_text(seconds)


# --- the job cells (job list and dashboard) ----------------------------------------------------------------------

def overlap_text(job: dict) -> str:
    """The job's overlap policy in words (a job dict from scheduler_status)."""
    policy = job.get("overlap_policy") or ("wait" if job.get("wait_seconds") else "skip")
    if policy == "wait":
        return f"waits {job.get('wait_seconds') or 0:g} s"
    return {"queue_one": "queues one", "replace": "replaces the running run"}.get(policy, "fails fast")


def job_cell(job: dict):
    """Name, id, and the run policy on a small line."""
    waits = overlap_text(job)
    scope = "per team" if job.get("lock_scope") == "team" else "per job"
    disabled = mark_safe(' <span class="console-warn">disabled</span>') if not job.get("enabled") else ""
    cell = format_html('<strong>{}</strong>{}{}<br><code>{}</code><br><small>timeout {} · {} · {}</small>',
                       job["name"], disabled, pause_badge(job), job["id"],
                       timefmt.duration_text(job["timeout_minutes"] * 60), scope, waits)
    if job.get("paused"):
        return format_html('{}<br><small class="console-pause-text">{}</small>', cell, job.get("pause_text") or "")
    return cell


def pause_badge(job: dict):
    return mark_safe(' <span class="console-warn console-paused">paused</span>') if job.get("paused") else ""


def schedule_cell(job: dict):
    words = job.get("schedule_words") or job.get("schedule") or "-"
    if job.get("trigger") == "cron" and job.get("cron"):
        return format_html('{}<br><code class="console-nowrap">{}</code>', words, job["cron"])
    return words


def next_cell(job: dict, now: datetime | None = None):
    if not job.get("enabled"):
        return "disabled"
    if job.get("paused"):
        return mark_safe('<span class="console-paused">paused: no scheduled fires</span>')
    return timefmt.when_html(job.get("next_run"), now) if job.get("next_run") else "-"


def state_cell(job: dict):
    """The state line, then the holder: host:pid, its run (linked), its heartbeat age; then the lock key's TTL."""
    state = job.get("state") or {"kind": "idle"}
    parts = [format_html('<strong class="console-state-{}" style="color:{}">{}</strong>', state["kind"],
                         STATE_COLOURS.get(state["kind"], "#333"), state_text(state))]
    lock = job.get("lock")
    holder = (lock or {}).get("holder") or {}
    if state.get("run_id"):
        parts.append(format_html("{}:{}<br>run {} · heartbeat {} ago", state.get("host") or holder.get("host") or "?",
                                 state.get("pid") or holder.get("pid") or "?", run_link(state["run_id"]),
                                 seconds_text(state.get("heartbeat_age_seconds"))))
    elif holder:
        parts.append(format_html("{}:{} · run {}", holder.get("host"), holder.get("pid"),
                                 run_link(holder.get("run_id"))))
    if lock:
        ttl = lock.get("ttl_seconds")
        parts.append(format_html("<small>lock {} · TTL {} · since {}</small>", lock.get("backend"),
                                 "none" if ttl is None else f"{ttl:.0f} s", timefmt.relative(lock.get("acquired_at"))))
    elif state["kind"] in ("running", "silent"):
        parts.append(mark_safe("<small>lock key free</small>"))
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))


def _outcome_line(label: str, run: dict | None, *, with_status: bool = False):
    if not run:
        return format_html("{}: -", label)
    status = format_html(" {}", status_badge(run["status"])) if with_status else ""
    return format_html('{}:{} {} <span class="console-nowrap" title="{}">{}</span>', label, status, run_link(run["id"]),
                       timefmt.absolute(run.get("finished_at")), timefmt.relative(run.get("finished_at")))


def outcomes_cell(job: dict):
    """Last success, last failure with its status, and the last trigger (which may be a skip)."""
    last = job.get("last_run")
    last_line = format_html("last: {} {}", status_badge(last["status"]), run_link(last["id"])) if last else "last: -"
    if last and last.get("start_lateness_ms") is not None:
        last_line = format_html("{}, started {} after its slot", last_line, _seconds_text(last["start_lateness_ms"]))
    return format_html("{}<br>{}<br><small>{}</small>", _outcome_line("ok", job.get("last_success")),
                       _outcome_line("failed", job.get("last_failure"), with_status=True), last_line)


def _seconds_text(milliseconds: float) -> str:
    return f"{milliseconds / 1000:.1f} s" if milliseconds < 60_000 else f"{milliseconds / 60_000:.0f} min"


def counts_cell(job: dict):
    failures, skips = job.get("failures_24h", 0), job.get("skips_24h", 0)
    failure_style = "color:#c62828;font-weight:bold" if failures else ""
    return format_html('<span class="console-nowrap" style="{}">{} failed</span><br><span class="console-nowrap">{} '
                       'skipped</span>', failure_style, failures, skips)


def job_row(job: dict, *, change_url: str | None = None) -> dict:
    """The dashboard's cells for one job of scheduler_status()."""
    cell = job_cell(job)
    return {"id": job["id"], "job": format_html('<a href="{}">{}</a>', change_url, cell) if change_url else cell,
            "schedule": schedule_cell(job), "next": next_cell(job), "state": state_cell(job),
            "outcomes": outcomes_cell(job), "counts": counts_cell(job), "kind": (job.get("state") or {}).get("kind")}


# --- a run's page -------------------------------------------------------------------------------------------------

def run_progress(run, *, now: datetime | None = None) -> dict | None:
    """Elapsed against the timeout, and per-task counts from `run.progress` ({task: {done, total}}) where the
    model has that field. None for a run that has not started."""
    if run.started_at is None:
        return None
    end = run.finished_at or now or timezone.now()
    elapsed = max(0.0, (end - run.started_at).total_seconds())
    timeout = run.timeout_seconds
    tasks = []
    progress = getattr(run, "progress", None)
    if isinstance(progress, dict):
        for task, counts in sorted(progress.items()):
            counts = counts if isinstance(counts, dict) else {}
            done, total = counts.get("done"), counts.get("total")
            percent = round(100 * done / total) if isinstance(done, int) and isinstance(total, int) and total else None
            tasks.append({"task": task, "done": done, "total": total, "percent": percent})
    return {"elapsed_seconds": elapsed, "timeout_seconds": timeout, "tasks": tasks,
            "percent": min(100, round(100 * elapsed / timeout)) if timeout else None}


def progress_html(progress: dict | None):
    if progress is None:
        return "not started"
    elapsed, timeout = progress["elapsed_seconds"], progress["timeout_seconds"]
    head = format_html("{} of its timeout {}", seconds_text(elapsed), seconds_text(timeout)) if timeout else \
        format_html("{} (no timeout recorded)", seconds_text(elapsed))
    bar = format_html('<progress max="100" value="{}"></progress> ', progress["percent"]) \
        if progress["percent"] is not None else ""
    lines = [format_html("{}{}", bar, head)]
    for task in progress["tasks"]:
        total = "?" if task["total"] is None else task["total"]
        lines.append(format_html("{}: {} / {}{}", task["task"], task["done"], total,
                                 f" ({task['percent']} %)" if task["percent"] is not None else ""))
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


# --- the timeline: a server-side SVG Gantt of the last 24 h -------------------------------------------------------

TIMELINE_WIDTH = 1000
TIMELINE_LABEL = 190
TIMELINE_ROW = 22
TIMELINE_AXIS = 22
MIN_BAR = 3


def timeline(data: dict, job_ids: list[str]) -> dict:
    """Geometry for timeline.svg.html from selectors.job_runs_timeline(): one row per job, a bar per run from its
    start to its end (a running one to now), skips and misses as marks at their slot (scheduled_for, else
    created_at). Bars are at least MIN_BAR wide, so a 40 ms run can still be seen and clicked."""
    since, until = data["since"], data["until"]
    span = (until - since).total_seconds() or 1
    plot = TIMELINE_WIDTH - TIMELINE_LABEL - 10

    def x(moment: datetime) -> float:
        offset = min(max((moment - since).total_seconds(), 0.0), span)
        return round(TIMELINE_LABEL + plot * offset / span, 2)

    rows, capped = [], []
    for index, job_id in enumerate(job_ids):
        entry = data["jobs"].get(job_id, {"runs": [], "capped": False})
        top = TIMELINE_AXIS + index * TIMELINE_ROW
        bars, marks = [], []
        for run in entry["runs"]:
            title = _timeline_title(run)
            colour = STATUS_COLOURS.get(run["status"], "#333")
            if run["status"] in SKIP_STATUSES:
                slot = run["scheduled_for"] or run["created_at"]
                marks.append({"cx": x(slot), "cy": top + TIMELINE_ROW / 2, "colour": colour, "url": run_url(run["id"]),
                              "title": title, "id": run["id"]})
                continue
            start = run["started_at"] or run["created_at"]
            end = run["finished_at"] or (until if run["status"] in LIVE_STATUSES else start)
            left = x(start)
            bars.append({"x": left, "y": top + 4, "w": round(max(MIN_BAR, x(end) - left), 2),
                         "h": TIMELINE_ROW - 8, "colour": colour, "url": run_url(run["id"]), "title": title,
                         "id": run["id"]})
        if entry["capped"]:
            capped.append(job_id)
        rows.append({"job_id": job_id, "y": top, "label_y": top + TIMELINE_ROW / 2 + 4, "bars": bars,
                     "marks": marks, "count": len(entry["runs"])})
    height = TIMELINE_AXIS + len(job_ids) * TIMELINE_ROW + 4
    return {"width": TIMELINE_WIDTH, "height": height, "rows": rows, "ticks": _ticks(since, until, x, height),
            "capped": capped, "per_job": data["per_job"], "since": since, "until": until,
            "legend": STATUS_COLOURS.items(), "zone": timefmt.zone_label(until)}


def _ticks(since: datetime, until: datetime, x, height: int) -> list[dict]:
    """A gridline each hour on the hour (TIME_ZONE), labelled every third hour."""
    zone = timefmt.zone()
    hour = since.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    ticks = []
    while hour <= until:
        if hour >= since:
            ticks.append({"x": x(hour), "label": hour.strftime("%H:%M") if hour.hour % 3 == 0 else "",
                          "y2": height})
        hour = datetime.fromtimestamp(hour.timestamp() + 3600, zone)  # by the clock: a DST day has 23 or 25
    return ticks


def _timeline_title(run: dict) -> str:
    start = run["started_at"] or run["scheduled_for"] or run["created_at"]
    duration = "" if run["duration_ms"] is None else f", {seconds_text(run['duration_ms'] / 1000)}"
    return f"#{run['id']} {run['status']} ({run['trigger']}) {timefmt.absolute(start)}{duration}"


# --- column sets: the job list, the runs list, the database locks -------------------------------------------------

def _column(title: str, builder, facts: dict, key):
    def cell(obj):
        found = facts.get(key(obj))
        return builder(found) if found else "-"

    cell.short_description = title
    return cell


def job_list_columns(status: dict[str, dict]) -> list:
    """The job list's six columns from one scheduler_status() read (`status` by job id)."""
    def by_job(obj):
        return obj.job_id

    return [_column("job", job_cell, status, by_job), _column("schedule", schedule_cell, status, by_job),
            _column("next fire", next_cell, status, by_job), _column("state and holder", state_cell, status, by_job),
            _column("last outcomes", outcomes_cell, status, by_job), _column("24 h", counts_cell, status, by_job)]


@admin.display(description="run", ordering="id")
def run_column(run):
    return format_html("#{}<br><small>{}</small>", run.pk, run.job_id)


@admin.display(description="status", ordering="status")
def run_status_column(run):
    # What the overlap policy did ("queued behind run #M", "replaced by run #N") says more than the reason's label.
    note = run_overlap_note(run=run) or (run.get_skip_reason_display() if run.skip_reason else "")
    reason = format_html("<br><small>{}</small>", note) if note else ""
    return format_html("{}{}", status_badge(run.status), reason)


@admin.display(description="started", ordering="started_at")
def run_started_column(run):
    if run.started_at:
        return timefmt.when_html(run.started_at)
    return format_html("<small>created</small> {}", timefmt.when_html(run.created_at))


@admin.display(description="duration", ordering="duration_ms")
def run_duration_column(run):
    if run.duration_ms is not None:
        return seconds_text(run.duration_ms / 1000)
    if run.status == "RUNNING" and run.started_at:
        return format_html("running {}", seconds_text((timezone.now() - run.started_at).total_seconds()))
    return "-"


@admin.display(description="trigger · who · team")
def run_who_column(run):
    who = run.user.get_username() if run.user_id else "-"
    team = str(run.team) if run.team_id else "no team"
    return format_html("{}<br><small>{} · {}</small>", run.trigger, who, team)


@admin.display(description="host", ordering="host")
def run_host_column(run):
    if not run.host:
        return "-"
    return format_html("{}:{}", run.host, run.pid) if run.pid else run.host


def database_lock_columns(held_now: list[dict]) -> list:
    """The database lease rows, and for each the backend that holds its job's key now (Redis, this lease, none)."""
    by_key = {lock["key"]: lock for lock in held_now}

    def key(row):
        return format_html("<code>{}</code>", row.key)

    def holder(row):
        data = row.holder or {}
        if not data:
            return "-"
        return format_html("{}:{} · run {}", data.get("host"), data.get("pid"), run_link(data.get("run_id")))

    def expires(row):
        return timefmt.when_html(row.expires_at) if row.expires_at else "-"

    def now_held(row):
        lock = by_key.get(row.key)
        if lock is None:
            return "nobody (free)"
        who = lock.get("holder") or {}
        return format_html("{} · {}:{} · run {}", lock["backend"], who.get("host"), who.get("pid"),
                           run_link(who.get("run_id")))

    key.short_description, holder.short_description = "key", "holder stored in the row"
    expires.short_description, now_held.short_description = "lease expires", "held now by"
    return [key, holder, expires, now_held]


# --- a run's page: links and times --------------------------------------------------------------------------------

def run_links(run, *, definition_id: int | None):
    """Its job's page, its lock on the dashboard, the run that blocked it, its log lines."""
    links = []
    if definition_id:
        links.append(format_html('<a href="{}" id="run-job-link">job {}</a>',
                                 reverse("admin:scheduler_app_jobdefinition_change", args=[definition_id]),
                                 run.job_id))
    links.append(format_html('<a href="{}#lock-{}" id="run-lock-link">lock {}</a>',
                             reverse("admin:scheduler_dashboard"), run.lock_key, run.lock_key))
    blocker = ((run.blocked_by or {}).get("holder") or {}).get("run_id")
    if blocker:
        links.append(format_html('<a href="{}" id="run-blocker-link">blocked by run #{}</a>', run_url(blocker),
                                 blocker))
    links.append(format_html('<a href="{}?run_id={}" id="run-logs-link">log lines</a>',
                             reverse("admin:logs_app_logentry_changelist"), run.pk))
    return format_html_join(mark_safe(" · "), "{}", ((link,) for link in links))


def run_times(run):
    rows = [("created", run.created_at), ("slot", run.scheduled_for), ("started", run.started_at),
            ("heartbeat", run.heartbeat_at), ("finished", run.finished_at)]
    return format_html_join(mark_safe("<br>"), "{}: {} ({})",
                            ((label, timefmt.relative(moment), timefmt.absolute(moment))
                             for label, moment in rows if moment is not None))


def dashboard_context(data: dict) -> dict:
    """The dashboard's rows and timeline from selectors.scheduler_dashboard()."""
    jobs = data["status"]["jobs"]
    ids = data.get("definition_ids", {})
    rows = [job_row(job, change_url=reverse("admin:scheduler_app_jobdefinition_change", args=[ids[job["id"]]])
                    if job["id"] in ids else None) for job in jobs]
    return {"job_rows": rows, "timeline": timeline(data["timeline"], [job["id"] for job in jobs]),
            "silent_after": silent_after_seconds(), "dead_after": dead_after_seconds()}
