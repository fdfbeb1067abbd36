"""Mailbox address verification (issue 15, item 5) and unverified contact-form tickets (item 6).

Existing mailboxes: an address held by exactly one mailbox across all organizations is marked verified
(the SMTP receiver already delivered its mail: nothing changes for it); an address held by several
organizations stays unverified for all of them (the receiver already refused it as ambiguous: nothing
changes either), each admin verifies it from Settings > Channels > Email; forwarding addresses keep working.
"""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lumiodesk', '0004_notification_kinds_automations'),
        ('tickets', '0008_automatic_mail_and_bounces'),
    ]

    operations = [
        migrations.AddField(
            model_name='mailbox',
            name='address_verified_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='mailbox',
            name='verification_sent_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='mailbox',
            name='verification_token_hash',
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='ticket',
            name='sender_unverified',
            field=models.BooleanField(default=False, verbose_name='adresse non vérifiée'),
        ),
        migrations.AddIndex(
            model_name='mailbox',
            index=models.Index(condition=models.Q(('verification_token_hash', ''), _negated=True), fields=['verification_token_hash'], name='mailbox_verification_idx'),
        ),
        migrations.RunSQL(
            """
            UPDATE tickets_mailbox SET address_verified_at = now()
            WHERE lower(address) IN (
                SELECT lower(address) FROM tickets_mailbox GROUP BY lower(address) HAVING count(*) = 1
            )
            """,
            migrations.RunSQL.noop,
        ),
        migrations.AddConstraint(
            model_name='mailbox',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('address'), condition=models.Q(('address_verified_at__isnull', False)), name='mailbox_unique_verified_address'),
        ),
    ]
