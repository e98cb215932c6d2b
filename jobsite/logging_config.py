"""LOGGING dict for settings.py. Console plus a rotating file at logs/app.log (the seed guide tails it)."""

from pathlib import Path


def build_logging(*, log_dir: Path, level: str) -> dict:
    log_dir.mkdir(parents=True, exist_ok=True)
    return {
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
        "root": {"handlers": ["console", "file"], "level": "WARNING"},
        "loggers": {
            "scheduler_app": {"level": level, "handlers": ["console", "file"], "propagate": False},
            "scraping_app": {"level": level, "handlers": ["console", "file"], "propagate": False},
            "logs_app": {"level": level, "handlers": ["console", "file"], "propagate": False},
        },
    }
