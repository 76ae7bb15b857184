"""A referral keeps the digest of the request that made it (a same-identifier request with
other content is refused with 409) and when it last entered the triage queue."""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest

QUEUED_BY = ["received", "reply", "convert"]


def set_queued_at(apps, schema_editor):
    """The last time each referral entered the queue, from its status history."""
    Referral = apps.get_model("referrals", "Referral")
    StatusEvent = apps.get_model("referrals", "StatusEvent")
    last_entry = StatusEvent.objects.filter(referral=OuterRef("pk"), action__in=QUEUED_BY).order_by("-at", "-pk").values("at")[:1]
    Referral.objects.update(queued_at=Greatest(Coalesce(Subquery(last_entry), F("received_at")), F("received_at")))


class Migration(migrations.Migration):

    dependencies = [
        ('referrals', '0003_token_issue_key'),
    ]

    operations = [
        migrations.AddField(
            model_name='referral',
            name='request_digest',
            field=models.CharField(blank=True, default='', max_length=64, help_text="SHA-256 of the request's meaningful content (fhir.request_digest), kept to tell a retry (same content: the same referral) from another request under the same identifier (409). Blank for form referrals and for referrals received before it was kept."),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='referral',
            name='queued_at',
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(set_queued_at, migrations.RunPython.noop),
    ]
