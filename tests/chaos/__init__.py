"""Chaos suite: subprocesses, own redis-servers, SIGSTOP/SIGKILL, and a judge that reads each scenario's
append-only record file and the rows its test job wrote through ctx.atomic()."""
