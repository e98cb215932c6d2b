"""RunContextFilter: every record, on every handler, names its run (job, run, trigger, team) and its process."""

from __future__ import annotations

import logging
import os
import threading
from types import SimpleNamespace

import pytest

from logs_app.log_context import RunContextFilter, record_run_context
from logs_app.log_formats import TextFormatter
from scheduler_app.context import JobContext, job_context_active


def _ctx(*, run_id: int = 42, job_id: str = "scrape_jobs_task", trigger: str = "scheduled", team=None) -> JobContext:
    return JobContext(run_id=run_id, job_id=job_id, lock_key=job_id, fencing_token=1, fence_check=lambda: True,
                      team=team, trigger=trigger)


@pytest.fixture
def file_logger(tmp_path):
    """A plain stdlib FileHandler with the filter and the text format, on a logger of its own."""
    path = tmp_path / "plain.log"
    handler = logging.FileHandler(path)
    handler.addFilter(RunContextFilter(role="scheduler", host="host-a"))
    handler.setFormatter(TextFormatter())
    log = logging.getLogger("tests.log_context")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    yield log, path
    log.removeHandler(handler)
    handler.close()


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("scheduler_app", logging.INFO, __file__, 1, "a line", (), None)
    vars(record).update(extra)
    return record


def test_the_filter_stamps_the_run_on_a_plain_file_handler(file_logger):
    log, path = file_logger
    log.info("before the run")
    with job_context_active(_ctx(team=SimpleNamespace(pk=7))):
        log.info("inside the run")
    lines = path.read_text().splitlines()
    pid = os.getpid()
    assert lines[0].endswith(f"[INFO] tests.log_context [scheduler:{pid}]: before the run")
    assert lines[1].endswith(f"[INFO] tests.log_context [scheduler:{pid}] job=scrape_jobs_task run=42: inside the run")


def test_a_line_from_another_thread_names_its_run_with_extra(file_logger):
    log, path = file_logger
    # The renewal thread has no job context: the lock's lines pass the job and run explicitly.
    thread = threading.Thread(target=lambda: log.warning("renewed", extra={"job_id": "hold_job", "run_id": 9}))
    thread.start()
    thread.join()
    assert path.read_text().rstrip().endswith("job=hold_job run=9: renewed")


def test_stamped_attributes():
    record = _record()
    with job_context_active(_ctx(team=SimpleNamespace(pk=7))):
        assert RunContextFilter(role="cli", host="h").filter(record) is True  # stamps, never drops
    assert (record.job_id, record.run_id, record.trigger, record.team_id) == ("scrape_jobs_task", 42, "scheduled", 7)
    assert (record.role, record.host) == ("cli", "h")


def test_outside_a_run_everything_is_none():
    assert record_run_context(_record()) == {"job_id": None, "run_id": None, "trigger": None, "team_id": None}


def test_explicit_values_win_and_the_context_fills_the_gaps_of_the_same_run():
    with job_context_active(_ctx()):
        same = record_run_context(_record(run_id="42", job_id="scrape_jobs_task"))
        other = record_run_context(_record(run_id=5, job_id="hold_job"))
        other_job = record_run_context(_record(job_id="hold_job"))
    assert same == {"job_id": "scrape_jobs_task", "run_id": 42, "trigger": "scheduled", "team_id": None}
    # A line about another run (say, a job force-releasing another job's lock) borrows nothing of this one.
    assert other == {"job_id": "hold_job", "run_id": 5, "trigger": None, "team_id": None}
    assert other_job == {"job_id": "hold_job", "run_id": None, "trigger": None, "team_id": None}


def test_ids_are_numbers_whatever_the_caller_passed():
    assert record_run_context(_record(run_id="12", team_id="3"))["run_id"] == 12
    assert record_run_context(_record(run_id="12", team_id="3"))["team_id"] == 3
    assert record_run_context(_record(run_id="not a number"))["run_id"] is None


@pytest.mark.parametrize("logger", ["scheduler_app", "scraping_app", "logs_app", ""])
def test_logging_puts_the_filter_on_every_configured_handler(logger):
    handlers = [h for h in logging.getLogger(logger).handlers if not type(h).__module__.startswith("_pytest")]
    assert {type(h).__name__ for h in handlers} >= {"StreamHandler", "ConcurrentRotatingFileHandler",
                                                    "DatabaseLogHandler"}
    for handler in handlers:
        assert any(isinstance(f, RunContextFilter) for f in handler.filters), handler
        assert next(f for f in handler.filters if isinstance(f, RunContextFilter)).role == "test"  # under pytest
