"""LOGGING dict for settings.py: console, a rotating file at logs/app.log (operators tail it) and the
database handler (LogEntry rows, served by /api/v1/logs/)."""

import sys
from pathlib import Path


def build_logging(*, log_dir: Path, level: str, db_level: str = "INFO", db_enabled: bool = True,
                  db_background: bool | None = None, db_batch_size: int = 500, db_flush_seconds: float = 0.5,
                  db_max_pending: int = 10_000) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    if db_background is None:
        # Under pytest the handler only buffers and tests write explicitly: a writer thread would write into the
        # test database outside the test's transaction and could hold a connection while the database is dropped.
        db_background = "pytest" not in sys.modules
    handlers = ["console", "file"] + (["database"] if db_enabled else [])
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(asctime)s [%(levelname)s] %(name)s: %(message)s"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "plain"},
            "file": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(log_dir / "app.log"),
                "maxBytes": 10 * 1024 * 1024,
                "backupCount": 5,
                "formatter": "plain",
                "delay": True,
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
        }
    return config
