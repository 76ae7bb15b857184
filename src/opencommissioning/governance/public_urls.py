"""Stable public addresses: /public/registers/<register>/ (page), .csv and .json beside it,
and /public/decisions/<id>/ for one decision's whole chain. Mounted under ``public/``."""

from django.urls import path

from . import views

app_name = "governance_public"

urlpatterns = [
    path("decisions/<int:pk>/", views.public_decision, name="decision"),
]
for _register in views.REGISTERS:
    _name = _register.replace("-", "_")
    urlpatterns += [
        path(f"registers/{_register}/", views.register_page(_register), name=_name),
        path(f"registers/{_register}.csv", views.register_csv(_register), name=f"{_name}_csv"),
        path(f"registers/{_register}.json", views.register_json(_register), name=f"{_name}_json"),
    ]
