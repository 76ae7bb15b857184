from django.urls import include, path

from opencommissioning import api
from opencommissioning.core import views as core_views

handler400 = "opencommissioning.core.views.bad_request"
handler403 = "opencommissioning.core.views.permission_denied"
handler404 = "opencommissioning.core.views.page_not_found"
handler500 = "opencommissioning.core.views.server_error"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", core_views.sign_in, name="login"),
    path("accounts/logout/", core_views.sign_out, name="logout"),
    path("api/", api.urls()),
    path("audit/", include("opencommissioning.audit.urls")),
    path("governance/", include("opencommissioning.governance.urls")),
    path("public/", include("opencommissioning.governance.public_urls")),  # registers, decisions
    path("public/", include("opencommissioning.needs.public_urls")),  # needs profiles, variation
    path("public/", include("opencommissioning.public.urls")),
    path("needs/", include("opencommissioning.needs.urls")),
    path("referrals/", include("opencommissioning.referrals.urls")),
    path("", include("opencommissioning.core.urls")),
]
