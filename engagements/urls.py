from django.urls import path

from engagements import views

app_name = "engagements"

DELIVERY = "engagements/<uuid:uuid>/delivery/"

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
    path("accounts/<uuid:uuid>/documents/", views.account_documents, name="account_documents"),
    path("engagements/", views.engagement_list, name="engagement_list"),
    path("engagements/<uuid:uuid>/", views.engagement_detail, name="engagement_detail"),
    path("engagements/<uuid:uuid>/edit/", views.engagement_edit, name="engagement_edit"),
    path("engagements/<uuid:uuid>/stage/", views.engagement_advance, name="engagement_advance"),
    path(
        "engagements/<uuid:uuid>/documents/",
        views.engagement_documents,
        name="engagement_documents",
    ),
    path("documents/<uuid:uuid>/", views.document_status, name="document_status"),
    path("documents/<uuid:uuid>/retry/", views.document_retry, name="document_retry"),
    path("documents/<uuid:uuid>/download/", views.document_download, name="document_download"),
    # Delivery: scope, milestones and attendance
    path(DELIVERY, views.delivery, name="delivery"),
    path(DELIVERY + "scope/", views.scope_item, name="scope_items"),
    path(DELIVERY + "scope/<int:pk>/", views.scope_item, name="scope_item"),
    path(DELIVERY + "scope/<int:pk>/delete/", views.scope_item_delete, name="scope_item_delete"),
    path(DELIVERY + "changes/", views.scope_change, name="scope_changes"),
    path(DELIVERY + "changes/<int:pk>/", views.scope_change, name="scope_change"),
    path(
        DELIVERY + "changes/<int:pk>/delete/",
        views.scope_change_delete,
        name="scope_change_delete",
    ),
    path(DELIVERY + "milestones/", views.milestone, name="milestones"),
    path(DELIVERY + "milestones/<int:pk>/", views.milestone, name="milestone"),
    path(DELIVERY + "milestones/<int:pk>/delete/", views.milestone_delete, name="milestone_delete"),
    path(
        DELIVERY + "milestones/<int:pk>/attendance/",
        views.milestone_attendance,
        name="milestone_attendance",
    ),
    path("milestones/", views.my_milestones, name="my_milestones"),
    path("delivery/participation/", views.participation, name="participation"),
    path(
        "delivery/participation/chart.svg",
        views.participation_chart,
        name="participation_chart",
    ),
    # Golden thread: the success plan
    path("engagements/<uuid:uuid>/success-plan/", views.success_plan, name="success_plan"),
    path(
        "engagements/<uuid:uuid>/success-plan/steps/",
        views.success_plan_step,
        name="success_plan_steps",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/steps/<int:pk>/",
        views.success_plan_step,
        name="success_plan_step",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/steps/<int:pk>/delete/",
        views.success_plan_step_delete,
        name="success_plan_step_delete",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/metrics/",
        views.success_plan_metric,
        name="success_plan_metrics",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/metrics/<int:pk>/",
        views.success_plan_metric,
        name="success_plan_metric",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/metrics/<int:pk>/delete/",
        views.success_plan_metric_delete,
        name="success_plan_metric_delete",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/metrics/<int:pk>/chart.svg",
        views.success_plan_metric_chart,
        name="success_plan_metric_chart",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/readings/",
        views.success_plan_readings,
        name="success_plan_readings",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/activities/",
        views.success_plan_activities,
        name="success_plan_activities",
    ),
    path(
        "engagements/<uuid:uuid>/success-plan/activities/<int:pk>/delete/",
        views.success_plan_activity_delete,
        name="success_plan_activity_delete",
    ),
    # 1:1 cadence meetings
    path("one-on-ones/", views.one_on_one_list, name="one_on_one_list"),
    path("one-on-ones/new/", views.one_on_one_start, name="one_on_one_start"),
    path("one-on-ones/<uuid:uuid>/", views.one_on_one_detail, name="one_on_one_detail"),
    path("one-on-ones/<uuid:uuid>/delete/", views.one_on_one_delete, name="one_on_one_delete"),
    path(
        "one-on-ones/<uuid:uuid>/opportunities/<int:pk>/",
        views.one_on_one_opportunity,
        name="one_on_one_opportunity",
    ),
    path(
        "one-on-ones/<uuid:uuid>/temperatures/<int:pk>/",
        views.one_on_one_temperature,
        name="one_on_one_temperature",
    ),
    path("one-on-ones/<uuid:uuid>/steps/", views.one_on_one_step, name="one_on_one_steps"),
    path("one-on-ones/<uuid:uuid>/steps/<int:pk>/", views.one_on_one_step, name="one_on_one_step"),
    path(
        "one-on-ones/<uuid:uuid>/steps/<int:pk>/done/",
        views.one_on_one_step_done,
        name="one_on_one_step_done",
    ),
    path(
        "one-on-ones/<uuid:uuid>/steps/<int:pk>/delete/",
        views.one_on_one_step_delete,
        name="one_on_one_step_delete",
    ),
    path(
        "one-on-ones/<uuid:uuid>/career-notes/",
        views.one_on_one_career_note,
        name="one_on_one_career_note",
    ),
]
