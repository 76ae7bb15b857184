"""The treatment functions referrals are triaged in, with their e-RS specialty codes."""

from django.db import migrations

from opencommissioning.referrals.migrations._specialties_0002 import SPECIALTIES


def add(apps, schema_editor):
    Specialty = apps.get_model("referrals", "Specialty")
    for code, name, ers in SPECIALTIES:
        Specialty.objects.update_or_create(code=code, defaults={"name": name, "ers_code": ers})


def remove(apps, schema_editor):
    apps.get_model("referrals", "Specialty").objects.filter(code__in=[c for c, _, _ in SPECIALTIES]).delete()


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
