# Django finds commands only in management/commands/; the command itself lives with the other checks in ops/.
from logs_app.ops.healthcheck import Command

__all__ = ["Command"]
