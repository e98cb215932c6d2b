"""Full-text search and the list's keyset indexes (docs/scraping.md, "Search and its indexes").

PostgreSQL: a generated, stored tsvector column `search_vector` (title A, company B, description C) with a GIN index,
and (posted_at DESC NULLS LAST, id DESC) / (salary_annual_max DESC NULLS LAST, id DESC) for the recent and salary
sorts. SQLite: the FTS5 table scraping_app_jobposting_fts (external content) with its triggers, and (posted_at, id) /
(salary_annual_max, id), which SQLite reads backwards (its NULLs sort first ascending, so last descending).
"""

from django.db import migrations

from scraping_app.search import fts_install_sql, fts_uninstall_sql

KEYSET_INDEXES = {
    "postgresql": [
        "CREATE INDEX scraping_app_jobposting_recent ON scraping_app_jobposting (posted_at DESC NULLS LAST, id DESC)",
        "CREATE INDEX scraping_app_jobposting_salary ON scraping_app_jobposting "
        "(salary_annual_max DESC NULLS LAST, id DESC)",
    ],
    "sqlite": [
        "CREATE INDEX scraping_app_jobposting_recent ON scraping_app_jobposting (posted_at, id)",
        "CREATE INDEX scraping_app_jobposting_salary ON scraping_app_jobposting (salary_annual_max, id)",
    ],
}


def search_install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in [*fts_install_sql(vendor), *KEYSET_INDEXES.get(vendor, [])]:
        schema_editor.execute(statement)


def search_uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in fts_uninstall_sql(vendor):
        schema_editor.execute(statement)
    if vendor in KEYSET_INDEXES:
        for name in ("scraping_app_jobposting_recent", "scraping_app_jobposting_salary"):
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("scraping_app", "0004_posting_normalized_fields"),
    ]

    operations = [
        migrations.RunPython(search_install, search_uninstall),
    ]
