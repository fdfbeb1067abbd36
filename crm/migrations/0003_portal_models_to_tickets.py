"""The portal's sign-in links and satisfaction ratings move to ``tickets`` (its 0010), state only: the tables
and their rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0002_portal_and_satisfaction'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
        migrations.RemoveField(
            model_name='satisfactionrating',
            name='agent',
        ),
        migrations.RemoveField(
            model_name='satisfactionrating',
            name='customer',
        ),
        migrations.RemoveField(
            model_name='satisfactionrating',
            name='organization',
        ),
        migrations.RemoveField(
            model_name='satisfactionrating',
            name='ticket',
        ),
        migrations.DeleteModel(
            name='PortalSignInLink',
        ),
        migrations.DeleteModel(
            name='SatisfactionRating',
        ),
            ]),
    ]
