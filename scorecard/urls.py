from django.urls import path

from scorecard import views

app_name = "scorecard"

urlpatterns = [
    path("scorecard/", views.scorecard, name="scorecard"),
    path("scorecard/impact/", views.impact, name="impact"),
    path("scorecard/impact/chart.svg", views.impact_chart, name="impact_chart"),
    path("scorecard/targets/", views.targets, name="targets"),
    path("scorecard/recompute/", views.recompute, name="recompute"),
    path("scorecard/recompute/status/", views.recompute_status, name="recompute_status"),
    path("scorecard/kpi/<slug:key>/", views.kpi_detail, name="kpi"),
    path("scorecard/kpi/<slug:key>/engagements/", views.kpi_engagements, name="kpi_engagements"),
    path("scorecard/kpi/<slug:key>/trend.svg", views.kpi_trend_chart, name="kpi_trend_chart"),
    path(
        "scorecard/kpi/<slug:key>/breakdown.svg",
        views.kpi_breakdown_chart,
        name="kpi_breakdown_chart",
    ),
    path("scorecard/kpi/<slug:key>/sparkline.svg", views.sparkline, name="sparkline"),
]
