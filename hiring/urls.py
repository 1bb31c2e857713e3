from django.urls import path

from hiring import views

app_name = "hiring"

urlpatterns = [
    path("hiring/", views.opening_list, name="openings"),
    path("hiring/openings/<uuid:uuid>/", views.opening_detail, name="opening"),
    path("hiring/openings/<uuid:uuid>/compare/", views.compare, name="compare"),
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
    path(
        "hiring/candidates/<uuid:uuid>/documents/<str:field>/",
        views.candidate_document,
        name="document",
    ),
]
