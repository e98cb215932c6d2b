"""`manage.py <command>` started ahead of time.

Django is set up and the command class loaded first; then the process prints `ready`, waits for one line on stdin
(a JSON list: the command line after `manage.py`), prints `go <time.time()>` and runs it exactly as `manage.py`
would (`run_from_argv`: CommandError to stderr with its return code, sys.exit codes kept).

The chaos tests use it where a trigger must land within a few hundred milliseconds of an event (a Redis restart,
a lock clear, a kill -9); a cold `manage.py runjob` spends a second or more importing on a loaded machine.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")

import django  # noqa: E402

django.setup()

from django.core import checks  # noqa: E402
from django.core.management import ManagementUtility  # noqa: E402

ManagementUtility(["manage.py"]).fetch_command("runjob")  # imports the command module now, not after "go"
checks.run_checks()  # imports what the command's system checks import (the URLconf): they run again after "go"
print("ready", flush=True)
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
argv = json.loads(line)
print(f"go {time.time():.6f}", flush=True)
ManagementUtility(["manage.py", *argv]).fetch_command(argv[0]).run_from_argv(["manage.py", *argv])
