"""The golden thread: an engagement's success plan (business outcome, adoption steps, success
metrics with their readings) and the post-sale activities logged against it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from engagements import services
from engagements.models import (
    AdoptionStep,
    Engagement,
    MetricReading,
    PostSaleActivity,
    SuccessMetric,
    SuccessPlan,
)
from tcp.models import ACTION_LABELS, AuditLogEntry, Role, User
from tests.conftest import client_for
from tests.discovery.conftest import HTMX, field_error, form_data, text_of
from tests.factories import TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

OUTCOME = "Radiologists report on a scan within one day instead of five, across all 40 clinics."
STEP_FIELDS = ["description", "owner", "due_on", "done_on"]
METRIC_FIELDS = ["name", "unit", "baseline", "target"]


def url(name: str, engagement: Engagement, *more: Any) -> str:
    return reverse(f"engagements:{name}", args=[engagement.uuid, *more])


def page_url(engagement: Engagement) -> str:
    return url("success_plan", engagement)


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


@pytest.fixture
def plan(engagement: Engagement, owner: User) -> SuccessPlan:
    return services.success_plan_save(
        engagement=engagement, actor=owner, data={"business_outcome": OUTCOME}
    )


def add_metric(plan: SuccessPlan, actor: User, name: str, baseline: int, target: int) -> Any:
    return services.success_metric_save(
        plan=plan,
        actor=actor,
        data={"name": name, "unit": "days", "baseline": Decimal(baseline), "target": target},
    )


def add_step(plan: SuccessPlan, actor: User, description: str, **values: Any) -> AdoptionStep:
    return services.adoption_step_save(
        plan=plan,
        actor=actor,
        data={"description": description, "owner": "Client PACS lead", **values},
    )


def read(metric: SuccessMetric, day: dt.date, value: str) -> MetricReading:
    return MetricReading.objects.create(metric=metric, on=day, value=Decimal(value))


def actions(engagement: Engagement) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_id=str(engagement.pk))
        .order_by("at", "id")
        .values_list("action", flat=True)
    )


# The business outcome ------------------------------------------------------------------


def test_the_first_business_outcome_starts_the_plan(engagement: Engagement, owner: User) -> None:
    response = client_for(owner).post(page_url(engagement), {"outcome-business_outcome": OUTCOME})
    assert response.status_code == 302
    assert response["Location"] == page_url(engagement)
    plan = SuccessPlan.objects.get(engagement=engagement)
    assert (plan.business_outcome, plan.version, plan.updated_by) == (OUTCOME, 1, owner)
    entry = AuditLogEntry.objects.get(action="success_plan.create")
    assert entry.object_id == str(engagement.pk)
    assert entry.action_label == "started the success plan"


def test_a_blank_business_outcome_starts_nothing(engagement: Engagement, owner: User) -> None:
    response = client_for(owner).post(page_url(engagement), {"outcome-business_outcome": "  "})
    assert response.status_code == 400
    assert field_error(response.text, "id_outcome-business_outcome_error")
    assert not SuccessPlan.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_the_business_outcome_is_edited_in_place(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    data = form_data("outcome", plan, ["business_outcome"], business_outcome="Same-day reports.")
    response = client_for(owner).post(page_url(engagement), data, **HTMX)
    assert response.status_code == 200
    assert "Saved" in response.text
    plan.refresh_from_db()
    assert (plan.business_outcome, plan.version) == ("Same-day reports.", 2)
    entry = AuditLogEntry.objects.get(action="success_plan.update")
    assert entry.changes["business_outcome"] == [OUTCOME, "Same-day reports."]


def test_an_outcome_saved_over_a_newer_version_changes_nothing(
    plan: SuccessPlan, engagement: Engagement, owner: User, delivery_manager: User
) -> None:
    services.success_plan_save(
        engagement=engagement,
        actor=delivery_manager,
        data={"business_outcome": "Their version."},
        version=1,
    )
    data = form_data("outcome", plan, ["business_outcome"], business_outcome="Mine.", version=1)
    response = client_for(owner).post(page_url(engagement), data, **HTMX)
    assert "Not saved" in response.text
    plan.refresh_from_db()
    assert (plan.business_outcome, plan.version) == ("Their version.", 2)


def test_starting_a_plan_someone_else_started_meanwhile_does_not_overwrite_it(
    plan: SuccessPlan, engagement: Engagement, delivery_manager: User
) -> None:
    # The start form carries no version: its author saw no plan.
    response = client_for(delivery_manager).post(
        page_url(engagement), {"outcome-business_outcome": "A different outcome."}
    )
    assert response.status_code == 400
    assert "Not saved" in response.text
    plan.refresh_from_db()
    assert (plan.business_outcome, plan.version) == (OUTCOME, 1)
    with pytest.raises(ValidationError):
        services.success_plan_save(
            engagement=engagement,
            actor=delivery_manager,
            data={"business_outcome": "Again."},
            version=0,
        )


# The page --------------------------------------------------------------------------------


def test_without_a_plan_the_page_says_how_to_start(engagement: Engagement, owner: User) -> None:
    response = client_for(owner).get(page_url(engagement))
    assert response.status_code == 200
    page = text_of(response.text)
    assert "No success plan yet" in page
    assert "Start the success plan" in page


def test_an_empty_plan_explains_what_to_write_in_each_part(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    page = text_of(client_for(owner).get(page_url(engagement)).text)
    assert OUTCOME in page
    assert "No steps yet." in page
    assert "No metrics yet." in page
    assert "Nothing logged yet" in page
    assert "Record a reading" not in page  # nothing to read until there is a metric


def test_the_engagement_page_links_to_its_plan(engagement: Engagement, owner: User) -> None:
    response = client_for(owner).get(engagement.get_absolute_url())
    assert f'href="{page_url(engagement)}"' in response.text


def test_leadership_can_read_the_plan(
    plan: SuccessPlan, engagement: Engagement, owner: User, leadership: User
) -> None:
    metric = add_metric(plan, owner, "Report turnaround", 5, 1)
    read(metric, days_ago(3), "3")
    add_step(plan, owner, "Train the radiologists", due_on=days_ago(-10))
    response = client_for(leadership).get(page_url(engagement))
    assert response.status_code == 200
    page = text_of(response.text)
    assert OUTCOME in page
    assert "Train the radiologists" in page
    assert "Report turnaround" in page
    assert "Current 3 days" in page


def test_a_delivery_manager_of_the_engagement_can_edit_the_plan(
    engagement: Engagement, delivery_manager: User
) -> None:
    client = client_for(delivery_manager)
    client.post(page_url(engagement), {"outcome-business_outcome": OUTCOME})
    plan = SuccessPlan.objects.get(engagement=engagement)
    response = client.post(
        url("success_plan_steps", engagement),
        {
            "step-new-description": "Migrate ten years of studies",
            "step-new-owner": "Our migration team",
            "step-new-due_on": "2030-01-31",
        },
    )
    assert response.status_code == 302
    assert plan.steps.get().description == "Migrate ten years of studies"
    assert services.success_plan_editable_by(engagement=engagement, user=delivery_manager)


def test_a_delivery_manager_seat_on_the_account_may_edit_the_plan_though_not_the_engagement(
    engagement: Engagement,
) -> None:
    seated = TeamMemberFactory.create(
        account=engagement.account,
        role="delivery_manager",
        user=UserFactory.create(roles=[Role.DELIVERY_MANAGER]),
    ).user
    assert not engagement.is_editable_by(seated)
    assert services.success_plan_editable_by(engagement=engagement, user=seated)


def test_the_business_outcome_cannot_be_removed_from_its_card(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    page = client_for(owner).get(page_url(engagement)).text
    card = re.search(r'<article[^>]*id="outcome".*?</article>', page, re.S)
    assert card is not None
    assert OUTCOME in card.group(0)
    assert "Remove" not in card.group(0)


# Adoption steps --------------------------------------------------------------------------


def test_adoption_steps_are_added_edited_and_removed_in_place(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    client = client_for(owner)
    response = client.post(
        url("success_plan_steps", engagement),
        {
            "step-new-description": "Train the radiologists",
            "step-new-owner": "Dr Okafor (client)",
            "step-new-due_on": "2024-05-31",
        },
        **HTMX,
    )
    assert response.status_code == 200
    step = plan.steps.get()
    assert f'id="step-{step.pk}"' in response.text

    data = form_data(f"step-{step.pk}", step, STEP_FIELDS, done_on="2024-05-20")
    response = client.post(url("success_plan_step", engagement, step.pk), data, **HTMX)
    assert response.status_code == 200
    step.refresh_from_db()
    assert (step.done_on, step.version) == (dt.date(2024, 5, 20), 2)
    assert "1 of 1 step done" in text_of(response.text)

    response = client.post(url("success_plan_step_delete", engagement, step.pk), **HTMX)
    assert response.status_code == 200
    assert not plan.steps.exists()
    assert actions(engagement)[-3:] == [
        "adoption_step.create",
        "adoption_step.update",
        "adoption_step.delete",
    ]


def test_an_overdue_step_is_marked(plan: SuccessPlan, engagement: Engagement, owner: User) -> None:
    add_step(plan, owner, "Switch off the old archive", due_on=days_ago(4))
    add_step(plan, owner, "Train the radiologists", due_on=days_ago(9), done_on=days_ago(10))
    add_step(plan, owner, "Go live in the last clinic", due_on=days_ago(-30))
    page = text_of(client_for(owner).get(page_url(engagement)).text)
    assert "1 of 3 steps done · 1 overdue" in page
    assert page.count("Overdue was due") == 1
    assert f"Overdue was due {days_ago(4):%-d %b %Y}" in page
    assert f"Done on {days_ago(10):%-d %b %Y}" in page


def test_a_step_cannot_be_done_in_the_future(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    step = add_step(plan, owner, "Train the radiologists", due_on=days_ago(1))
    tomorrow = days_ago(-1)
    data = form_data(f"step-{step.pk}", step, STEP_FIELDS, done_on=tomorrow.isoformat())
    response = client_for(owner).post(url("success_plan_step", engagement, step.pk), data, **HTMX)
    assert "cannot be in the future" in field_error(
        response.text, f"id_step-{step.pk}-done_on_error"
    )
    step.refresh_from_db()
    assert (step.done_on, step.version) == (None, 1)


def test_without_javascript_a_refused_step_shows_the_page_with_the_error_beside_the_field(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    step = add_step(plan, owner, "Train the radiologists", due_on=days_ago(1))
    data = form_data(f"step-{step.pk}", step, STEP_FIELDS, description="", due_on="not a day")
    response = client_for(owner).post(url("success_plan_step", engagement, step.pk), data)
    assert response.status_code == 400
    assert field_error(response.text, f"id_step-{step.pk}-description_error")
    assert field_error(response.text, f"id_step-{step.pk}-due_on_error")
    step.refresh_from_db()
    assert (step.description, step.version) == ("Train the radiologists", 1)


# Success metrics -------------------------------------------------------------------------


def test_a_metric_is_added_in_place_and_offered_for_readings(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    response = client_for(owner).post(
        url("success_plan_metrics", engagement),
        {
            "metric-new-name": "Report turnaround",
            "metric-new-unit": "days",
            "metric-new-baseline": "5",
            "metric-new-target": "1",
        },
        **HTMX,
    )
    assert response.status_code == 200
    metric = plan.metrics.get()
    assert (metric.baseline, metric.target) == (Decimal(5), Decimal(1))
    page = text_of(response.text)
    assert "5 → 1 days (lower is better)" in page
    assert "no reading yet" in page
    # The quick reading form comes back out of band with the new metric to choose.
    option = rf'<option value="{metric.pk}"[^>]*>Report turnaround</option>'
    assert re.search(option, response.text)


def test_a_target_equal_to_the_baseline_is_refused(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    with pytest.raises(ValidationError) as refusal:
        add_metric(plan, owner, "Tickets a month", 40, 40)
    assert set(refusal.value.message_dict) == {"target"}

    response = client_for(owner).post(
        url("success_plan_metrics", engagement),
        {
            "metric-new-name": "Tickets a month",
            "metric-new-baseline": "40",
            "metric-new-target": "40.00",
        },
    )
    assert response.status_code == 400
    assert "must differ from the baseline" in field_error(
        response.text, "id_metric-new-target_error"
    )
    assert not SuccessMetric.objects.exists()

    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    data = form_data(f"metric-{metric.pk}", metric, METRIC_FIELDS, target="40")
    response = client_for(owner).post(
        url("success_plan_metric", engagement, metric.pk), data, **HTMX
    )
    assert "must differ" in field_error(response.text, f"id_metric-{metric.pk}-target_error")
    metric.refresh_from_db()
    assert (metric.target, metric.version) == (Decimal(10), 1)


def test_a_removed_metric_leaves_the_reading_form_with_the_others(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    kept = add_metric(plan, owner, "Report turnaround", 5, 1)
    gone = add_metric(plan, owner, "Tickets a month", 40, 10)
    read(gone, days_ago(1), "30")
    response = client_for(owner).post(
        url("success_plan_metric_delete", engagement, gone.pk), **HTMX
    )
    assert response.status_code == 200
    assert 'id="reading-panel" hx-swap-oob="true"' in response.text
    options = re.findall(r'<option value="(\d+)"', response.text)
    assert options == [str(kept.pk)]
    assert list(plan.metrics.all()) == [kept]
    assert not MetricReading.objects.exists()
    assert actions(engagement)[-1] == "success_metric.delete"


def test_figures_are_shown_without_trailing_zeros(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    metric = add_metric(plan, owner, "Licences in use", 1200, 4000)
    read(metric, days_ago(1), "2650.50")
    page = text_of(client_for(owner).get(page_url(engagement)).text)
    assert "Baseline → target 1,200 → 4,000 days Current 2,650.5 days" in page


def test_the_current_value_is_the_latest_reading(plan: SuccessPlan, owner: User) -> None:
    turnaround = add_metric(plan, owner, "Report turnaround", 5, 1)
    tickets = add_metric(plan, owner, "Tickets a month", 40, 10)
    add_metric(plan, owner, "Clinics live", 0, 40)
    read(turnaround, dt.date(2024, 6, 1), "2.5")
    read(turnaround, dt.date(2024, 3, 1), "4")  # recorded later, read earlier
    read(turnaround, dt.date(2024, 4, 1), "3")
    read(tickets, dt.date(2024, 2, 1), "31")
    current = {
        m.name: (m.current, m.current_on, m.readings_count)  # type: ignore[attr-defined]
        for m in services.success_metrics_with_progress(plan)
    }
    assert current == {
        "Report turnaround": (Decimal("2.5"), dt.date(2024, 6, 1), 3),
        "Tickets a month": (Decimal(31), dt.date(2024, 2, 1), 1),
        "Clinics live": (None, None, 0),
    }


@pytest.mark.parametrize(
    ("baseline", "target", "current", "progress"),
    [
        (100, 200, "150", Decimal(50)),  # higher is better, halfway
        (40, 10, "25", Decimal(50)),  # lower is better: from 40 down to 25 of the way to 10
        (40, 10, "10", Decimal(100)),
        (40, 10, "46", Decimal(-20)),  # worse than before: 6 the wrong way of a 30 journey
        (40, 10, "4", Decimal(120)),  # past the target
        (40, 10, "40", Decimal(0)),
    ],
)
def test_progress_runs_from_baseline_to_target(
    plan: SuccessPlan,
    engagement: Engagement,
    owner: User,
    baseline: int,
    target: int,
    current: str,
    progress: Decimal,
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", baseline, target)
    read(metric, days_ago(60), "999")
    read(metric, days_ago(2), current)
    shown = services.success_metrics_with_progress(plan).get()
    assert shown.progress_pct(shown.current) == progress  # type: ignore[attr-defined]
    page = text_of(client_for(owner).get(page_url(engagement)).text)
    assert f"Progress {progress:.0f}%" in page


def test_progress_of_a_metric_without_readings_is_not_shown(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    add_metric(plan, owner, "Clinics live", 0, 40)
    page = text_of(client_for(owner).get(page_url(engagement)).text)
    assert "Current no reading yet Progress —" in page


# Readings ------------------------------------------------------------------------------


def test_a_reading_is_recorded_from_the_page(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    day = days_ago(1)
    response = client_for(owner).post(
        url("success_plan_readings", engagement),
        {"reading-metric": metric.pk, "reading-on": day.isoformat(), "reading-value": "25"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{page_url(engagement)}#metric-{metric.pk}"
    reading = metric.readings.get()
    assert (reading.on, reading.value, reading.recorded_by) == (day, Decimal(25), owner)
    entry = AuditLogEntry.objects.get(action="metric_reading.record")
    assert entry.changes == {"item": "Tickets a month", "on": str(day), "value": "25"}


def test_a_reading_recorded_with_htmx_updates_the_metrics_figures(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    response = client_for(owner).post(
        url("success_plan_readings", engagement),
        {"reading-metric": metric.pk, "reading-on": str(days_ago(0)), "reading-value": "25"},
        **HTMX,
    )
    assert response.status_code == 200
    assert f'id="metric-{metric.pk}-figures"' in response.text
    page = text_of(response.text)
    assert "Current 25 days" in page
    assert "Progress 50%" in page
    assert "Recorded 25 for “Tickets a month”" in page


def test_a_second_reading_on_the_same_day_replaces_the_first(
    plan: SuccessPlan, owner: User, delivery_manager: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    day = days_ago(3)
    services.metric_reading_record(metric=metric, actor=owner, on=day, value=Decimal(31))
    dm = delivery_manager
    services.metric_reading_record(metric=metric, actor=dm, on=day, value=Decimal(28))
    reading = metric.readings.get()
    assert (reading.value, reading.recorded_by) == (Decimal(28), delivery_manager)
    last = AuditLogEntry.objects.filter(action="metric_reading.record").latest("id")
    assert last.changes["value"] == ["31", "28"]


def test_a_reading_in_the_future_is_refused(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    tomorrow = days_ago(-1)
    with pytest.raises(ValidationError) as refusal:
        services.metric_reading_record(metric=metric, actor=owner, on=tomorrow, value=Decimal(1))
    assert set(refusal.value.message_dict) == {"on"}

    response = client_for(owner).post(
        url("success_plan_readings", engagement),
        {"reading-metric": metric.pk, "reading-on": tomorrow.isoformat(), "reading-value": "1"},
    )
    assert response.status_code == 400
    assert "cannot be in the future" in field_error(response.text, "id_reading-on_error")
    assert not MetricReading.objects.exists()
    assert not AuditLogEntry.objects.filter(action="metric_reading.record").exists()


def test_a_reading_without_a_value_or_for_another_plans_metric_is_refused(
    plan: SuccessPlan, engagement: Engagement, owner: User, account: Any
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    other = Engagement.objects.create(
        account=account, name="Other work", commercial_lead=owner, opened_on=days_ago(30)
    )
    other_plan = services.success_plan_save(
        engagement=other, actor=owner, data={"business_outcome": "Elsewhere."}
    )
    foreign = add_metric(other_plan, owner, "Elsewhere", 1, 2)
    client = client_for(owner)
    response = client.post(
        url("success_plan_readings", engagement),
        {"reading-metric": metric.pk, "reading-on": days_ago(1).isoformat(), "reading-value": ""},
        **HTMX,
    )
    assert field_error(response.text, "id_reading-value_error")
    response = client.post(
        url("success_plan_readings", engagement),
        {"reading-metric": foreign.pk, "reading-on": str(days_ago(1)), "reading-value": "2"},
        **HTMX,
    )
    assert field_error(response.text, "id_reading-metric_error")
    assert not MetricReading.objects.exists()


def test_the_chart_of_a_metric_is_an_svg_image(
    plan: SuccessPlan, engagement: Engagement, owner: User, leadership: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    chart = url("success_plan_metric_chart", engagement, metric.pk)
    empty = client_for(owner).get(chart)
    assert empty.status_code == 200
    assert empty["Content-Type"] == "image/svg+xml"
    assert "No readings yet" in empty.content.decode()
    read(metric, dt.date(2024, 1, 10), "38")
    read(metric, dt.date(2024, 2, 10), "30")
    response = client_for(leadership).get(chart)
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    assert "kozea.github.io" not in svg  # no script fetched from elsewhere
    assert "Readings (days)" in svg
    assert "Target" in svg


def test_the_page_asks_for_a_new_chart_when_the_readings_change(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)

    def chart_src() -> str:
        page = client_for(owner).get(page_url(engagement)).text
        found = re.search(r'<img[^>]*src="([^"]*chart\.svg[^"]*)"', page)
        assert found is not None
        return found.group(1)

    services.metric_reading_record(metric=metric, actor=owner, on=days_ago(9), value=Decimal(35))
    first = chart_src()
    services.metric_reading_record(metric=metric, actor=owner, on=days_ago(2), value=Decimal(30))
    second = chart_src()
    services.metric_reading_record(metric=metric, actor=owner, on=days_ago(2), value=Decimal(29))
    third = chart_src()
    services.success_metric_save(
        plan=plan, actor=owner, data={"target": Decimal(5)}, metric=metric, version=1
    )
    assert len({first, second, third, chart_src()}) == 4


# Post-sale activities ------------------------------------------------------------------


def log(plan: SuccessPlan, actor: User, kind: str, day: dt.date, what: str) -> PostSaleActivity:
    return services.post_sale_activity_log(
        plan=plan, actor=actor, data={"kind": kind, "on": day, "description": what}
    )


def activity_log(page: str) -> str:
    """The text of the post-sale activities section (the history repeats their names)."""
    return text_of(page).split("Post-sale activities", 1)[1]


def test_activities_show_newest_first_with_counts_per_kind(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    log(plan, owner, "information", days_ago(30), "Walked IT through the licences")
    log(plan, owner, "implementation", days_ago(20), "Joined the migration stand-up")
    log(plan, owner, "infusion", days_ago(5), "Quarterly value review with finance")
    log(plan, owner, "implementation", days_ago(10), "Arranged admin training")
    client = client_for(owner)
    page = activity_log(client.get(page_url(engagement)).text)
    assert "All 4 Information 1 Implementation 2 Infusion 1" in page
    order = [
        page.index(what)
        for what in (
            "Quarterly value review",
            "Arranged admin training",
            "Joined the migration",
            "Walked IT",
        )
    ]
    assert order == sorted(order)

    filtered = client.get(page_url(engagement), {"kind": "implementation"}, **HTMX)
    assert filtered.status_code == 200
    shown = text_of(filtered.text)
    assert "Arranged admin training" in shown
    assert "Joined the migration" in shown
    assert "Quarterly value review" not in shown
    assert "Walked IT" not in shown
    assert "<html" not in filtered.text  # only the log, for htmx


def test_the_activity_log_is_paginated(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    for n in range(23):
        log(plan, owner, "implementation", days_ago(n), f"Activity number {n:02d}")
    client = client_for(owner)
    first = activity_log(client.get(page_url(engagement)).text)
    assert "Activity number 00" in first
    assert "Activity number 19" in first
    assert "Activity number 20" not in first
    assert "Page 1 of 2" in first
    second = activity_log(client.get(page_url(engagement), {"page": 2}).text)
    assert "Activity number 22" in second
    assert "Activity number 19" not in second


def test_an_activity_is_logged_from_the_page(
    plan: SuccessPlan, engagement: Engagement, owner: User, delivery_manager: User
) -> None:
    data = {
        "activity-kind": "infusion",
        "activity-on": days_ago(1).isoformat(),
        "activity-description": "Checkpoint on the cost of ownership",
        "activity-by": delivery_manager.pk,
    }
    response = client_for(owner).post(url("success_plan_activities", engagement), data)
    assert response.status_code == 302
    activity = plan.activities.get()
    assert (activity.kind, activity.by) == ("infusion", delivery_manager)
    entry = AuditLogEntry.objects.get(action="post_sale_activity.log")
    assert entry.changes["by"] == str(delivery_manager)

    data["activity-description"] = "Second checkpoint"
    response = client_for(owner).post(url("success_plan_activities", engagement), data, **HTMX)
    assert response.status_code == 200
    assert "Second checkpoint" in text_of(response.text)
    assert plan.activities.count() == 2

    # Logged while the log shows one kind: the reply keeps showing that kind.
    data["activity-kind"] = "information"
    data["activity-description"] = "Briefed the new CIO"
    response = client_for(owner).post(
        url("success_plan_activities", engagement) + "?kind=infusion", data, **HTMX
    )
    shown = text_of(response.text)
    assert "Second checkpoint" in shown
    assert "Briefed the new CIO" not in shown
    assert "All 3 Information 1 Implementation 0 Infusion 2" in shown


def test_an_activity_in_the_future_or_by_someone_off_the_team_is_refused(
    plan: SuccessPlan, engagement: Engagement, owner: User, outsider: User
) -> None:
    client = client_for(owner)
    data = {
        "activity-kind": "information",
        "activity-on": days_ago(-2).isoformat(),
        "activity-description": "Product briefing",
        "activity-by": owner.pk,
    }
    response = client.post(url("success_plan_activities", engagement), data)
    assert response.status_code == 400
    assert "cannot be in the future" in field_error(response.text, "id_activity-on_error")
    response = client.post(
        url("success_plan_activities", engagement),
        {**data, "activity-on": days_ago(2).isoformat(), "activity-by": outsider.pk},
        **HTMX,
    )
    assert field_error(response.text, "id_activity-by_error")
    with pytest.raises(ValidationError) as refusal:
        services.post_sale_activity_log(
            plan=plan,
            actor=owner,
            data={"kind": "information", "on": days_ago(1), "description": "x", "by": outsider},
        )
    assert set(refusal.value.message_dict) == {"by"}
    assert not PostSaleActivity.objects.exists()


def test_an_activity_is_removed_after_asking(
    plan: SuccessPlan, engagement: Engagement, owner: User
) -> None:
    activity = log(plan, owner, "information", days_ago(3), "Product briefing")
    delete = url("success_plan_activity_delete", engagement, activity.pk)
    client = client_for(owner)
    assert "Remove this post-sale activity?" in client.get(delete).text
    response = client.post(f"{delete}?kind=information")
    assert response["Location"] == f"{page_url(engagement)}?kind=information#activities"
    assert not PostSaleActivity.objects.exists()
    assert actions(engagement)[-1] == "post_sale_activity.delete"


# Access --------------------------------------------------------------------------------


def _every_url(engagement: Engagement, plan: SuccessPlan, owner: User) -> list[tuple[str, str]]:
    step = add_step(plan, owner, "Train the radiologists", due_on=days_ago(1))
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    activity = log(plan, owner, "information", days_ago(3), "Product briefing")
    return [
        ("get", page_url(engagement)),
        ("post", page_url(engagement)),
        ("post", url("success_plan_steps", engagement)),
        ("post", url("success_plan_step", engagement, step.pk)),
        ("get", url("success_plan_step_delete", engagement, step.pk)),
        ("post", url("success_plan_step_delete", engagement, step.pk)),
        ("post", url("success_plan_metrics", engagement)),
        ("post", url("success_plan_metric", engagement, metric.pk)),
        ("get", url("success_plan_metric_delete", engagement, metric.pk)),
        ("post", url("success_plan_metric_delete", engagement, metric.pk)),
        ("get", url("success_plan_metric_chart", engagement, metric.pk)),
        ("post", url("success_plan_readings", engagement)),
        ("post", url("success_plan_activities", engagement)),
        ("get", url("success_plan_activity_delete", engagement, activity.pk)),
        ("post", url("success_plan_activity_delete", engagement, activity.pk)),
    ]


def test_an_outsider_gets_404_everywhere_and_changes_nothing(
    plan: SuccessPlan, engagement: Engagement, owner: User, outsider: User
) -> None:
    targets = _every_url(engagement, plan, owner)
    before = AuditLogEntry.objects.count()
    client = client_for(outsider)
    for method, target in targets:
        response = getattr(client, method)(
            target,
            {
                "outcome-business_outcome": "Hijacked",
                "step-new-description": "x",
                "step-new-owner": "x",
                "step-new-due_on": "2024-01-01",
                "reading-on": "2024-01-01",
                "reading-value": "1",
            }
            if method == "post"
            else None,
        )
        assert response.status_code == 404, (method, target)
    plan.refresh_from_db()
    assert plan.business_outcome == OUTCOME
    assert (plan.steps.count(), plan.metrics.count(), plan.activities.count()) == (1, 1, 1)
    assert AuditLogEntry.objects.count() == before


def test_without_a_plan_the_parts_of_a_plan_cannot_be_added(
    engagement: Engagement, owner: User
) -> None:
    response = client_for(owner).post(
        url("success_plan_steps", engagement), {"step-new-description": "x"}
    )
    assert response.status_code == 404
    assert not AdoptionStep.objects.exists()


@pytest.mark.parametrize(
    ("method", "name", "with_pk"),
    [
        ("put", "success_plan", False),
        ("delete", "success_plan", False),
        ("get", "success_plan_steps", False),
        ("get", "success_plan_metric", True),
        ("post", "success_plan_metric_chart", True),
        ("get", "success_plan_readings", False),
        ("get", "success_plan_activities", False),
    ],
)
def test_the_wrong_method_is_refused(
    plan: SuccessPlan, engagement: Engagement, owner: User, method: str, name: str, with_pk: bool
) -> None:
    metric = add_metric(plan, owner, "Tickets a month", 40, 10)
    target = url(name, engagement, metric.pk) if with_pk else url(name, engagement)
    assert getattr(client_for(owner), method)(target).status_code == 405


def test_every_success_plan_action_has_a_label() -> None:
    assert set(services.SUCCESS_PLAN_ACTIONS) <= set(ACTION_LABELS)
    assert ACTION_LABELS["metric_reading.record"] == "recorded a success metric reading"


def test_the_back_office_lists_only_the_plans_of_visible_engagements(
    plan: SuccessPlan, outsider: User, leadership: User
) -> None:
    from django.contrib.auth.models import Permission

    view = Permission.objects.get(codename="view_successplan")
    for user in (outsider, leadership):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.user_permissions.add(view)
    changelist = reverse("admin:engagements_successplan_changelist")
    assert "PACS migration" not in client_for(outsider).get(changelist).text
    assert "PACS migration" in client_for(leadership).get(changelist).text
    change = reverse("admin:engagements_successplan_change", args=[plan.pk])
    assert client_for(outsider).get(change).status_code in (302, 404)
    detail = client_for(leadership).get(change)
    assert detail.status_code == 200
    assert OUTCOME in detail.text


# Query counts --------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 12])
def test_the_page_runs_a_fixed_number_of_queries(
    rows: int,
    plan: SuccessPlan,
    engagement: Engagement,
    owner: User,
    delivery_manager: User,
    django_assert_num_queries: Any,
) -> None:
    for n in range(rows):
        add_step(plan, owner, f"Step {n}", due_on=days_ago(n - 3))
        metric = add_metric(plan, owner, f"Metric {n}", 100, 200)
        for day in range(4):
            read(metric, days_ago(day * 7), str(100 + n + day))
        for kind in ("information", "implementation", "infusion"):
            log(plan, delivery_manager, kind, days_ago(n), f"{kind} {n}")
    client: Client = client_for(owner)
    client.get(page_url(engagement))
    with django_assert_num_queries(12):
        response = client.get(page_url(engagement))
    assert text_of(response.text).count("Baseline → target") == rows
