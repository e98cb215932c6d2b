"""Indexes for the list at scale (docs/scraping.md, "Search and its indexes"):
- PostgreSQL: a GIN index on rank_vector (title and company), so relevance's first tier, the postings whose title or
  company match, is found by index when it is rare;
- both databases: the recent sort's index over canonical postings only (duplicate_of IS NULL), the list's default,
  so its walk never steps over the copies of a job."""

from django.db import migrations

from scraping_app.search import PG_RANK_GIN_INDEX, PG_RANK_GIN_INDEX_SQL

CANONICAL_RECENT = "scraping_app_jobposting_recent_canonical"
CANONICAL_RECENT_SQL = {
    "postgresql": f"CREATE INDEX {CANONICAL_RECENT} ON scraping_app_jobposting (posted_at DESC NULLS LAST, id DESC) "
                  "WHERE duplicate_of_id IS NULL",
    "sqlite": f"CREATE INDEX {CANONICAL_RECENT} ON scraping_app_jobposting (posted_at, id) "
              "WHERE duplicate_of_id IS NULL",
}


def indexes_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_RANK_GIN_INDEX_SQL)
    if vendor in CANONICAL_RECENT_SQL:
        schema_editor.execute(CANONICAL_RECENT_SQL[vendor])


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_RANK_GIN_INDEX}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {CANONICAL_RECENT}")


class Migration(migrations.Migration):

    dependencies = [
        ("scraping_app", "0008_posting_dedupe_backfill"),
    ]

    operations = [
        migrations.RunPython(indexes_create, indexes_drop),
    ]
