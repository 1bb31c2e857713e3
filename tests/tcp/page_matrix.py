"""The world the page matrix (tests/tcp/test_page_matrix.py) asks its questions about.

Two sides of the organisation, each with one of everything a URL can name: "ours" is the
account the owner sits on (its engagement led by the owner and delivered by the delivery
manager, the owner reporting to the delivery manager and sitting on one hiring panel);
"theirs" is the outsider's, which none of the owner's people can reach. Around them the
people of each role, and the rules saying which side each of them may reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone

from certification.models import Module, ModuleResult, Reminder
from discovery.models import (
    GrowthTarget,
    NeverEvent,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from engagements import services as engagement_services
from engagements.models import (
    ActivityKind,
    AdoptionStep,
    NextStep,
    PostSaleActivity,
    StageChange,
    SuccessMetric,
    SuccessPlan,
)
from hiring.models import DiscProfile, Question
from scorecard.models import KpiTarget
from tcp.models import AuditLogEntry, Notification, OrganisationSettings, Role, User
from tcp.services import api_token_create
from tests.api.test_role_matrix import BOTH, NEITHER, ROLES, SIDES
from tests.api.test_role_matrix import build_world as api_world
from tests.factories import (
    ScenarioFactory,
    UserFactory,
)

OURS = frozenset({"ours"})
THEIRS = frozenset({"theirs"})


def _rule(**sides: frozenset[str]) -> dict[str, frozenset[str]]:
    return {role: sides.get(role, NEITHER) for role in ROLES}


_OVERSIGHT = {"leadership": BOTH, "administrator": BOTH}

# Which side each role may reach, by rule. A route with no object in its URL is reached by a
# role whose set is not empty.
RULES: dict[str, dict[str, frozenset[str]]] = {
    "signed in": _rule(**dict.fromkeys(ROLES, BOTH)),
    # Whoever sees the account or the engagement: its team, its lead and delivery manager.
    "account": _rule(owner=OURS, outsider=THEIRS, delivery_manager=OURS, **_OVERSIGHT),
    # Whoever may change it: a commercial seat on the account team, or its commercial lead.
    "account edit": _rule(owner=OURS, outsider=THEIRS, **_OVERSIGHT),
    # Whoever keeps the engagement's delivery record (never the commercial lead).
    "delivery": _rule(delivery_manager=OURS, **_OVERSIGHT),
    "success plan edit": _rule(owner=OURS, outsider=THEIRS, delivery_manager=OURS, **_OVERSIGHT),
    "commercial": _rule(owner=BOTH, outsider=BOTH, **_OVERSIGHT),
    "oversight": _rule(**_OVERSIGHT),
    "administrator": _rule(administrator=BOTH),
    "own token": _rule(owner=OURS, outsider=THEIRS),
    # The two people in a 1:1 and, without its career notes, oversight roles.
    "meeting": _rule(owner=OURS, outsider=THEIRS, delivery_manager=OURS, **_OVERSIGHT),
    "meeting party": _rule(owner=OURS, outsider=THEIRS, delivery_manager=OURS),
    "meeting manager": _rule(delivery_manager=OURS),
    "manages someone": _rule(delivery_manager=BOTH),
    "enrollment": _rule(owner=OURS, outsider=THEIRS, delivery_manager=OURS, **_OVERSIGHT),
    "certification team": _rule(delivery_manager=BOTH, **_OVERSIGHT),
    "assessor": _rule(**_OVERSIGHT),
    # Hiring: managers see every opening; a panel member the ones they sit on.
    "hiring": _rule(owner=OURS, hiring_manager=BOTH, administrator=BOTH),
    "hiring manager": _rule(hiring_manager=BOTH, administrator=BOTH),
    "panel": _rule(owner=OURS),
    "staff": _rule(administrator=BOTH),
    "nobody": _rule(),
}


@dataclass
class Side:
    """One of everything a URL can name, on one side."""

    account: Any
    seat: Any
    contact: Any
    engagement: Any
    document: Any
    scope_item: Any
    scope_change: Any
    milestone: Any
    plan: Any
    step: Any
    metric: Any
    activity: Any
    meeting: Any
    opportunity: Any
    temperature: Any
    next_step: Any
    profile: Any
    growth_target: Any
    analysis: Any
    scenario: Any
    constraint: Any
    alternative: Any
    line: Any
    token: Any
    enrollment: Any
    result: Any
    reminder: Any
    opening: Any
    job_profile: Any
    attribute: Any
    planned: Any
    candidate: Any
    product: Any
    revenue: Any
    rating: Any
    stage_change: Any
    snapshot: Any
    notification: Any


@dataclass
class World:
    users: dict[str, User]
    sides: dict[str, Side]
    singles: dict[str, Any]

    def __getitem__(self, side: str) -> Side:
        return self.sides[side]


def _people(users: dict[str, User]) -> dict[str, User]:
    """The API matrix's people, with the relations the pages ask about."""
    mentor = UserFactory.create(username="mentor", roles=[Role.ACCOUNT_MANAGER])
    # The owner reports to the delivery manager; the outsider to a person of no role under test.
    for report, manager in (("owner", users["delivery_manager"]), ("outsider", mentor)):
        users[report].manager = manager
        users[report].save(update_fields=["manager"])
    # As the demo organisation has them: the back office is the administrator's to run.
    users["administrator"].is_superuser = True
    users["administrator"].save(update_fields=["is_superuser"])
    return {**users, "mentor": mentor}


