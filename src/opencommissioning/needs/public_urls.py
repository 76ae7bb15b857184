"""Public needs pages (no sign-in): /public/profiles/<ODS code>/ and the variation charts.
Every figure on them is passed through disclosure control. Mounted under ``public/``."""

from django.urls import path

from . import views

app_name = "needs_public"

urlpatterns = [
    path("profiles/<str:ods_code>/", views.public_profile, name="profile"),
    path("profiles/<str:ods_code>/variation/<slug:indicator_id>/", views.public_variation, name="variation"),
]
