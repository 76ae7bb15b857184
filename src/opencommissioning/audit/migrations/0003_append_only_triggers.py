"""Refuse UPDATE and DELETE on audit events in the database itself (see audit/guards.py).

No client, not even one that bypasses the application, can change or remove an audit row
without first dropping the trigger (which needs the schema owner); and a row changed that
way is caught by ``manage.py verify_audit``.
"""

from django.db import migrations

from opencommissioning.audit import guards


def install(apps, schema_editor):
    guards.install(schema_editor.connection)


def remove(apps, schema_editor):
    guards.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_initial")]

    operations = [migrations.RunPython(install, remove)]
