"""Opening hours and holidays now belong to the core (``lumiodesk`` 0006): removed from this app's state
only; the tables and their rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('sla', '0002_defaults_for_existing_organizations'),
        ('lumiodesk', '0006_business_calendar_from_sla'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
        migrations.RemoveField(
            model_name='holiday',
            name='organization',
        ),
        migrations.DeleteModel(
            name='BusinessHours',
        ),
        migrations.DeleteModel(
            name='Holiday',
        ),
            ]),
    ]
