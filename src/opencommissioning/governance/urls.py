from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("", views.index, name="index"),
    path("interests/", views.interest_list, name="interest_list"),
    path("interests/new/", views.interest_new, name="interest_new"),
    path("interests/return/", views.declaration_return, name="declaration_return"),
    path("interests/<int:pk>/end/", views.interest_end, name="interest_end"),
    path("gifts-hospitality/", views.gift_list, name="gift_list"),
    path("gifts-hospitality/new/", views.gift_new, name="gift_new"),
    path("overdue/", views.overdue, name="overdue"),
    path("committees/", views.committee_list, name="committee_list"),
    path("committees/new/", views.committee_new, name="committee_new"),
    path("committees/<int:pk>/", views.committee_detail, name="committee_detail"),
    path("committees/<int:pk>/members/", views.committee_member_add, name="committee_member_add"),
    path("meetings/new/", views.meeting_new, name="meeting_new"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting_detail"),
    path("meetings/<int:pk>/attendance/", views.meeting_attendance, name="meeting_attendance"),
    path("meetings/<int:pk>/items/new/", views.meeting_item_new, name="meeting_item_new"),
    path("meetings/<int:pk>/close/", views.meeting_close, name="meeting_close"),
    path("items/<int:pk>/", views.item_detail, name="item_detail"),
    path("items/<int:pk>/evidence/", views.item_evidence, name="item_evidence"),
    path("items/<int:pk>/screen/", views.item_screen, name="item_screen"),
    path("items/<int:pk>/declare/", views.item_declare, name="item_declare"),
    path("items/<int:pk>/vote/", views.item_vote, name="item_vote"),
    path("items/<int:pk>/decide/", views.item_decide, name="item_decide"),
    path("conflicts/<int:pk>/manage/", views.conflict_manage, name="conflict_manage"),
    path("breaches/", views.breach_list, name="breach_list"),
    path("breaches/new/", views.breach_new, name="breach_new"),
    path("breaches/<int:pk>/", views.breach_detail, name="breach_detail"),
    path("breaches/<int:pk>/investigate/", views.breach_investigate, name="breach_investigate"),
    path("breaches/<int:pk>/close/", views.breach_close, name="breach_close"),
    path("accountability/", views.accountability, name="accountability"),
    path("accountability/new/", views.accountability_new, name="accountability_new"),
    path("people/<int:pk>/", views.person, name="person"),
]
