from django.apps import AppConfig


class NeedsConfig(AppConfig):
    name = "opencommissioning.needs"
    label = "needs"
    verbose_name = "Needs and outcomes"
    default_auto_field = "django.db.models.BigAutoField"
