"""`manage.py runscheduler`: exactly one scheduler in this process (never in web workers or AppConfig.ready()).

Several processes on several hosts are safe: the execution lock and the per-(job, slot) guard make each scheduled
slot run once. SIGTERM / SIGINT stop it cleanly: no new fires; running jobs are cancelled (they end CANCELLED at
their next ctx.check(), releasing their locks, with their heartbeat going until then), a fire waiting out its
jitter ends at once (its row MISSED, its slot handed back to the job store) and the instance is marked stopped.
SIGUSR1 prints every thread's stack to stderr, for a scheduler that looks stuck.
"""

from __future__ import annotations

import faulthandler
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

from scheduler_app import services
from scheduler_app.scheduler.process import SchedulerProcess


class Command(BaseCommand):
    help = "Run the job scheduler (one APScheduler per process)."

    def handle(self, *args, **options):
        # Connections opened from here on (the loop's, the pool's, the reload's) are kept between fires.
        connections.settings[DEFAULT_DB_ALIAS]["CONN_MAX_AGE"] = settings.SCHEDULER_CONN_MAX_AGE
        connections.close_all()
        process = SchedulerProcess(blocking=True)

        def stop() -> None:
            process.stop()
            services.job_runs_cancel_active(reason="shutdown")

        def on_signal(signum, _frame):
            self.stdout.write(f"Received signal {signum}; stopping the scheduler")
            # Stop from another thread: the signal may interrupt the scheduler while it holds its own locks.
            threading.Thread(target=stop, name="scheduler-stop").start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: every thread's stack, to stderr
        self.stdout.write("Starting scheduler")
        process.register_and_run()
        self.stdout.write("Scheduler stopped")
