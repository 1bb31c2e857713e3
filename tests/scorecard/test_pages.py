"""The scorecard, KPI, targets and recompute pages: who sees them, what they show, and
query counts that stay fixed as the data grows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engagements.models import Engagement
from scorecard import services
from scorecard.kpis import KPIS, Kpi
from scorecard.models import KpiSnapshot, KpiTarget
from scorecard.periods import Period
from scorecard.tasks import scorecard_recompute_now
from tcp.models import AuditLogEntry, OrganisationSettings, Role, User
from tests.conftest import client_for
from tests.factories import AccountFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
TODAY = timezone.localdate()
LAST_QUARTER = services.default_period("quarter", TODAY)


def _completed(
    day: dt.date, *, late: bool = False, industry: str = "banking", lead: User | None = None
) -> Engagement:
    extra = {"commercial_lead": lead} if lead else {}
    return EngagementFactory.create(
        account=AccountFactory.create(industry=industry),
        stage="completed",
        opened_on=day - dt.timedelta(days=120),
        contract_signed_on=day - dt.timedelta(days=90),
        contracted_end=day - dt.timedelta(days=1 if late else 0),
        contracted_effort_days=Decimal(10),
        completed_on=day,
        **extra,
    )


def _build(count: int, lead: User | None = None) -> None:
    """`count` engagements completed in the last quarter and the one before, then rolled up."""
    for i in range(count):
        _completed(LAST_QUARTER.start, late=i % 2 == 0, industry=["banking", "retail"][i % 2])
        _completed(LAST_QUARTER.previous.start, industry="energy", lead=lead)
    for period in (LAST_QUARTER, LAST_QUARTER.previous, LAST_QUARTER.year_ago):
        services.snapshots_recompute(period=period)


def test_leadership_sees_the_four_perspectives_with_value_target_status_and_change(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _completed(LAST_QUARTER.start)
    _completed(LAST_QUARTER.start, late=True)
    _completed(LAST_QUARTER.previous.start)
    services.snapshots_recompute(period=LAST_QUARTER)
    services.snapshots_recompute(period=LAST_QUARTER.previous)
    KpiTarget.objects.create(kpi="timeline_adherence", period_type="quarter", target=55)
    response = client_for(leadership).get("/scorecard/")
    assert response.status_code == 200
    assert response.context["period"] == LAST_QUARTER
    html = response.content.decode()
    for heading in ("Financial", "Customer", "Internal", "Learning &amp; growth"):
        assert heading in html
    line = next(
        line
        for _, lines in response.context["perspectives"]
        for line in lines
        if line.kpi.key == "timeline_adherence"
    )
    assert line.figure.value == 50
    assert line.target.target == 55
    assert line.status == "amber"  # five points short: within the default margin
    assert line.vs_previous == -50


def test_the_status_reads_amber_within_the_margin_and_red_beyond_it() -> None:
    target = KpiTarget(kpi="x", period_type="quarter", target=60, amber_margin=5)
    assert target.status(Decimal(60), higher_is_better=True) == "green"
    assert target.status(Decimal(55), higher_is_better=True) == "amber"
    assert target.status(Decimal("54.9"), higher_is_better=True) == "red"
    assert target.status(Decimal(65), higher_is_better=False) == "amber"
    assert target.status(None, higher_is_better=True) is None


def test_an_empty_kpi_shows_no_data(leadership: User, organisation: OrganisationSettings) -> None:
    services.snapshots_recompute(period=LAST_QUARTER)
    html = client_for(leadership).get("/scorecard/").content.decode()
    assert "no data" in html
    assert "0%" not in html


def test_a_period_not_computed_yet_says_so_and_when_it_will_be(
    leadership: User, organisation: OrganisationSettings
) -> None:
    page = client_for(leadership).get("/scorecard/").content.decode()
    assert f"No figures for {LAST_QUARTER.label}." in page
    services.snapshots_recompute(period=LAST_QUARTER)
    page = client_for(leadership).get("/scorecard/").content.decode()
    assert "No figures for" not in page


def test_switching_the_period_with_htmx_returns_only_the_board(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(1)
    previous = LAST_QUARTER.previous
    response = client_for(leadership).get(
        "/scorecard/",
        {"period_type": "quarter", "start": previous.start.isoformat()},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="board">')
    assert previous.label in html
    assert "<html" not in html


def test_a_breakdown_by_industry_lists_each_industry_under_its_kpi(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(2)
    response = client_for(leadership).get("/scorecard/", {"breakdown": "industry"})
    html = response.content.decode()
    assert "Banking &amp; lending: <strong>0%</strong>" in html
    assert "Retail: <strong>100%</strong>" in html


def test_an_account_manager_sees_the_scorecard_of_the_engagements_they_lead(
    owner: User, organisation: OrganisationSettings
) -> None:
    _completed(LAST_QUARTER.start, lead=owner)
    _completed(LAST_QUARTER.start, late=True)  # someone else's, late
    services.snapshots_recompute(period=LAST_QUARTER)
    response = client_for(owner).get("/scorecard/", {"breakdown": "industry"})
    assert response.status_code == 200
    assert response.context["breakdown"] == ""  # no finer breakdown of their own slice
    line = next(
        line
        for _, lines in response.context["perspectives"]
        for line in lines
        if line.kpi.key == "timeline_adherence"
    )
    assert line.figure.value == 100


def test_people_without_a_scorecard_get_not_found(
    delivery_manager: User, organisation: OrganisationSettings
) -> None:
    hiring = UserFactory.create(roles=[Role.HIRING_MANAGER])
    for user in (delivery_manager, hiring):
        client = client_for(user)
        assert client.get("/scorecard/").status_code == 404
        assert client.get("/scorecard/kpi/revenue/").status_code == 404
        assert client.get("/scorecard/targets/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_sign_in(organisation: OrganisationSettings) -> None:
    response = client_for(None).get("/scorecard/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_scorecard_refuses_a_post(leadership: User) -> None:
    assert client_for(leadership).post("/scorecard/").status_code == 405


def test_the_scorecard_downloads_as_csv(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(1)
    response = client_for(leadership).get("/scorecard/", {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert text.splitlines()[0].startswith("perspective,kpi,value")
    assert "Internal,Timeline adherence,0,0,1,," in text


@pytest.mark.parametrize("count", [1, 6])
def test_the_scorecard_makes_the_same_number_of_queries_for_small_and_larger_data(
    leadership: User,
    organisation: OrganisationSettings,
    count: int,
    django_assert_num_queries: object,
) -> None:
    _build(count)
    client = client_for(leadership)
    client.get("/scorecard/")  # warm the session
    query = {"breakdown": "commercial_lead"}
    # user with the navigation's figures, the organisation's settings, snapshots, targets
    # (drawn each time: inside a transaction nothing is cached)
    for _ in range(2):
        with django_assert_num_queries(4):  # type: ignore[operator]
            assert client.get("/scorecard/", query).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_cached_board_gives_way_to_new_figures_and_targets_at_once(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _completed(LAST_QUARTER.start)
    services.snapshots_recompute(period=LAST_QUARTER)
    client = client_for(leadership)
    client.get("/scorecard/")  # the form token's cookie, as a browser holds after any page
    query = {"period_type": "quarter", "start": LAST_QUARTER.start.isoformat()}

    def adherence() -> str:
        html = client.get("/scorecard/", query).content.decode()
        row = html.split('<tr data-kpi="timeline_adherence">', 1)[1].split("</tr>", 1)[0]
        return " ".join(re.sub(r"<[^>]+>", " ", row).split())

    second = client_for(UserFactory.create(username="second", roles=[Role.SALES_LEADERSHIP]))
    second.get("/scorecard/")
    assert adherence().startswith("Timeline adherence TCP 100% –")
    assert adherence().startswith("Timeline adherence TCP 100% –")  # now from the cache
    # Another person of leadership: their own page, drawn around the first one's board.
    with CaptureQueriesContext(connection) as queries:
        assert "Timeline adherence" in second.get("/scorecard/", query).content.decode()
    assert not [q for q in queries if "scorecard_kpisnapshot" in q["sql"]]
    _completed(LAST_QUARTER.start, late=True)
    services.snapshots_recompute(period=LAST_QUARTER)
    assert adherence().startswith("Timeline adherence TCP 50% –")
    KpiTarget.objects.create(
        kpi="timeline_adherence", period_type="quarter", target=Decimal(90), updated_by=leadership
    )
    assert adherence().startswith("Timeline adherence TCP 50% 90% Off target")


@pytest.mark.django_db(transaction=True)
def test_a_cached_kpi_panel_gives_way_to_new_figures_and_differs_per_slice(
    leadership: User, owner: User, organisation: OrganisationSettings
) -> None:
    _completed(LAST_QUARTER.start)
    _completed(LAST_QUARTER.start, late=True, lead=owner)
    services.snapshots_recompute(period=LAST_QUARTER)
    query = {"period_type": "quarter", "start": LAST_QUARTER.start.isoformat()}

    def figure(user: User) -> str:
        html = client_for(user).get("/scorecard/kpi/timeline_adherence/", query)
        body = html.content.decode().split('id="trend-heading"', 1)[1]
        row = body.split(f'<th scope="row" class="fw-normal">{LAST_QUARTER.label}</th>')
        return " ".join(re.sub(r"<[^>]+>", " ", row[1].split("</tr>", 1)[0]).split())

    assert figure(leadership) == "50% 1 2"
    assert figure(leadership) == "50% 1 2"  # now from the cache
    # The owner sees their own slice (the one engagement they lead), never leadership's.
    assert figure(owner) == "0% 0 1"
    _completed(LAST_QUARTER.start)
    _completed(LAST_QUARTER.start)
    services.snapshots_recompute(period=LAST_QUARTER)
    assert figure(leadership) == "75% 3 4"
    assert figure(owner) == "0% 0 1"


def test_a_kpi_page_shows_trend_breakdown_and_the_engagements_behind_the_figure(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(2)
    response = client_for(leadership).get(
        "/scorecard/kpi/timeline_adherence/",
        {"period_type": "quarter", "start": LAST_QUARTER.start.isoformat()},
    )
    assert response.status_code == 200
    assert [f.value for p, f in response.context["trend"] if p == LAST_QUARTER] == [50]
    breakdown = {label: f.value for _, label, f in response.context["breakdown"]}
    assert breakdown == {"Retail": 100, "Banking & lending": 0}
    # The page reads snapshots only; the engagements come after it, from their own URL.
    rows_url = "/scorecard/kpi/timeline_adherence/engagements/"
    assert f'hx-get="{rows_url}?period_type=quarter' in response.content.decode()
    rows = client_for(leadership).get(
        rows_url, {"period_type": "quarter", "start": LAST_QUARTER.start.isoformat()}
    )
    assert [e.in_numerator for e in rows.context["page"].object_list] == [True, False]
    assert "The engagements behind" in rows.content.decode()


def test_the_engagements_behind_a_kpi_come_as_a_partial_to_htmx_and_as_the_page_without(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(1)
    rows_url = "/scorecard/kpi/timeline_adherence/engagements/"
    partial = client_for(leadership).get(rows_url, headers=HTMX).content.decode()
    assert partial.lstrip().startswith('<section id="kpi-engagements"')
    assert 'id="engagements-table"' in partial
    page = client_for(leadership).get(rows_url).content.decode()
    assert 'id="panel"' in page
    assert 'id="engagements-table"' in page


def test_a_kpi_without_engagements_behind_it_has_no_list_to_fetch(
    leadership: User, organisation: OrganisationSettings
) -> None:
    kpi = next(k for k in KPIS if k.records is None)
    page = client_for(leadership).get(f"/scorecard/kpi/{kpi.key}/").content.decode()
    assert "/engagements/" not in page.split('id="panel"', 1)[1]
    assert client_for(leadership).get(f"/scorecard/kpi/{kpi.key}/engagements/").status_code == 404


def test_a_kpi_page_switches_breakdown_with_htmx(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(1)
    response = client_for(leadership).get(
        "/scorecard/kpi/timeline_adherence/", {"breakdown": "region"}, headers=HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="panel">')
    assert "By region" in html


def test_an_account_manager_sees_only_their_own_engagements_behind_a_figure(
    owner: User, organisation: OrganisationSettings
) -> None:
    mine = _completed(LAST_QUARTER.start, lead=owner)
    _completed(LAST_QUARTER.start, late=True)
    services.snapshots_recompute(period=LAST_QUARTER)
    response = client_for(owner).get("/scorecard/kpi/timeline_adherence/engagements/")
    assert [e.pk for e in response.context["page"].object_list] == [mine.pk]
    assert [f.value for p, f in response.context["trend"] if p == LAST_QUARTER] == [100]


def test_an_unknown_kpi_is_not_found(leadership: User) -> None:
    assert client_for(leadership).get("/scorecard/kpi/nonsense/").status_code == 404


@pytest.mark.parametrize("table", ["trend", "breakdown", "engagements"])
def test_each_kpi_table_downloads_as_csv(
    leadership: User, organisation: OrganisationSettings, table: str
) -> None:
    _build(2)
    response = client_for(leadership).get(
        "/scorecard/kpi/timeline_adherence/", {"format": "csv", "table": table}
    )
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert len(lines) > 1


@pytest.mark.parametrize("count", [1, 6])
def test_the_kpi_page_makes_the_same_number_of_queries_for_small_and_larger_data(
    leadership: User,
    organisation: OrganisationSettings,
    count: int,
    django_assert_num_queries: object,
) -> None:
    _build(count)
    client = client_for(leadership)
    client.get("/scorecard/")
    query = {"breakdown": "industry"}
    # the user with the navigation's figures, then snapshots only: trend and breakdown
    # (drawn each time: inside a transaction nothing is cached)
    for _ in range(2):
        with django_assert_num_queries(3):  # type: ignore[operator]
            response = client.get("/scorecard/kpi/timeline_adherence/", query)
            assert response.status_code == 200
    # … and the list behind them: the same, the organisation's settings, count and page
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.get("/scorecard/kpi/timeline_adherence/engagements/", headers=HTMX)
        assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/scorecard/kpi/timeline_adherence/trend.svg",
        "/scorecard/kpi/timeline_adherence/breakdown.svg",
        "/scorecard/kpi/timeline_adherence/sparkline.svg",
    ],
)
def test_charts_are_svg_drawn_on_the_server(
    leadership: User, organisation: OrganisationSettings, url: str
) -> None:
    _build(1)
    response = client_for(leadership).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content


def test_leadership_sets_a_target_and_it_is_audited(leadership: User) -> None:
    response = client_for(leadership).post(
        "/scorecard/targets/",
        {"kpi": "win_rate", "period_type": "quarter", "target": "40", "amber_margin": "5"},
    )
    assert response.status_code == 302
    target = KpiTarget.objects.get()
    assert (target.kpi, target.target, target.updated_by) == ("win_rate", 40, leadership)
    assert AuditLogEntry.objects.filter(action="kpi_target.set").count() == 1


def test_a_bad_target_is_refused_beside_the_field_and_nothing_changes(leadership: User) -> None:
    KpiTarget.objects.create(kpi="win_rate", period_type="quarter", target=30)
    response = client_for(leadership).post(
        "/scorecard/targets/",
        {"kpi": "win_rate", "period_type": "quarter", "target": "40", "amber_margin": "-1"},
    )
    assert response.status_code == 400
    assert "amber_margin" in response.context["rows"][0][1].errors or any(
        form.errors.get("amber_margin") for _, form in response.context["rows"]
    )
    assert KpiTarget.objects.get().target == 30
    assert not AuditLogEntry.objects.exists()


def test_an_account_manager_cannot_set_targets(owner: User) -> None:
    response = client_for(owner).post(
        "/scorecard/targets/",
        {"kpi": "win_rate", "period_type": "quarter", "target": "40", "amber_margin": "5"},
    )
    assert response.status_code == 404
    assert not KpiTarget.objects.exists()


def test_the_targets_page_lists_every_kpi(leadership: User) -> None:
    response = client_for(leadership).get("/scorecard/targets/", {"period_type": "year"})
    assert response.status_code == 200
    assert len(response.context["rows"]) == len(services.KPIS)
    assert client_for(leadership).delete("/scorecard/targets/").status_code == 405


def test_an_administrator_recomputes_now_and_sees_the_progress(
    administrator: User,
    organisation: OrganisationSettings,
    django_capture_on_commit_callbacks: object,
) -> None:
    _completed(LAST_QUARTER.start)
    client = client_for(administrator)
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        response = client.post("/scorecard/recompute/", headers=HTMX)
    assert response.status_code == 200
    assert "Recomputing" in response.content.decode()
    assert len(callbacks) == 1  # the job is queued once the request commits
    scorecard_recompute_now()  # what the worker runs
    assert KpiSnapshot.objects.filter(
        kpi="timeline_adherence", period_type="quarter", period_start=LAST_QUARTER.start
    ).exists()
    status = client.get("/scorecard/recompute/status/").content.decode()
    periods = len(services.all_periods())
    assert f"Recomputed every KPI for {periods} periods" in status
    assert 'value="12" max="12"' in status  # every step of the rollup, and the write


def test_only_administrators_may_recompute(leadership: User) -> None:
    assert client_for(leadership).post("/scorecard/recompute/").status_code == 404
    assert client_for(leadership).get("/scorecard/recompute/status/").status_code == 404


def test_period_and_window_helpers_pick_the_last_complete_period() -> None:
    assert services.default_period("quarter", dt.date(2026, 11, 22)) == Period.of(
        "quarter", dt.date(2026, 7, 1)
    )


def test_the_navigation_links_the_scorecard_for_leadership_and_account_managers_only(
    leadership: User, owner: User, delivery_manager: User
) -> None:
    link = 'href="/scorecard/">Scorecard</a>'
    assert link in client_for(leadership).get("/").text
    assert link in client_for(owner).get("/").text
    assert link not in client_for(delivery_manager).get("/").text


def test_the_period_selects_name_the_period_on_screen_and_bad_input_falls_back(
    leadership: User, organisation: OrganisationSettings
) -> None:
    client = client_for(leadership)
    html = client.get("/scorecard/").text
    assert f'<option value="{LAST_QUARTER.start.isoformat()}" selected>' in html
    response = client.get("/scorecard/", {"period_type": "fortnight", "start": "soon"})
    assert response.status_code == 200
    assert response.context["period"] == LAST_QUARTER
    month = client.get("/scorecard/", {"period_type": "month", "start": "2019-05-17"})
    assert month.context["period"] == Period.of("month", dt.date(2019, 5, 1))
    assert '<option value="2019-05-01" selected>May 2019</option>' in month.text


@pytest.mark.parametrize("kpi", [k for k in KPIS if k.records is not None], ids=lambda k: k.key)
def test_every_kpi_lists_and_exports_the_engagements_behind_it(
    leadership: User, organisation: OrganisationSettings, kpi: Kpi
) -> None:
    _build(1)
    client = client_for(leadership)
    query = {"period_type": "quarter", "start": LAST_QUARTER.start.isoformat()}
    rows = client.get(f"/scorecard/kpi/{kpi.key}/engagements/", query)
    assert rows.status_code == 200
    export = client.get(
        f"/scorecard/kpi/{kpi.key}/", {**query, "format": "csv", "table": "engagements"}
    )
    assert export.status_code == 200
    lines = export.content.decode().splitlines()
    assert lines[0] == "engagement,account,commercial lead,in numerator"
    assert len(lines) - 1 == rows.context["page"].paginator.count


def test_a_hand_edited_breakdown_keeps_the_period_the_link_names(leadership: User) -> None:
    month = Period.of("month", LAST_QUARTER.start)
    query = {"period_type": "month", "start": month.start.isoformat(), "breakdown": "colour"}
    client = client_for(leadership)

    for url in ("/scorecard/", "/scorecard/kpi/win_rate/"):
        response = client.get(url, query)
        assert response.status_code == 200
        assert response.context["period"] == month
        assert f'<option value="{month.start.isoformat()}" selected>' in response.content.decode()
