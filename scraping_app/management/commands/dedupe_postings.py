"""manage.py dedupe_postings [--rebuild]: link the stored postings' copies again (after a threshold change, or after
a canonical posting was deleted)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scraping_app.services.dedupe import postings_dedupe_all


class Command(BaseCommand):
    help = "Compute dedupe keys and link each posting to the canonical posting of its real job."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rebuild", action="store_true",
                            help="Forget every key and link first (after raising DEDUPE_SIMILARITY_THRESHOLD).")

    def handle(self, *args, rebuild: bool, **options):
        totals = postings_dedupe_all(rebuild=rebuild)
        self.stdout.write(f"Postings: {totals['postings']}, changed: {totals['changed']}, "
                          f"duplicates now: {totals['duplicates']}")
