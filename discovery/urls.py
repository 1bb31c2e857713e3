from django.urls import path

from discovery import views

app_name = "discovery"

ENGAGEMENT = "engagements/<uuid:uuid>/discovery/"
INTERVIEW = ENGAGEMENT + "interviews/<uuid:fca>/"

urlpatterns = [
    path("accounts/<uuid:uuid>/intelligence/", views.profile, name="profile"),
    path(
        "accounts/<uuid:uuid>/intelligence/<slug:kind>/",
        views.profile_item,
        name="profile_items",
    ),
    path(
        "accounts/<uuid:uuid>/intelligence/<slug:kind>/<int:pk>/",
        views.profile_item,
        name="profile_item",
    ),
    path(
        "accounts/<uuid:uuid>/intelligence/<slug:kind>/<int:pk>/delete/",
        views.profile_item_delete,
        name="profile_item_delete",
    ),
    path(ENGAGEMENT, views.checklist, name="checklist"),
    path(ENGAGEMENT + "interviews/", views.analysis_create, name="analysis_create"),
    path(INTERVIEW, views.analysis, name="analysis"),
    path(INTERVIEW + "delete/", views.analysis_delete, name="analysis_delete"),
    path(INTERVIEW + "complete/", views.analysis_complete, name="analysis_complete"),
    path(INTERVIEW + "reopen/", views.analysis_reopen, name="analysis_reopen"),
    path(INTERVIEW + "sign-off/", views.analysis_sign_off, name="analysis_sign_off"),
    path(INTERVIEW + "scenarios/", views.scenario, name="scenarios"),
    path(INTERVIEW + "scenarios/<int:pk>/", views.scenario, name="scenario"),
    path(INTERVIEW + "scenarios/<int:pk>/delete/", views.scenario_delete, name="scenario_delete"),
    path(ENGAGEMENT + "constraints/", views.constraint, name="constraints"),
    path(ENGAGEMENT + "constraints/<int:pk>/", views.constraint, name="constraint"),
    path(
        ENGAGEMENT + "constraints/<int:pk>/delete/",
        views.constraint_delete,
        name="constraint_delete",
    ),
    path(ENGAGEMENT + "tco/", views.tco, name="tco"),
    path(ENGAGEMENT + "tco/chart.svg", views.tco_chart, name="tco_chart"),
    path(ENGAGEMENT + "tco/alternatives/", views.alternative, name="alternatives"),
    path(ENGAGEMENT + "tco/alternatives/<int:pk>/", views.alternative, name="alternative"),
    path(
        ENGAGEMENT + "tco/alternatives/<int:pk>/delete/",
        views.alternative_delete,
        name="alternative_delete",
    ),
    path(ENGAGEMENT + "tco/alternatives/<int:pk>/lines/", views.lines, name="lines"),
    path(ENGAGEMENT + "tco/alternatives/<int:pk>/downtime/", views.downtime, name="downtime"),
    path(ENGAGEMENT + "tco/lines/<int:pk>/", views.line, name="line"),
    path(ENGAGEMENT + "tco/lines/<int:pk>/delete/", views.line_delete, name="line_delete"),
]
