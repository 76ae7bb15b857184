from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("organisations/<str:ods_code>/", views.organisation_detail, name="organisation_detail"),
    path("components/", views.components, name="components"),
]
