"""The portal's sign-in links and satisfaction ratings, from ``crm`` (its 0003 drops them from its state), state
only: the tables keep their names ``crm_portalsigninlink`` and ``crm_satisfactionrating`` and their rows."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0003_portal_models_to_tickets'),
        ('lumiodesk', '0002_initial'),
        ('tickets', '0009_mailbox_verification_contact_unverified'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(database_operations=[], state_operations=[
        migrations.CreateModel(
            name='PortalSignInLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('requested_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='portal_links', to='crm.customer')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lumiodesk.organization')),
            ],
            options={
                'verbose_name': "lien de connexion à l'espace client",
                'verbose_name_plural': "liens de connexion à l'espace client",
                'db_table': 'crm_portalsigninlink',
                'indexes': [models.Index(fields=['organization', 'customer', '-created_at'], name='portallink_customer_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('expires_at__gt', models.F('created_at'))), name='portallink_expires_after_creation')],
            },
        ),
        migrations.CreateModel(
            name='SatisfactionRating',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('score', models.PositiveSmallIntegerField(verbose_name='note')),
                ('comment', models.TextField(blank=True, verbose_name='commentaire')),
                ('created_at', models.DateTimeField(verbose_name='noté le')),
                ('updated_at', models.DateTimeField(verbose_name='modifié le')),
                ('agent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='agent')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='satisfaction_ratings', to='crm.customer')),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='lumiodesk.organization')),
                ('ticket', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='satisfaction', to='tickets.ticket')),
            ],
            options={
                'verbose_name': 'évaluation de satisfaction',
                'verbose_name_plural': 'évaluations de satisfaction',
                'db_table': 'crm_satisfactionrating',
                'indexes': [models.Index(fields=['organization', 'agent', 'created_at'], name='satisfaction_agent_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('score__gte', 1), ('score__lte', 5)), name='satisfaction_score_1_to_5')],
            },
        ),
            ]),
    ]
