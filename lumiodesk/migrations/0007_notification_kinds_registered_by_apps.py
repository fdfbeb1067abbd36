"""Agent notification kinds are registered by the apps that own them: the core's table no longer lists them."""


from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lumiodesk', '0006_business_calendar_from_sla'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='agentnotification',
            name='agentnotif_kind_valid',
        ),
        migrations.AlterField(
            model_name='agentnotification',
            name='kind',
            field=models.CharField(max_length=20),
        ),
        migrations.AlterField(
            model_name='notificationpreference',
            name='kind',
            field=models.CharField(max_length=20),
        ),
    ]
