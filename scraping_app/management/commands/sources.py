"""manage.py sources list | add KIND --url URL [--name N] [--param k=v ...] | enable ID | disable ID

Exit code 2 with a clear message on bad input.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from scheduler_app.params import params_parse
from scraping_app import selectors, services
from scraping_app.sources import SOURCE_CLASSES


class Command(BaseCommand):
    help = "List, add, enable or disable job sources."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{list,add,enable,disable}")
        sub.add_parser("list", help="List the configured sources.")
        add = sub.add_parser("add", help="Add a source (disabled until enabled).")
        add.add_argument("kind", help=f"One of: {', '.join(SOURCE_CLASSES)}")
        add.add_argument("--url", help="The board's API endpoint (required for greenhouse, lever and ashby).")
        add.add_argument("--name", help="A unique name (default: from the kind and URL).")
        add.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="Adapter option, e.g. company=Acme or max_pages=2 (repeatable).")
        add.add_argument("--enable", action="store_true", help="Enable it at once.")
        for action in ("enable", "disable"):
            cmd = sub.add_parser(action, help=f"{action.capitalize()} a source.")
            cmd.add_argument("source_id", type=int)

    def handle(self, *args, action: str, **options):
        try:
            if action == "list":
                return self._list()
            if action == "add":
                source = services.source_add(kind=options["kind"], url=options["url"], name=options["name"],
                                             params=_source_params_parse(options["param"]), enabled=options["enable"])
                self.stdout.write(f"Added source {source.pk}: {source.name} ({source.kind}, "
                                  f"{'enabled' if source.enabled else 'disabled'})")
                return
            source = services.source_set_enabled(source_id=options["source_id"], enabled=action == "enable")
            self.stdout.write(f"Source {source.pk} ({source.name}) {action}d")
        except services.SourceInputError as exc:
            raise CommandError(str(exc), returncode=2) from None

    def _list(self) -> None:
        rows = [(str(s.pk), s.name, s.kind, "yes" if s.enabled else "no",
                 f"{s.min_interval_seconds:g}s/{s.daily_request_cap if s.daily_request_cap is not None else '-'}",
                 s.base_url or "(bundled file)", json.dumps(s.params) if s.params else "")
                for s in selectors.source_list()]
        header = ("ID", "NAME", "KIND", "ENABLED", "BUDGET", "URL", "PARAMS")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _source_params_parse(items: list[str]) -> dict:
    """`--param KEY=VALUE` items through the project's one parser, with numbers cast (max_pages=2 is an int)."""
    try:
        params = params_parse(items)
    except ValueError as exc:
        raise CommandError(str(exc), returncode=2) from None
    return {key: _param_value_cast(value) for key, value in params.items()}


def _param_value_cast(value: str) -> int | float | str:
    """Numbers stay numbers (max_pages=2), everything else is a string."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
