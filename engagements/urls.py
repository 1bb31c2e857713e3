from django.urls import path

from engagements import views

app_name = "engagements"

urlpatterns = [
    path("accounts/", views.account_list, name="account_list"),
    path("accounts/new/", views.account_create, name="account_create"),
    path("accounts/<uuid:uuid>/", views.account_detail, name="account_detail"),
    path("accounts/<uuid:uuid>/edit/", views.account_edit, name="account_edit"),
    path("accounts/<uuid:uuid>/contacts/", views.contact_add, name="contact_add"),
    path(
        "accounts/<uuid:uuid>/contacts/<uuid:contact_uuid>/",
        views.contact_edit,
        name="contact_edit",
    ),
    path(
        "accounts/<uuid:uuid>/contacts/<uuid:contact_uuid>/delete/",
        views.contact_delete,
        name="contact_delete",
    ),
    path("accounts/<uuid:uuid>/team/", views.team_add, name="team_add"),
    path(
        "accounts/<uuid:uuid>/team/<int:member_id>/remove/", views.team_remove, name="team_remove"
    ),
    path(
        "accounts/<uuid:uuid>/engagements/new/", views.engagement_create, name="engagement_create"
    ),
    path("engagements/", views.engagement_list, name="engagement_list"),
    path("engagements/<uuid:uuid>/", views.engagement_detail, name="engagement_detail"),
    path("engagements/<uuid:uuid>/edit/", views.engagement_edit, name="engagement_edit"),
    path("engagements/<uuid:uuid>/stage/", views.engagement_advance, name="engagement_advance"),
]