def _side(side: str, users: dict[str, User], records: dict[str, Any]) -> Side:
    """The API matrix's records of one side (`records`), and the rest the pages name."""
    lead = users["owner" if side == "ours" else "outsider"]
    manager = users["delivery_manager" if side == "ours" else "mentor"]
    today = timezone.localdate()
    account, engagement = records["accounts"], records["engagements"]
    analysis = records["failure-cost-analyses"]
    scenario = ScenarioFactory.create(analysis=analysis)
    constraint = NeverEvent.objects.create(engagement=engagement, statement="Scans are lost")
    constraint.scenarios.add(scenario)
    comparison = TcoComparison.objects.create(engagement=engagement)
    alternative = TcoAlternative.objects.create(
        comparison=comparison, kind="competitor", name=f"Rival {side}"
    )
    plan = SuccessPlan.objects.create(engagement=engagement, business_outcome="Faster reads")
    metric = SuccessMetric.objects.create(
        plan=plan, name="Report turnaround", baseline=Decimal(48), target=Decimal(24)
    )
    meeting = engagement_services.one_on_one_create(
        manager=manager, seller=lead, held_on=today, actor=manager
    )
    token, _raw = api_token_create(user=lead, name=f"CRM {side}", actor=None)
    enrollment = records["certification-enrollments"]
    result = ModuleResult.objects.create(
        enrollment=enrollment,
        module=Module.objects.filter(curriculum=enrollment.curriculum).order_by("pk")[0],
        score=80,
        passed=True,
        assessed_on=today,
        assessor=users["leadership"],
    )
    result.evidence_file.save(f"evidence-{side}.txt", ContentFile(b"Workshop notes"))
    candidate = records["hiring-candidates"]
    opening = candidate.opening
    if side == "ours":
        opening.panel.add(lead)
    candidate.cv.save(f"cv-{side}.txt", ContentFile(b"Twenty years of imaging"))
    DiscProfile.objects.create(
        candidate=candidate, dominance=60, influence=50, steadiness=40, conscientiousness=70
    )
    profile = records["client-intelligence-profiles"]
    return Side(
        account=account,
        seat=records["account-team-members"],
        contact=records["contacts"],
        engagement=engagement,
        document=records["documents"],
        scope_item=records["scope-items"],
        scope_change=records["scope-changes"],
        milestone=records["milestones"],
        plan=plan,
        step=AdoptionStep.objects.create(
            plan=plan, description="Train the radiologists", owner="client", due_on=today
        ),
        metric=metric,
        activity=PostSaleActivity.objects.create(
            plan=plan, kind=ActivityKind.INFORMATION, on=today, description="Kick-off", by=lead
        ),
        meeting=meeting,
        opportunity=meeting.opportunities.get(),
        temperature=meeting.temperatures.get(),
        next_step=NextStep.objects.create(meeting=meeting, description="Call back", due_on=today),
        profile=profile,
        growth_target=GrowthTarget.objects.create(
            profile=profile,
            metric="Daily reads",
            baseline=Decimal(100),
            target=Decimal(200),
            horizon_year=today.year + 4,
        ),
        analysis=analysis,
        scenario=scenario,
        constraint=constraint,
        alternative=alternative,
        line=TcoCostLine.objects.create(
            alternative=alternative, category="purchase", amount=Decimal(1000)
        ),
        token=token,
        enrollment=enrollment,
        result=result,
        reminder=Reminder.objects.create(
            enrollment=enrollment, queued_on=today, subject="Module due", body="Soon."
        ),
        opening=opening,
        job_profile=opening.profile,
        attribute=opening.profile.attributes.order_by("pk").first(),
        planned=opening.profile.plan.order_by("pk").first(),
        candidate=candidate,
        product=records["products"],
        revenue=records["revenue-entries"],
        rating=records["client-ratings"],
        stage_change=StageChange.objects.create(
            engagement=engagement, to_stage="discovery", on=today, by=lead
        ),
        snapshot=records["kpi-snapshots"],
        notification=Notification.objects.create(
            recipient=lead, message=f"Hello {side}", dedupe_key=f"hello-{side}"
        ),
    )


def build_world() -> World:
    # The API matrix's world, so the pages and the API are asked about the same records.
    api = api_world()
    users = _people(api.users)
    sides = {side: _side(side, users, api.records[side]) for side in SIDES}
    visit = {
        "user_agent": "Firefox",
        "ip_address": "192.0.2.1",
        "username": "someone",
        "http_accept": "*/*",
        "path_info": "/login/",
    }
    singles = {
        "group": Group.objects.create(name="Reviewers"),
        "attempt": AccessAttempt.objects.create(
            **visit, get_data="", post_data="", failures_since_start=1
        ),
        "access": AccessLog.objects.create(**visit),
        "failure": AccessFailureLog.objects.create(**visit),
        "organisation": OrganisationSettings.load(),
        "audit": AuditLogEntry.objects.order_by("pk").first(),
        "question": Question.objects.order_by("pk").first(),
        "target": KpiTarget.objects.create(kpi="revenue", period_type="quarter", target=100),
    }
    return World(users=users, sides=sides, singles=singles)
