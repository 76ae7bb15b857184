from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "opencommissioning.public"
    label = "public"
    verbose_name = "Transparency portal"
