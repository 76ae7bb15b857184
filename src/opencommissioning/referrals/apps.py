from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _forget_specialties(sender: Any = None, **kwargs: Any) -> None:
    from . import services

    services._SPECIALTIES.clear()


class ReferralsConfig(AppConfig):
    name = "opencommissioning.referrals"
    label = "referrals"
    verbose_name = "Referrals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .models import Specialty

        # The intake caches specialties (reference data); forget them when they change
        # or the database is emptied (a test flush sends post_migrate).
        post_migrate.connect(_forget_specialties, dispatch_uid="referrals-forget-specialties")
        post_save.connect(_forget_specialties, sender=Specialty, dispatch_uid="referrals-specialty-saved")
        post_delete.connect(_forget_specialties, sender=Specialty, dispatch_uid="referrals-specialty-deleted")
