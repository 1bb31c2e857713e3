from django.urls import path

from certification import views

app_name = "certification"

urlpatterns = [
    path("certification/", views.mine, name="mine"),
    path("certification/people/<uuid:uuid>/", views.enrollment_detail, name="enrollment"),
    path("certification/team/", views.team, name="team"),
    path("certification/leadership/", views.leadership, name="leadership"),
    path("certification/coverage/", views.coverage, name="coverage"),
    path("certification/assess/", views.assess_list, name="assess_list"),
    path("certification/assess/<uuid:uuid>/", views.assess, name="assess"),
    path("certification/results/<uuid:uuid>/delete/", views.result_delete, name="result_delete"),
    path("certification/results/<uuid:uuid>/evidence/", views.evidence, name="evidence"),
]
