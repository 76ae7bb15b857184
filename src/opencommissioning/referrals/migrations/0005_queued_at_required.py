"""queued_at, filled in by 0004, is required and never before the referral was received.
(A migration of its own: on PostgreSQL a table whose rows were just updated cannot be
altered in the same transaction.)"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0004_request_digest_queued_at'),
    ]

    operations = [
        migrations.AlterField(
            model_name='referral',
            name='queued_at',
            field=models.DateTimeField(help_text="When it last entered the triage queue: received, or sent back by the practice's reply or conversion (a reviewer's release does not restart it)."),
        ),
        migrations.AddConstraint(
            model_name='referral',
            constraint=models.CheckConstraint(condition=models.Q(('queued_at__gte', models.F('received_at'))), name='referral_queued_after_received'),
        ),
    ]
