"""manage.py locks list | clear JOB_ID | clear-stale"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from scheduler_app import selectors, services


class Command(BaseCommand):
    help = "Inspect and clear execution locks."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="Held locks with holder, TTL and staleness.")
        clear = sub.add_parser("clear", help="Force-release one lock, whoever holds it.")
        clear.add_argument("job_id", help="Lock key: a job id, or job_id:team:ID for a per-team lock.")
        sub.add_parser("clear-stale", help="Remove locks whose holder's run has ended or that have no TTL.")

    def handle(self, *args, action: str, **options):
        if action == "list":
            rows = selectors.lock_state_dicts()
            if not rows:
                self.stdout.write("No locks held.")
                return
            self.stdout.write(f"{'KEY':40} {'RUN':>7} {'HOLDER':28} {'TTL':>8} {'BACKEND':9} STATE")
            for row in rows:
                holder = row["holder"] or {}
                ttl = "none" if row["ttl_seconds"] is None else f"{row['ttl_seconds']:.1f}s"
                state = "stale: " + row["stale_reason"] if row["stale"] else ("stuck" if row["stuck"] else "live")
                who = f"{holder.get('host', '?')}:{holder.get('pid', '?')}"
                self.stdout.write(f"{row['redis_key']:40} {str(holder.get('run_id') or '-'):>7} {who:28} "
                                  f"{ttl:>8} {row['backend']:9} {state}")
        elif action == "clear":
            result = services.lock_clear(key=options["job_id"].removeprefix("job_lock:"), source="cli")
            if not result.released:
                raise CommandError(result.message, returncode=1)
            (self.stderr if result.holder_live else self.stdout).write(result.message)
        else:
            cleared = services.locks_clear_stale(source="cli")
            for state in cleared:
                self.stdout.write(f"Cleared stale job_lock:{state.key} ({state.extra.get('stale_reason')})")
            self.stdout.write(f"{len(cleared)} stale lock(s) cleared.")
