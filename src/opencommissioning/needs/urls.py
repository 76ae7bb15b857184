from django.urls import path

from . import views

app_name = "needs"

urlpatterns = [
    path("", views.index, name="index"),
    path("data/", views.data, name="data"),
    path("data/<int:pk>/", views.load_detail, name="load"),
    path("data/<int:pk>/progress/", views.load_progress, name="load_progress"),
    path("data/<int:pk>/withdraw/", views.load_withdraw, name="load_withdraw"),
    path("data/<int:pk>/retry/", views.load_retry, name="load_retry"),
    path("recompute/", views.recompute, name="recompute"),
    path("recompute/<int:pk>/retry/", views.recompute_retry, name="recompute_retry"),
    path("indicators/", views.indicator_list, name="indicators"),
    path("indicators/<slug:indicator_id>/", views.indicator_detail, name="indicator"),
    path("indicators/<slug:indicator_id>.<str:fmt>", views.indicator_download, name="indicator_download"),
    path("profiles/<str:ods_code>/", views.profile, name="profile"),
    path("profiles/<str:ods_code>/target/", views.target_set, name="target"),
    path("profiles/<str:ods_code>/peers/", views.peers, name="peers"),
    path("variation/<slug:indicator_id>/", views.variation, name="variation"),
    path("charts/<str:kind>/<slug:indicator_id>.<str:fmt>", views.chart_export, name="chart_export"),
    path("peers/weights/<str:level>/", views.peer_weights, name="peer_weights"),
    path("priorities/", views.priorities, name="priorities"),
    path("priorities/new/", views.priority_new, name="priority_new"),
]
