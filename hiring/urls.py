from django.urls import path

from hiring import views

app_name = "hiring"

urlpatterns = [
    path("hiring/", views.opening_list, name="openings"),
    path("hiring/openings/<uuid:uuid>/", views.opening_detail, name="opening"),
    path("hiring/openings/<uuid:uuid>/compare/", views.compare, name="compare"),
    path("hiring/openings/<uuid:uuid>/panel/", views.opening_panel, name="panel"),
    path("hiring/openings/<uuid:uuid>/close/", views.opening_close, name="opening_close"),
    path("hiring/openings/<uuid:uuid>/reopen/", views.opening_reopen, name="opening_reopen"),
    path("hiring/profiles/", views.profile_list, name="profiles"),
    path("hiring/profiles/<uuid:uuid>/", views.profile_detail, name="profile"),
    path("hiring/profiles/<uuid:uuid>/attributes/", views.attribute_save, name="attributes"),
    path(
        "hiring/profiles/<uuid:uuid>/attributes/<int:pk>/",
        views.attribute_save,
        name="attribute",
    ),
    path(
        "hiring/profiles/<uuid:uuid>/attributes/<int:pk>/delete/",
        views.attribute_delete,
        name="attribute_delete",
    ),
    path("hiring/profiles/<uuid:uuid>/plan/", views.plan_add, name="plan_add"),
    path(
        "hiring/profiles/<uuid:uuid>/plan/<int:pk>/remove/",
        views.plan_remove,
        name="plan_remove",
    ),
    path("hiring/profiles/<uuid:uuid>/plan/<int:pk>/move/", views.plan_move, name="plan_move"),
    path("hiring/profiles/<uuid:uuid>/questions/", views.question_add, name="question_add"),
    path("hiring/candidates/<uuid:uuid>/", views.candidate_detail, name="candidate"),
    path("hiring/candidates/<uuid:uuid>/interview/", views.candidate_interview, name="interview"),
    path(
        "hiring/candidates/<uuid:uuid>/deliverable/",
        views.candidate_deliverable,
        name="deliverable",
    ),
    path("hiring/candidates/<uuid:uuid>/disc/", views.candidate_disc, name="disc"),
    path("hiring/candidates/<uuid:uuid>/disc.svg", views.disc_chart, name="disc_chart"),
    path("hiring/candidates/<uuid:uuid>/stage/", views.candidate_stage, name="stage"),
    path("hiring/candidates/<uuid:uuid>/hire/", views.candidate_hire, name="hire"),
    path("hiring/candidates/<uuid:uuid>/erase/", views.candidate_erase, name="erase"),
    path("hiring/candidates/<uuid:uuid>/audition/", views.audition_score, name="audition"),
    path("hiring/candidates/<uuid:uuid>/documents/", views.candidate_attach, name="attach"),
    path(
        "hiring/candidates/<uuid:uuid>/documents/<str:field>/",
        views.candidate_document,
        name="document",
    ),
]
