from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_guards(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After every migrate (and every test-database flush), the append-only guard is on
    and PostgreSQL's append function is the one in ``audit/sql.py``."""
    from django.db import connections

    from . import guards, sql

    connection = connections[using]
    if "audit_auditevent" in connection.introspection.table_names():
        guards.install(connection)
        sql.install(connection)


class AuditConfig(AppConfig):
    name = "opencommissioning.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        post_migrate.connect(_ensure_guards, sender=self, dispatch_uid="audit-guards")
