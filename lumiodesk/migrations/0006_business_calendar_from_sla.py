"""The business calendar's rows move from ``sla`` to the core, state only: the tables keep their names
(``sla_businesshours``, ``sla_holiday``) and their rows; ``sla`` 0003 drops them from its own state."""

import datetime
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lumiodesk', '0005_automatic_mail_and_bounces'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
        migrations.CreateModel(
            name='BusinessHours',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('weekday', models.PositiveSmallIntegerField(choices=[(0, 'Lundi'), (1, 'Mardi'), (2, 'Mercredi'), (3, 'Jeudi'), (4, 'Vendredi'), (5, 'Samedi'), (6, 'Dimanche')], verbose_name='jour')),
                ('is_open', models.BooleanField(default=True, verbose_name='ouvert')),
                ('opens', models.TimeField(default=datetime.time(9, 0), verbose_name='ouverture')),
                ('closes', models.TimeField(default=datetime.time(18, 0), verbose_name='fermeture')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lumiodesk.organization')),
            ],
            options={
                'verbose_name': "horaires d'ouverture",
                'verbose_name_plural': "horaires d'ouverture",
                'db_table': 'sla_businesshours',
                'ordering': ['weekday'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'weekday'), name='businesshours_one_per_weekday'), models.CheckConstraint(condition=models.Q(('weekday__gte', 0), ('weekday__lte', 6)), name='businesshours_weekday'), models.CheckConstraint(condition=models.Q(('is_open', False), ('closes__gt', models.F('opens')), ('closes', datetime.time(0, 0)), _connector='OR'), name='businesshours_closes_after_opens')],
            },
        ),
        migrations.CreateModel(
            name='Holiday',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(verbose_name='date')),
                ('name', models.CharField(blank=True, max_length=120, verbose_name='nom')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lumiodesk.organization')),
            ],
            options={
                'verbose_name': 'jour férié',
                'verbose_name_plural': 'jours fériés',
                'db_table': 'sla_holiday',
                'ordering': ['date'],
                'constraints': [models.UniqueConstraint(fields=('organization', 'date'), name='holiday_one_per_date')],
            },
        ),
            ]),
    ]
