"""LOGGING dict for settings.py: console, one rotating file per host at logs/app.log (operators tail it) and the
database handler (LogEntry rows, served by /api/v1/logs/).

Web workers, the scheduler and `runjob` processes all append to the same logs/app.log. The stdlib's
RotatingFileHandler rotates per process (each renames the file under the others, which then write into a renamed
or truncated file), so the file handler is concurrent-log-handler's, which takes a lock file (`logs/.__app.lock`)
around every write and rotation: one process rotates, the others follow. Every line names its process (role and
pid) and, inside a run, its job and run (`logs_app.log_context.RunContextFilter`, on every handler).
"""

import sys
from pathlib import Path

LOG_FORMATS = ("text", "json")
PROCESS_ROLES = ("web", "scheduler", "cli", "test")


def process_role(argv: list[str], modules) -> str:
    """What this process is, from its command line, once at settings time (PROCESS_ROLE overrides it): `test` under
    pytest, `scheduler` for `manage.py runscheduler`, `web` for `manage.py runserver`, `cli` for the other
    management commands, and `web` for anything else (gunicorn or another WSGI/ASGI server importing the app)."""
    if "pytest" in modules:
        return "test"
    program = Path(argv[0]).name if argv else ""
    if program in ("manage.py", "django-admin", "__main__.py"):  # __main__.py: `python -m django`
        command = argv[1] if len(argv) > 1 else ""
        return {"runscheduler": "scheduler", "runserver": "web"}.get(command, "cli")
    return "web"


def build_logging(*, log_dir: Path, level: str, log_format: str = "text", role: str = "", db_level: str = "INFO",
                  db_enabled: bool = True, db_background: bool | None = None, db_batch_size: int = 500,
                  db_flush_seconds: float = 0.5, db_max_pending: int = 10_000,
                  file_max_bytes: int = 10 * 1024 * 1024, file_backup_count: int = 5) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    if db_background is None:
        # Under pytest the handler only buffers and tests write explicitly: a writer thread would write into the
        # test database outside the test's transaction and could hold a connection while the database is dropped.
        db_background = "pytest" not in sys.modules
    handlers = ["console", "file"] + (["database"] if db_enabled else [])
    formatter = "json" if log_format == "json" else "text"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "run_context": {"()": "logs_app.log_context.RunContextFilter", "role": role},
        },
        "formatters": {
            "text": {"()": "logs_app.log_formats.TextFormatter"},
            "json": {"()": "logs_app.log_formats.JsonLineFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": formatter, "filters": ["run_context"]},
            "file": {
                "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
                "filename": str(log_dir / "app.log"),
                "maxBytes": file_max_bytes,
                "backupCount": file_backup_count,
                "formatter": formatter,
                "filters": ["run_context"],
                # It opens the file (and its lock file) on the first write, never at start: a process that logs
                # nothing creates nothing.
            },
        },
        "root": {"handlers": handlers, "level": "WARNING"},
        "loggers": {
            name: {"level": level, "handlers": handlers, "propagate": False}
            for name in ("scheduler_app", "scraping_app", "logs_app")
        },
    }
    if db_enabled:
        config["handlers"]["database"] = {
            "()": "logs_app.handler.DatabaseLogHandler",
            "level": db_level,
            "background": db_background,
            "batch_size": db_batch_size,
            "flush_seconds": db_flush_seconds,
            "max_pending": db_max_pending,
            "filters": ["run_context"],
        }
    return config
