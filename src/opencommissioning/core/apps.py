from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "opencommissioning.core"
    label = "core"
    verbose_name = "Organisations and people"
