"""Discovery, certification and scorecard through the API, with the pages' rules."""

from __future__ import annotations

import pytest
from django.utils import timezone

from certification.services import enrollment_open
from discovery.models import ClientIntelligenceProfile, FailureCostAnalysis
from engagements.models import Account, Engagement
from scorecard.models import KpiSnapshot
from tcp.models import User
from tests.api.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_the_profile_is_read_and_changed_by_the_account_team(
    owner: User, outsider: User, account: Account
) -> None:
    ClientIntelligenceProfile.objects.create(account=account)
    url = f"/api/v1/client-intelligence-profiles/{account.uuid}/"
    api = api_client_for(owner)
    read = api.get(url)
    assert read.status_code == 200
    assert read.json()["missing"]
    changed = api.patch(
        url,
        {"business_context": "Regional imaging network"},
        format="json",
        HTTP_IF_MATCH=read.headers["ETag"],
    )
    assert changed.status_code == 200
    assert ClientIntelligenceProfile.objects.get().business_context == "Regional imaging network"
    assert api_client_for(outsider).get(url).status_code == 404


def test_an_analysis_is_started_through_the_api_and_the_summary_says_what_is_missing(
    owner: User, engagement: Engagement
) -> None:
    api = api_client_for(owner)
    created = api.post(
        "/api/v1/failure-cost-analyses/",
        {"engagement": str(engagement.uuid), "interviewer": owner.username, "title": "Ops"},
        format="json",
    )
    assert created.status_code == 201
    assert FailureCostAnalysis.objects.get().engagement == engagement
    summary = api.get(f"/api/v1/discovery-summaries/{engagement.uuid}/").json()
    assert summary["complete"] is False
    assert summary["analyses"] == 1
    assert summary["completed_analyses"] == 0
    assert any("Failure-Cost Analysis" in m for m in summary["missing"])


def test_a_complete_discovery_reads_complete(owner: User, discovered: Engagement) -> None:
    summary = api_client_for(owner).get(f"/api/v1/discovery-summaries/{discovered.uuid}/")
    assert summary.json()["complete"] is True
    assert summary.json()["missing"] == []


def test_certification_status_is_ones_own_or_everyones_for_leadership(
    owner: User, outsider: User, leadership: User
) -> None:
    enrollment_open(person=owner, actor=None, on=timezone.localdate())
    own = api_client_for(owner).get("/api/v1/certification-enrollments/").json()["results"]
    assert [row["person"] for row in own] == ["owner"]
    assert own[0]["status"] == "on_track"
    everyone = api_client_for(leadership).get("/api/v1/certification-enrollments/").json()
    assert "owner" in [row["person"] for row in everyone["results"]]
    theirs = api_client_for(outsider).get("/api/v1/certification-enrollments/").json()
    assert "owner" not in [row["person"] for row in theirs["results"]]


def test_kpi_snapshots_and_tcp_impact_are_for_leadership_only(
    owner: User, leadership: User
) -> None:
    KpiSnapshot.objects.create(
        kpi="deal_scope_accuracy",
        period_type="quarter",
        period_start="2025-01-01",
        numerator=8,
        denominator=10,
        value="80.0000",
    )
    rows = api_client_for(leadership).get("/api/v1/kpi-snapshots/?kpi=deal_scope_accuracy")
    assert [r["value"] for r in rows.json()["results"]] == ["80.0000"]
    assert api_client_for(owner).get("/api/v1/kpi-snapshots/").json()["results"] == []
    impact = api_client_for(leadership).get("/api/v1/tcp-impact/")
    assert impact.status_code == 200
    assert {line["kpi"] for line in impact.json()["lines"]} >= {"deal_scope_accuracy"}
    assert api_client_for(owner).get("/api/v1/tcp-impact/").status_code == 404
    bad = api_client_for(leadership).get("/api/v1/kpi-snapshots/?kpi=nonsense")
    assert bad.status_code == 400


def test_the_discovery_summary_list_makes_the_same_queries_for_one_engagement_and_twenty(
    leadership: User, discovered: Engagement
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import EngagementFactory

    api = api_client_for(leadership)
    api.get("/api/v1/discovery-summaries/")  # the token's last-used stamp is written once a minute
    counts = []
    for extra in (0, 19):
        EngagementFactory.create_batch(extra, account=discovered.account)
        with CaptureQueriesContext(connection) as ctx:
            rows = api.get("/api/v1/discovery-summaries/").json()["results"]
        assert len(rows) == 1 + extra
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    complete = {row["id"]: row["complete"] for row in rows}
    assert complete[str(discovered.uuid)] is True
    assert list(complete.values()).count(True) == 1
