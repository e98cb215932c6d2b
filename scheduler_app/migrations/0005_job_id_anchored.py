import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    """Job ids anchored with \\A…\\Z (a trailing newline is no longer accepted); the fencing token's help text."""

    dependencies = [
        ("scheduler_app", "0004_cancelled_status_and_db_fence"),
    ]

    operations = [
        migrations.AlterField(
            model_name="jobdefinition",
            name="job_id",
            field=models.CharField(max_length=64, unique=True, validators=[django.core.validators.RegexValidator(
                "\\A[a-z0-9_]{1,64}\\Z", "Job ids are 1-64 characters of a-z, 0-9 and _.")]),
        ),
        migrations.AlterField(
            model_name="jobrun",
            name="fencing_token",
            field=models.BigIntegerField(blank=True, null=True, help_text="Drawn from the runs' id sequence when the "
                                         "run starts: greater than every earlier holder's."),
        ),
    ]
