from django.conf import settings
from django.db import migrations

from scraping_app.dedupe import DEFAULT_SIMILARITY_THRESHOLD, DedupeRow, dedupe_key, dedupe_resolve

FIELDS = ("id", "company", "title", "location", "description_text", "dedupe_key", "duplicate_of_id")
CHUNK = 2000


def dedupe_backfill(apps, schema_editor):
    """Keys and links for the postings stored before them, oldest first, in chunks: memory holds one chunk and the
    candidate canonicals of its keys (the rule is scraping_app.dedupe's, as at upsert)."""
    JobPosting = apps.get_model("scraping_app", "JobPosting")
    threshold = float(getattr(settings, "DEDUPE_SIMILARITY_THRESHOLD", DEFAULT_SIMILARITY_THRESHOLD))
    last_id = 0
    while True:
        rows = [DedupeRow(id=pk, company=company, title=title, location=location, description=text, key=key,
                          duplicate_of=copy_of)
                for pk, company, title, location, text, key, copy_of in
                JobPosting.objects.filter(pk__gt=last_id).order_by("pk").values_list(*FIELDS)[:CHUNK]]
        if not rows:
            return
        ids = [row.id for row in rows]
        with_copies = set(JobPosting.objects.filter(duplicate_of_id__in=ids).values_list("duplicate_of_id",
                                                                                         flat=True))
        for row in rows:
            row.has_copies = row.id in with_copies

        keys = {dedupe_key(company=row.company, title=row.title, location=row.location) for row in rows}
        canonicals = [DedupeRow(id=pk, company=company, title=title, location=location, description=text, key=key)
                      for pk, company, title, location, text, key, _ in
                      JobPosting.objects.filter(dedupe_key__in=keys, duplicate_of__isnull=True, pk__lt=ids[0])
                      .values_list(*FIELDS)]
        resolved = dedupe_resolve(rows=rows, canonicals=canonicals, threshold=threshold, merge_canonicals=True)
        JobPosting.objects.bulk_update([JobPosting(pk=pk, dedupe_key=key, duplicate_of_id=copy_of)
                                        for pk, (key, copy_of) in resolved.items()],
                                       ["dedupe_key", "duplicate_of"], batch_size=1000)
        last_id = ids[-1]


class Migration(migrations.Migration):

    dependencies = [
        ("scraping_app", "0007_tracker_dedupe_alerts_adapter_fields"),
    ]

    operations = [
        migrations.RunPython(dedupe_backfill, migrations.RunPython.noop, elidable=True),
    ]
