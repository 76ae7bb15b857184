from django.urls import path

from . import views

app_name = "referrals"

urlpatterns = [
    path("", views.referral_list, name="list"),
    path("new/", views.referral_new, name="new"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/claim-next/", views.claim_next, name="claim_next"),
    path("tariffs/", views.tariffs, name="tariffs"),
    path("tariffs/scheme/", views.scheme, name="scheme"),
    path("statements/", views.statements, name="statements"),
    path("statements/<str:ods_code>/<str:month>/", views.statement, name="statement"),
    path("statements/<str:ods_code>/<str:month>.csv", views.statement_csv, name="statement_csv"),
    path("commissioning/", views.commissioning_view, name="commissioning"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<str:ods_code>/", views.practice_tokens, name="practice_tokens"),
    path("tokens/<str:ods_code>/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
    path("commissioning/funnel.<str:fmt>", views.commissioning_funnel, name="commissioning_funnel"),
    path("commissioning/referrals/", views.commissioning_referrals, name="commissioning_referrals"),
    path("<uuid:public_id>/", views.referral_detail, name="detail"),
    path("<uuid:public_id>/claim/", views.claim, name="claim"),
    path("<uuid:public_id>/release/", views.release, name="release"),
    path("<uuid:public_id>/route/", views.route, name="route"),
    path("<uuid:public_id>/advise/", views.advise, name="advise"),
    path("<uuid:public_id>/return/", views.return_referral, name="return"),
    path("<uuid:public_id>/reply/", views.reply, name="reply"),
    path("<uuid:public_id>/convert/", views.convert, name="convert"),
    path("<uuid:public_id>/close/", views.close, name="close"),
]
