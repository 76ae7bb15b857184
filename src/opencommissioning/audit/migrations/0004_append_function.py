"""PostgreSQL: the chain's append as one function, ``audit_append()`` (see audit/sql.py)."""

from django.db import migrations

from opencommissioning.audit import sql


def install(apps, schema_editor):
    sql.install(schema_editor.connection)


def remove(apps, schema_editor):
    sql.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_triggers")]

    operations = [migrations.RunPython(install, remove)]
