"""PostgreSQL: a GIN index on rank_vector (title and company), so relevance's first tier, the postings whose title
or company match, is found by index when it is rare (docs/scraping.md, "Search and its indexes"). SQLite: nothing."""

from django.db import migrations

from scraping_app.search import PG_RANK_GIN_INDEX, PG_RANK_GIN_INDEX_SQL


def rank_index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_RANK_GIN_INDEX_SQL)


def rank_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_RANK_GIN_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ("scraping_app", "0008_posting_dedupe_backfill"),
    ]

    operations = [
        migrations.RunPython(rank_index_create, rank_index_drop),
    ]
