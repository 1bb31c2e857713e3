"""Audit completeness: every write path of engagements, discovery, scope, attendance,
certification results and hiring decisions leaves its audit record (who, what, old → new) in
the transaction of the change.

WRITE_PATHS is the walk: each path performs one write as a real person through the real
entry point (a page form or an htmx save through the test client, the API with a token,
the back office, a Celery task) and says which audit entries must appear. The tests at the
end compare the table with the URLconf, the OpenAPI schema, the admin registry and the
Celery registry, so a new write path fails here until it is walked (or named, with a
reason, as not of an audited kind).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.db.models import Max, Model
from django.db.models.expressions import RawSQL
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from certification import services as certification_services
from certification.models import Enrollment, Module, ModuleResult
from discovery import services as discovery_services
from discovery.forms import (
    AnalysisForm,
    CostLineForm,
    GrowthTargetForm,
    NeverEventForm,
    ProfileForm,
    ScenarioForm,
    TcoForm,
)
from discovery.models import (
    ClientIntelligenceProfile,
    FailureCostAnalysis,
    FailureScenario,
    GrowthTarget,
    NeverEvent,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from engagements import services as engagement_services
from engagements.forms import EngagementForm, MilestoneForm, ScopeChangeForm, ScopeItemForm
from engagements.models import (
    Account,
    AccountTeamMember,
    Contact,
    Engagement,
    Milestone,
    ScopeChange,
    ScopeItem,
    Stage,
)
from hiring import services as hiring_services
from hiring.models import Candidate, Opening, PlannedQuestion
from hiring.models import Stage as CandidateStage
from tcp.celery import app as celery_app
from tcp.models import AuditLogEntry, Role, User
from tcp.services import api_token_create
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EngagementFactory,
    ScenarioFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
)
from tests.figures import figure_add

HTMX = {"HX-Request": "true"}
TODAY = dt.date.today


# The people and records a path writes to, made on first use --------------------------------


class World:
    """The personas around one account (tests/conftest.py's, plus a hiring manager, a panel
    and an assessor) and the records each path starts from."""

    @cached_property
    def owner(self) -> User:
        return UserFactory.create(username="owner", roles=[Role.ACCOUNT_MANAGER])

    @cached_property
    def delivery_manager(self) -> User:
        return UserFactory.create(username="delivery", roles=[Role.DELIVERY_MANAGER])

    @cached_property
    def leadership(self) -> User:
        return UserFactory.create(username="leader", roles=[Role.SALES_LEADERSHIP])

    @cached_property
    def administrator(self) -> User:
        return UserFactory.create(
            username="admin", roles=[Role.ADMINISTRATOR], is_staff=True, is_superuser=True
        )

    @cached_property
    def hiring_manager(self) -> User:
        return UserFactory.create(username="hiring", roles=[Role.HIRING_MANAGER])

    @cached_property
    def panelist(self) -> User:
        return UserFactory.create(username="panel", roles=[Role.DELIVERY_MANAGER])

    @cached_property
    def account(self) -> Any:
        account = AccountFactory.create(name="Northvale Radiology Network")
        TeamMemberFactory.create(account=account, user=self.owner, role="account_manager")
        return account

    def new_engagement(self, **values: Any) -> Engagement:
        return EngagementFactory.create(
            account=self.account,
            commercial_lead=self.owner,
            delivery_manager=self.delivery_manager,
            **values,
        )

    @cached_property
    def engagement(self) -> Engagement:
        """In discovery, discovery not yet done."""
        return self.new_engagement(name="PACS migration")

    @cached_property
    def discovered(self) -> Engagement:
        """In discovery, with its discovery complete (it may enter the proposal stage)."""
        engagement = self.new_engagement(name="Archive consolidation")
        complete_discovery(engagement)
        return engagement

    @cached_property
    def delivering(self) -> Engagement:
        """In delivery: 100 days contracted, signed on 1 March 2024."""
        engagement = self.new_engagement(name="Reporting rollout")
        Engagement.objects.filter(pk=engagement.pk).update(
            stage=Stage.DELIVERY,
            value=Decimal("300000"),
            contracted_effort_days=Decimal("100.0"),
            opened_on=dt.date(2024, 1, 15),
            proposal_on=dt.date(2024, 2, 1),
            contract_signed_on=dt.date(2024, 3, 1),
            contracted_start=dt.date(2024, 3, 15),
            contracted_end=dt.date(2024, 12, 20),
        )
        engagement.refresh_from_db()
        return engagement

    @cached_property
    def scope_item(self) -> ScopeItem:
        return engagement_services.scope_item_save(
            engagement=self.engagement, actor=None, data={"title": "Build", "estimated_days": 10}
        )

    @cached_property
    def scope_change(self) -> ScopeChange:
        return engagement_services.scope_change_save(
            engagement=self.delivering,
            actor=None,
            data={
                "effort_delta_days": Decimal("6"),
                "cause": "scoping_miss",
                "approved_by": self.delivery_manager,
                "approved_on": dt.date(2024, 5, 1),
            },
        )

    @cached_property
    def milestone(self) -> Milestone:
        return engagement_services.milestone_save(
            engagement=self.delivering,
            actor=None,
            data={"kind": "architecture_review", "planned_on": dt.date(2024, 4, 10)},
        )

    @cached_property
    def profile(self) -> ClientIntelligenceProfile:
        return discovery_services.profile_get_or_create(account=self.account, actor=None)

    @cached_property
    def target(self) -> GrowthTarget:
        return discovery_services.growth_target_save(
            profile=self.profile,
            actor=None,
            data={
                "metric": "Daily orders",
                "baseline": Decimal(3500),
                "target": Decimal(7000),
                "horizon_year": timezone.localdate().year + 4,
            },
        )

    @cached_property
    def analysis(self) -> FailureCostAnalysis:
        """A draft interview with one quantified scenario (it may be completed)."""
        analysis = discovery_services.fca_create(
            engagement=self.engagement,
            actor=None,
            data={"title": "Failure-Cost Analysis", "held_on": TODAY(), "interviewer": self.owner},
        )
        ScenarioFactory.create(analysis=analysis, what_fails="Reporting stops")
        analysis.refresh_from_db()
        return analysis

    @cached_property
    def scenario(self) -> FailureScenario:
        return self.analysis.scenarios.get()

    @cached_property
    def completed(self) -> FailureCostAnalysis:
        discovery_services.fca_complete(analysis=self.analysis, actor=None)
        self.analysis.refresh_from_db()
        return self.analysis

    @cached_property
    def constraint(self) -> NeverEvent:
        return discovery_services.never_event_save(
            engagement=self.engagement,
            actor=None,
            data={"statement": "Reports never go missing", "scenarios": [self.scenario]},
        )

    @cached_property
    def tco(self) -> TcoComparison:
        comparison = discovery_services.tco_get_or_create(engagement=self.engagement, actor=None)
        comparison.engagement = self.engagement
        return comparison

    @cached_property
    def competitor(self) -> TcoAlternative:
        return discovery_services.alternative_save(
            comparison=self.tco, actor=None, data={"name": "Incumbent vendor"}
        )

    @cached_property
    def ours(self) -> TcoAlternative:
        return self.tco.alternatives.get(kind="ours")

    @cached_property
    def cost_line(self) -> TcoCostLine:
        return discovery_services.cost_line_save(
            alternative=self.ours,
            actor=None,
            data={"category": "purchase", "amount": Decimal("1000"), "assumption": "List price"},
        )

    @cached_property
    def enrollment(self) -> Enrollment:
        certification_services.curriculum_install_default()
        person = UserFactory.create(username="alex", roles=[Role.ACCOUNT_MANAGER])
        start = timezone.localdate() - dt.timedelta(days=30)
        return certification_services.enrollment_open(person=person, actor=None, on=start)

    @cached_property
    def module(self) -> Module:
        return Module.objects.filter(curriculum=self.enrollment.curriculum).order_by("month")[0]

    @cached_property
    def result(self) -> ModuleResult:
        return certification_services.module_result_record(
            enrollment=self.enrollment,
            module=self.module,
            score=self.module.pass_mark,
            assessed_on=timezone.localdate(),
            assessor=self.leadership,
        )

    @cached_property
    def opening(self) -> Opening:
        profile = hiring_services.profile_create_starter(actor=self.hiring_manager)
        return hiring_services.opening_create(
            title="Technical seller",
            profile=profile,
            role=Role.ACCOUNT_MANAGER,
            hiring_manager=self.hiring_manager,
            panel=[self.panelist],
            actor=self.hiring_manager,
        )

    def candidate(self, stage: str = CandidateStage.SCREENING) -> Candidate:
        candidate = hiring_services.candidate_add(
            opening=self.opening,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.org",
            actor=self.hiring_manager,
        )
        Candidate.objects.filter(pk=candidate.pk).update(stage=stage)
        candidate.refresh_from_db()
        return candidate


def page(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user: User) -> APIClient:
    _, raw = api_token_create(user=user, name="audit walk", actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def form_data(form: forms.BaseForm, **changes: Any) -> dict[str, Any]:
    """What the page's form sends as it is shown (its initial values, under its prefix),
    with `changes` typed over it."""
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if value is True:
            value = "on"
        data[form.add_prefix(name)] = (
            [str(v) for v in value] if isinstance(value, list | tuple) else str(value)
        )
    for name, value in changes.items():
        data[form.add_prefix(name)] = value
    return data


def ok(response: Any, *codes: int) -> Any:
    """The write was accepted (a redirect, or the htmx/API reply)."""
    assert response.status_code in (codes or (200, 201, 204, 302)), (
        response.status_code,
        getattr(response, "content", b"")[:2000],
    )
    return response


# What a path must leave -------------------------------------------------------------------


@dataclass
class Audited:
    """One audit entry: its action, the record it is on, who made it, and the values
    `changes` must hold (`[old, new]` for a changed field)."""

    action: str
    on: Model
    actor: User | None
    changes: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""

    def __post_init__(self) -> None:
        # Taken now: a deleted record loses its primary key.
        self.object_type = self.on._meta.label_lower
        self.object_id = str(self.on.pk)


# A path: set up, yield (the count starts there), write, return the entries expected.
Walk = Generator[None, None, list[Audited]]


@dataclass(frozen=True)
class WritePath:
    route: str  # what the self-checks below compare with the URLconf, schema and registries
    kind: str
    write: Callable[[World], Walk]
    name: str

    def __str__(self) -> str:
        return self.name


WRITE_PATHS: list[WritePath] = []


def walks(route: str, kind: str, name: str = "") -> Callable[..., Any]:
    def register(write: Callable[[World], Walk]) -> Callable[[World], Walk]:
        WRITE_PATHS.append(WritePath(route, kind, write, name or route))
        return write

    return register


def page_route(name: str) -> str:
    return f"page {name}"


def api_route(method: str, path: str) -> str:
    return f"api {method} {path}"


def admin_route(model: type[Model], operation: str) -> str:
    return f"admin {model._meta.label_lower} {operation}"


# Engagements: pages ------------------------------------------------------------------------
#
# Each path is a generator: what it does before its `yield` is the setup (the records and
# the signed-in client it starts from, audited by their own services); the count of audit
# entries starts at the `yield`, and the path returns the entries its write must leave.


@walks(page_route("engagements:engagement_create"), "engagement")
def _(w: World) -> Walk:
    client, account = page(w.owner), w.account
    form = EngagementForm(initial={"commercial_lead": w.owner})
    data = form_data(form, name="Cardiology PACS", value="120000", opened_on="2024-06-03")
    yield
    ok(client.post(reverse("engagements:engagement_create", args=[account.uuid]), data), 302)
    made = Engagement.objects.get(name="Cardiology PACS")
    return [Audited("engagement.create", made, w.owner, {"stage": "discovery"})]


@walks(page_route("engagements:engagement_edit"), "engagement")
def _(w: World) -> Walk:
    client, engagement = page(w.owner), w.engagement
    data = form_data(EngagementForm(instance=engagement), value="275000")
    yield
    ok(client.post(reverse("engagements:engagement_edit", args=[engagement.uuid]), data), 302)
    return [Audited("engagement.update", engagement, w.owner, {"value": ["250000", "275000"]})]


@walks(page_route("engagements:engagement_advance"), "engagement")
def _(w: World) -> Walk:
    client, engagement = page(w.owner), w.discovered
    url = reverse("engagements:engagement_advance", args=[engagement.uuid])
    yield
    ok(client.post(url, {"to_stage": "proposal", "on": str(TODAY())}, headers=HTMX), 200)
    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL
    return [Audited("engagement.stage", engagement, w.owner, {"stage": ["discovery", "proposal"]})]


# Scope, milestones and attendance: pages (the delivery page's inline rows) -----------------


def _delivery_url(name: str, engagement: Engagement, *pk: int) -> str:
    return reverse(f"engagements:{name}", args=[engagement.uuid, *pk])


@dataclass(frozen=True)
class Rows:
    """A section of the delivery page's inline rows (scope items, scope changes,
    milestones): added, saved with htmx and deleted by `who`, each audited in the
    engagement's history."""

    name: str  # the URL names: `<name>s`, `<name>` and `<name>_delete`
    prefix: str  # the forms' prefix: `<prefix>-new`, `<prefix>-<pk>`
    kind: str
    form: type[forms.ModelForm]
    who: Callable[[World], User]
    engagement: Callable[[World], Engagement]
    existing: Callable[[World], Any]
    new: Callable[[World], dict[str, str]]  # the add form's fields
    created: dict[str, Any]  # what the create entry holds
    change: tuple[str, Any, Any]  # a field, its value in `existing`, and the new value


def _row_paths(rows: Rows) -> None:
    action = rows.name

    @walks(page_route(f"engagements:{rows.name}s"), rows.kind)
    def create(w: World) -> Walk:
        client, engagement = page(rows.who(w)), rows.engagement(w)
        data = {f"{rows.prefix}-new-{k}": v for k, v in rows.new(w).items()}
        yield
        ok(client.post(_delivery_url(f"{rows.name}s", engagement), data), 302)
        return [Audited(f"{action}.create", engagement, rows.who(w), rows.created)]

    @walks(page_route(f"engagements:{rows.name}"), rows.kind)
    def change(w: World) -> Walk:
        client, engagement, row = page(rows.who(w)), rows.engagement(w), rows.existing(w)
        field_name, old, new = rows.change
        form = rows.form(instance=row, prefix=f"{rows.prefix}-{row.pk}")
        url = _delivery_url(rows.name, engagement, row.pk)
        yield
        ok(client.post(url, form_data(form, **{field_name: new}), headers=HTMX), 200)
        return [Audited(f"{action}.update", engagement, rows.who(w), {field_name: [old, new]})]

    @walks(page_route(f"engagements:{rows.name}_delete"), rows.kind)
    def delete(w: World) -> Walk:
        client, engagement, row = page(rows.who(w)), rows.engagement(w), rows.existing(w)
        row.refresh_from_db()  # as the page shows it (a stored decimal reads "6.0")
        item = str(row)
        yield
        ok(client.post(_delivery_url(f"{rows.name}_delete", engagement, row.pk)), 302)
        return [Audited(f"{action}.delete", engagement, rows.who(w), {"item": item})]


_row_paths(
    Rows(
        "scope_item",
        "scope-item",
        "scope",
        ScopeItemForm,
        who=lambda w: w.owner,
        engagement=lambda w: w.engagement,
        existing=lambda w: w.scope_item,
        new=lambda w: {"title": "Migrate archive", "estimated_days": "12"},
        created={"item": "Migrate archive"},
        change=("estimated_days", "10", "14"),
    )
)
_row_paths(
    Rows(
        "scope_change",
        "scope-change",
        "scope",
        ScopeChangeForm,
        who=lambda w: w.delivery_manager,
        engagement=lambda w: w.delivering,
        existing=lambda w: w.scope_change,
        new=lambda w: {
            "effort_delta_days": "4",
            "cause": "client_request",
            "approved_by": str(w.delivery_manager.pk),
            "approved_on": "2024-05-02",
        },
        created={"effort_delta_days": "4"},
        change=("effort_delta_days", "6", "8"),
    )
)
_row_paths(
    Rows(
        "milestone",
        "milestone",
        "attendance",
        MilestoneForm,
        who=lambda w: w.delivery_manager,
        engagement=lambda w: w.delivering,
        existing=lambda w: w.milestone,
        new=lambda w: {
            "kind": "discovery_workshop",
            "title": "Kick-off",
            "planned_on": "2024-04-02",
        },
        created={"title": "Kick-off"},
        change=("planned_on", "2024-04-10", "2024-04-17"),
    )
)


def _team(engagement: Engagement) -> list[User]:
    return [seat.person for seat in engagement_services.engagement_team(engagement)]


@walks(page_route("engagements:milestone_attendance"), "attendance")
def _(w: World) -> Walk:
    client, milestone = page(w.delivery_manager), w.milestone
    team = _team(w.delivering)
    data: dict[str, Any] = {
        "held_on": "2024-04-11",
        "line-TOTAL_FORMS": str(len(team)),
        "line-INITIAL_FORMS": str(len(team)),
    }
    for i, person in enumerate(team):
        data[f"line-{i}-person"] = str(person.pk)
        data[f"line-{i}-mode"] = "contributed" if person == w.delivery_manager else "absent"
    url = _delivery_url("milestone_attendance", w.delivering, milestone.pk)
    yield
    ok(client.post(url, data), 302)
    return [Audited("milestone.attendance", w.delivering, w.delivery_manager)]


# Engagements, scope and attendance: the API -----------------------------------------------


def _engagement_body(w: World, **values: Any) -> dict[str, Any]:
    return {
        "account": str(w.account.uuid),
        "name": "Cardiology PACS",
        "commercial_lead": w.owner.username,
        "value": "120000.00",
        "opened_on": "2024-06-03",
        **values,
    }


@walks(api_route("POST", "/api/v1/engagements/"), "engagement")
def _(w: World) -> Walk:
    client, body = api(w.owner), _engagement_body(w)
    yield
    ok(client.post("/api/v1/engagements/", body, format="json"), 201)
    made = Engagement.objects.get(name="Cardiology PACS")
    return [Audited("engagement.create", made, w.owner, {"stage": "discovery"})]


@walks(api_route("PATCH", "/api/v1/engagements/{uuid}/"), "engagement")
def _(w: World) -> Walk:
    client, engagement = api(w.owner), w.engagement
    yield
    url = f"/api/v1/engagements/{engagement.uuid}/"
    ok(client.patch(url, {"value": "260000.00"}, format="json"), 200)
    return [Audited("engagement.update", engagement, w.owner, {"value": ["250000", "260000"]})]


@walks(api_route("POST", "/api/v1/engagements/{uuid}/stage/"), "engagement")
def _(w: World) -> Walk:
    client, engagement = api(w.owner), w.discovered
    yield
    url = f"/api/v1/engagements/{engagement.uuid}/stage/"
    ok(client.post(url, {"stage": "proposal"}, format="json"), 200)
    return [Audited("engagement.stage", engagement, w.owner, {"stage": ["discovery", "proposal"]})]


@walks(api_route("POST", "/api/v1/engagements/bulk/"), "engagement")
def _(w: World) -> Walk:
    client = api(w.owner)
    existing = w.new_engagement(name="Old name", external_id="crm-1")
    rows = [
        {**_engagement_body(w), "external_id": "crm-1", "name": "New name"},
        {**_engagement_body(w), "external_id": "crm-2"},
    ]
    yield
    body = ok(client.post("/api/v1/engagements/bulk/", rows, format="json"), 200).json()
    assert [r["status"] for r in body["results"]] == ["updated", "created"]
    made = Engagement.objects.get(external_id="crm-2")
    return [
        Audited("engagement.update", existing, w.owner, {"name": ["Old name", "New name"]}),
        Audited("engagement.create", made, w.owner, {"stage": "discovery"}),
    ]


@walks(api_route("PUT", "/api/v1/engagements/external/{external_id}/"), "engagement")
def _(w: World) -> Walk:
    client, body = api(w.owner), _engagement_body(w)
    url = "/api/v1/engagements/external/crm-7/"
    yield
    ok(client.put(url, body, format="json"), 201)
    made = Engagement.objects.get(external_id="crm-7")
    ok(client.put(url, {"value": "130000.00"}, format="json"), 200)
    return [
        Audited("engagement.create", made, w.owner, {"stage": "discovery"}),
        Audited("engagement.update", made, w.owner, {"value": ["120000", "130000"]}),
    ]


@dataclass(frozen=True)
class Part:
    """An engagement part the API writes (a scope item, a scope change, a milestone),
    audited in its engagement's history."""

    resource: str
    kind: str
    action: str
    who: Callable[[World], User]
    engagement: Callable[[World], Engagement]
    body: Callable[[World], dict[str, Any]]
    existing: Callable[[World], Any]
    change: tuple[str, Any, Any]  # a field, its value in `existing`, and the new value


def _part_paths(part: Part) -> None:
    """The five writes of a part: create, change, delete, upsert by external id, bulk."""
    base = f"/api/v1/{part.resource}/"
    field_name, old, new = part.change

    def start(w: World) -> tuple[APIClient, Engagement, User, dict[str, Any]]:
        engagement = part.engagement(w)
        body = {"engagement": str(engagement.uuid), **part.body(w)}
        return api(part.who(w)), engagement, part.who(w), body

    @walks(api_route("POST", base), part.kind)
    def create(w: World) -> Walk:
        client, engagement, who, body = start(w)
        yield
        ok(client.post(base, body, format="json"), 201)
        return [Audited(f"{part.action}.create", engagement, who)]

    @walks(api_route("PATCH", base + "{uuid}/"), part.kind)
    def change(w: World) -> Walk:
        client, engagement, who, _ = start(w)
        row = part.existing(w)
        yield
        ok(client.patch(f"{base}{row.uuid}/", {field_name: new}, format="json"), 200)
        return [Audited(f"{part.action}.update", engagement, who, {field_name: [old, new]})]

    @walks(api_route("DELETE", base + "{uuid}/"), part.kind)
    def delete(w: World) -> Walk:
        client, engagement, who, _ = start(w)
        row = part.existing(w)
        yield
        ok(client.delete(f"{base}{row.uuid}/"), 204)
        return [Audited(f"{part.action}.delete", engagement, who)]

    @walks(api_route("PUT", base + "external/{external_id}/"), part.kind)
    def upsert(w: World) -> Walk:
        client, engagement, who, body = start(w)
        url = f"{base}external/erp-1/"
        yield
        ok(client.put(url, body, format="json"), 201)
        ok(client.put(url, {field_name: new}, format="json"), 200)
        return [
            Audited(f"{part.action}.create", engagement, who),
            Audited(f"{part.action}.update", engagement, who, {field_name: [old, new]}),
        ]

    @walks(api_route("POST", base + "bulk/"), part.kind)
    def bulk(w: World) -> Walk:
        client, engagement, who, body = start(w)
        rows = [{**body, "external_id": "erp-1"}, {**body, "external_id": "erp-2"}]
        yield
        result = ok(client.post(f"{base}bulk/", rows, format="json"), 200).json()
        assert result["created"] == 2, result
        return [Audited(f"{part.action}.create", engagement, who) for _ in rows]


_part_paths(
    Part(
        "scope-items",
        "scope",
        "scope_item",
        who=lambda w: w.owner,
        engagement=lambda w: w.engagement,
        body=lambda w: {"title": "Build", "estimated_days": "10.0"},
        existing=lambda w: w.scope_item,
        change=("estimated_days", "10", "15"),
    )
)
_part_paths(
    Part(
        "scope-changes",
        "scope",
        "scope_change",
        who=lambda w: w.delivery_manager,
        engagement=lambda w: w.delivering,
        body=lambda w: {
            "effort_delta_days": "6",
            "cause": "scoping_miss",
            "approved_by": w.delivery_manager.username,
            "approved_on": "2024-05-01",
        },
        existing=lambda w: w.scope_change,
        change=("effort_delta_days", "6", "9"),
    )
)
_part_paths(
    Part(
        "milestones",
        "attendance",
        "milestone",
        who=lambda w: w.delivery_manager,
        engagement=lambda w: w.delivering,
        body=lambda w: {"kind": "architecture_review", "planned_on": "2024-04-10"},
        existing=lambda w: w.milestone,
        change=("planned_on", "2024-04-10", "2024-04-24"),
    )
)


@walks(api_route("POST", "/api/v1/milestones/{uuid}/attendance/"), "attendance")
def _(w: World) -> Walk:
    client, milestone = api(w.delivery_manager), w.milestone
    body = {
        "held_on": "2024-04-11",
        "attendance": [
            {"person": person.username, "mode": "contributed"} for person in _team(w.delivering)
        ],
    }
    yield
    ok(client.post(f"/api/v1/milestones/{milestone.uuid}/attendance/", body, format="json"), 200)
    return [Audited("milestone.attendance", w.delivering, w.delivery_manager)]


# Discovery: pages --------------------------------------------------------------------------


@walks(page_route("discovery:profile"), "discovery")
def _(w: World) -> Walk:
    client, profile = page(w.owner), w.profile
    data = form_data(ProfileForm(instance=profile, prefix="profile"), business_context="Growing")
    yield
    ok(client.post(reverse("discovery:profile", args=[w.account.uuid]), data), 302)
    return [Audited("profile.update", profile, w.owner, {"business_context": ["", "Growing"]})]


@walks(page_route("discovery:profile_items"), "discovery")
def _(w: World) -> Walk:
    client, profile = page(w.owner), w.profile
    url = reverse("discovery:profile_items", args=[w.account.uuid, "targets"])
    data = {
        "target-new-metric": "Sites",
        "target-new-baseline": "40",
        "target-new-target": "60",
        "target-new-horizon_year": str(timezone.localdate().year + 3),
    }
    yield
    ok(client.post(url, data), 302)
    return [Audited("target.create", profile, w.owner, {"metric": "Sites", "target": "60"})]


@walks(page_route("discovery:profile_item"), "discovery")
def _(w: World) -> Walk:
    client, target = page(w.owner), w.target
    form = GrowthTargetForm(instance=target, prefix=f"target-{target.pk}")
    url = reverse("discovery:profile_item", args=[w.account.uuid, "targets", target.pk])
    yield
    ok(client.post(url, form_data(form, target="8000"), headers=HTMX), 200)
    return [Audited("target.update", w.profile, w.owner, {"target": ["7000", "8000"]})]


@walks(page_route("discovery:profile_item_delete"), "discovery")
def _(w: World) -> Walk:
    client, target = page(w.owner), w.target
    url = reverse("discovery:profile_item_delete", args=[w.account.uuid, "targets", target.pk])
    yield
    ok(client.post(url), 302)
    return [Audited("target.delete", w.profile, w.owner)]


def _fca_url(name: str, analysis: FailureCostAnalysis, *pk: int) -> str:
    return reverse(f"discovery:{name}", args=[analysis.engagement.uuid, analysis.uuid, *pk])


@walks(page_route("discovery:analysis_create"), "discovery")
def _(w: World) -> Walk:
    client, engagement = page(w.owner), w.engagement
    data = {"title": "Radiology interview", "held_on": str(TODAY()), "interviewer": w.owner.pk}
    yield
    ok(client.post(reverse("discovery:analysis_create", args=[engagement.uuid]), data), 302)
    return [Audited("fca.create", engagement, w.owner, {"title": "Radiology interview"})]


@walks(page_route("discovery:analysis"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.analysis
    form = AnalysisForm(instance=analysis, prefix="analysis")
    data = form_data(form, title="Radiology interview")
    yield
    ok(client.post(_fca_url("analysis", analysis), data, headers=HTMX), 200)
    changes = {"title": ["Failure-Cost Analysis", "Radiology interview"]}
    return [Audited("fca.update", w.engagement, w.owner, changes)]


@walks(page_route("discovery:analysis_delete"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.analysis
    yield
    ok(client.post(_fca_url("analysis_delete", analysis)), 302)
    return [Audited("fca.delete", w.engagement, w.owner)]


@walks(page_route("discovery:analysis_complete"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.analysis
    yield
    ok(client.post(_fca_url("analysis_complete", analysis)), 302)
    # The action says what changed (draft to complete); the entry adds how many scenarios.
    return [Audited("fca.complete", w.engagement, w.owner, {"scenarios": 1})]


@walks(page_route("discovery:analysis_reopen"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.completed
    yield
    ok(client.post(_fca_url("analysis_reopen", analysis)), 302)
    return [Audited("fca.reopen", w.engagement, w.owner, {"item": str(analysis)})]


@walks(page_route("discovery:analysis_sign_off"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.completed
    contact = ContactFactory.create(account=w.account, name="Dr Reyes")
    yield
    data = {"contact": contact.pk, "on": str(TODAY())}
    ok(client.post(_fca_url("analysis_sign_off", analysis), data), 302)
    return [Audited("fca.sign_off", w.engagement, w.owner, {"signed_off_by": "Dr Reyes"})]


@walks(page_route("discovery:scenarios"), "discovery")
def _(w: World) -> Walk:
    client, analysis = page(w.owner), w.analysis
    yield
    data = {"scenario-new-what_fails": "Images cannot be read"}
    ok(client.post(_fca_url("scenarios", analysis), data), 302)
    return [Audited("scenario.create", w.engagement, w.owner, {"item": "Images cannot be read"})]


@walks(page_route("discovery:scenario"), "discovery")
def _(w: World) -> Walk:
    client, scenario = page(w.owner), w.scenario
    form = ScenarioForm(instance=scenario, prefix=f"scenario-{scenario.pk}")
    url = _fca_url("scenario", w.analysis, scenario.pk)
    yield
    ok(client.post(url, form_data(form, sites_affected="42"), headers=HTMX), 200)
    return [Audited("scenario.update", w.engagement, w.owner, {"sites_affected": [40, 42]})]


@walks(page_route("discovery:scenario_delete"), "discovery")
def _(w: World) -> Walk:
    client, scenario = page(w.owner), w.scenario
    yield
    ok(client.post(_fca_url("scenario_delete", w.analysis, scenario.pk)), 302)
    return [Audited("scenario.delete", w.engagement, w.owner, {"item": "Reporting stops"})]


@walks(page_route("discovery:constraints"), "discovery")
def _(w: World) -> Walk:
    client, scenario = page(w.owner), w.scenario
    url = reverse("discovery:constraints", args=[w.engagement.uuid])
    data = {"constraint-new-statement": "No image is lost", "constraint-new-scenarios": scenario.pk}
    yield
    ok(client.post(url, data), 302)
    return [Audited("constraint.create", w.engagement, w.owner, {"item": "No image is lost"})]


@walks(page_route("discovery:constraint"), "discovery")
def _(w: World) -> Walk:
    client, item = page(w.owner), w.constraint
    form = NeverEventForm(instance=item, prefix=f"constraint-{item.pk}")
    data = form_data(form, statement="Reports are never lost")
    url = reverse("discovery:constraint", args=[w.engagement.uuid, item.pk])
    yield
    ok(client.post(url, data, headers=HTMX), 200)
    changes = {"statement": ["Reports never go missing", "Reports are never lost"]}
    return [Audited("constraint.update", w.engagement, w.owner, changes)]


@walks(page_route("discovery:constraint_delete"), "discovery")
def _(w: World) -> Walk:
    client, item = page(w.owner), w.constraint
    yield
    ok(client.post(reverse("discovery:constraint_delete", args=[w.engagement.uuid, item.pk])))
    return [Audited("constraint.delete", w.engagement, w.owner)]


@walks(page_route("discovery:tco"), "discovery")
def _(w: World) -> Walk:
    client, comparison = page(w.owner), w.tco
    old = comparison.lifespan_years
    data = form_data(TcoForm(instance=comparison, prefix="tco"), lifespan_years=str(old + 2))
    yield
    ok(client.post(reverse("discovery:tco", args=[w.engagement.uuid]), data), 302)
    return [Audited("tco.update", w.engagement, w.owner, {"lifespan_years": [old, old + 2]})]


@walks(page_route("discovery:alternatives"), "discovery")
def _(w: World) -> Walk:
    client, _comparison = page(w.owner), w.tco
    url = reverse("discovery:alternatives", args=[w.engagement.uuid])
    yield
    ok(client.post(url, {"alternative-new-name": "Cloud vendor"}), 302)
    return [Audited("alternative.create", w.engagement, w.owner, {"item": "Cloud vendor"})]


@walks(page_route("discovery:alternative"), "discovery")
def _(w: World) -> Walk:
    client, item = page(w.owner), w.competitor
    url = reverse("discovery:alternative", args=[w.engagement.uuid, item.pk])
    data = {f"alternative-{item.pk}-name": "Incumbent", f"alternative-{item.pk}-version": "1"}
    yield
    ok(client.post(url, data, headers=HTMX), 200)
    changes = {"name": ["Incumbent vendor", "Incumbent"]}
    return [Audited("alternative.update", w.engagement, w.owner, changes)]


@walks(page_route("discovery:alternative_delete"), "discovery")
def _(w: World) -> Walk:
    client, item = page(w.owner), w.competitor
    url = reverse("discovery:alternative_delete", args=[w.engagement.uuid, item.pk])
    yield
    ok(client.post(url), 302)
    return [Audited("alternative.delete", w.engagement, w.owner, {"item": "Incumbent vendor"})]


@walks(page_route("discovery:lines"), "discovery")
def _(w: World) -> Walk:
    client, alternative = page(w.owner), w.ours
    prefix = f"alt{alternative.pk}-line-new"
    data = {f"{prefix}-category": "training", f"{prefix}-amount": "2500"}
    url = reverse("discovery:lines", args=[w.engagement.uuid, alternative.pk])
    yield
    ok(client.post(url, data), 302)
    return [Audited("cost_line.create", w.engagement, w.owner, {"amount": "2500"})]


@walks(page_route("discovery:line"), "discovery")
def _(w: World) -> Walk:
    client, line = page(w.owner), w.cost_line
    form = CostLineForm(instance=line, prefix=f"alt{w.ours.pk}-line-{line.pk}")
    url = reverse("discovery:line", args=[w.engagement.uuid, line.pk])
    yield
    ok(client.post(url, form_data(form, amount="1200"), headers=HTMX), 200)
    return [Audited("cost_line.update", w.engagement, w.owner, {"amount": ["1000", "1200"]})]


@walks(page_route("discovery:line_delete"), "discovery")
def _(w: World) -> Walk:
    client, line = page(w.owner), w.cost_line
    yield
    ok(client.post(reverse("discovery:line_delete", args=[w.engagement.uuid, line.pk])))
    return [Audited("cost_line.delete", w.engagement, w.owner)]


@walks(page_route("discovery:downtime"), "discovery")
def _(w: World) -> Walk:
    # The failure costs the downtime line is taken from.
    client, alternative, _scenario = page(w.owner), w.ours, w.scenario
    yield
    ok(client.post(reverse("discovery:downtime", args=[w.engagement.uuid, alternative.pk])), 302)
    return [Audited("cost_line.create", w.engagement, w.owner, {"category": "downtime"})]


# Discovery: the API ------------------------------------------------------------------------


@walks(api_route("PATCH", "/api/v1/client-intelligence-profiles/{uuid}/"), "discovery")
def _(w: World) -> Walk:
    client, profile = api(w.owner), w.profile
    url = f"/api/v1/client-intelligence-profiles/{w.account.uuid}/"
    yield
    ok(client.patch(url, {"business_context": "Merging trusts"}, format="json"), 200)
    changes = {"business_context": ["", "Merging trusts"]}
    return [Audited("profile.update", profile, w.owner, changes)]


@walks(api_route("POST", "/api/v1/failure-cost-analyses/"), "discovery")
def _(w: World) -> Walk:
    client, engagement = api(w.owner), w.engagement
    body = {
        "engagement": str(engagement.uuid),
        "title": "CRM interview",
        "held_on": str(TODAY()),
        "interviewer": w.owner.username,
    }
    yield
    ok(client.post("/api/v1/failure-cost-analyses/", body, format="json"), 201)
    return [Audited("fca.create", engagement, w.owner, {"title": "CRM interview"})]


@walks(api_route("PATCH", "/api/v1/failure-cost-analyses/{uuid}/"), "discovery")
def _(w: World) -> Walk:
    client, analysis = api(w.owner), w.analysis
    yield
    url = f"/api/v1/failure-cost-analyses/{analysis.uuid}/"
    ok(client.patch(url, {"notes": "Asked about winter peaks"}, format="json"), 200)
    changes = {"notes": ["", "Asked about winter peaks"]}
    return [Audited("fca.update", w.engagement, w.owner, changes)]


@walks(api_route("DELETE", "/api/v1/failure-cost-analyses/{uuid}/"), "discovery")
def _(w: World) -> Walk:
    client, analysis = api(w.owner), w.analysis
    yield
    ok(client.delete(f"/api/v1/failure-cost-analyses/{analysis.uuid}/"), 204)
    return [Audited("fca.delete", w.engagement, w.owner)]


# Certification results ---------------------------------------------------------------------


@walks(page_route("certification:assess"), "certification result")
def _(w: World) -> Walk:
    client, enrollment, module = page(w.leadership), w.enrollment, w.module
    data = {"module": module.pk, "score": str(module.pass_mark), "assessed_on": str(TODAY())}
    yield
    ok(client.post(reverse("certification:assess", args=[enrollment.uuid]), data, headers=HTMX))
    assert ModuleResult.objects.filter(enrollment=enrollment, module=module).exists()
    changes = {"module": str(module), "score": module.pass_mark, "result": "passed"}
    return [Audited("result.record", enrollment, w.leadership, changes)]


@walks(page_route("certification:result_delete"), "certification result")
def _(w: World) -> Walk:
    client, result = page(w.leadership), w.result
    yield
    ok(client.post(reverse("certification:result_delete", args=[result.uuid])), 302)
    return [Audited("result.delete", w.enrollment, w.leadership, {"result": "passed"})]


@walks("task certification.tasks.certification_daily", "certification result")
def _(w: World) -> Walk:
    from certification.tasks import certification_daily

    enrollment = w.enrollment
    # A day after it was due, with nothing passed: overdue.
    on = enrollment.due_on + dt.timedelta(days=1)
    yield
    certification_daily.run(on.isoformat())
    enrollment.refresh_from_db()
    assert enrollment.status == "overdue"
    return [Audited("enrollment.status", enrollment, None, {"status": ["On track", "Overdue"]})]


# Hiring decisions --------------------------------------------------------------------------


@walks(page_route("hiring:stage"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate()
    yield
    ok(client.post(reverse("hiring:stage", args=[candidate.uuid]), {"stage": "interview"}), 302)
    changes = {"stage": ["Screening", "Interview"]}
    return [Audited("candidate.stage", candidate, w.hiring_manager, changes)]


@walks(page_route("hiring:hire"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate(CandidateStage.DECISION)
    certification_services.curriculum_install_default()
    data = {"username": "ada", "manager": w.hiring_manager.pk, "reason": "Best audition"}
    yield
    ok(client.post(reverse("hiring:hire", args=[candidate.uuid]), data), 302)
    hired = User.objects.get(username="ada")
    enrollment = Enrollment.objects.get(person=hired)
    return [
        Audited("user.roles", hired, w.hiring_manager, {"roles": [[], ["account_manager"]]}),
        Audited("enrollment.open", enrollment, w.hiring_manager),
        Audited("candidate.hire", candidate, w.hiring_manager, {"stage": ["Decision", "Hired"]}),
    ]


@walks(page_route("hiring:erase"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate(CandidateStage.REJECTED)
    yield
    ok(client.post(reverse("hiring:erase", args=[candidate.uuid])), 302)
    # No values: the entry says that the data went, and must not repeat any of it.
    return [Audited("candidate.erase", candidate, w.hiring_manager)]


@walks(page_route("hiring:opening_close"), "hiring decision")
def _(w: World) -> Walk:
    client, opening = page(w.hiring_manager), w.opening
    yield
    ok(client.post(reverse("hiring:opening_close", args=[opening.uuid])), 302)
    return [Audited("opening.close", opening, w.hiring_manager, {"open": [True, False]})]


@walks(page_route("hiring:opening_reopen"), "hiring decision")
def _(w: World) -> Walk:
    client, opening = page(w.hiring_manager), w.opening
    hiring_services.opening_set_open(opening=opening, is_open=False, actor=w.hiring_manager)
    yield
    ok(client.post(reverse("hiring:opening_reopen", args=[opening.uuid])), 302)
    return [Audited("opening.reopen", opening, w.hiring_manager, {"open": [False, True]})]


@walks(page_route("hiring:interview"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate(CandidateStage.INTERVIEW)
    planned = PlannedQuestion.objects.filter(profile=w.opening.profile).order_by("position")
    questions = [p.question_id for p in planned[:2]]
    yield
    data = {f"q{pk}": "4" for pk in questions}
    ok(client.post(reverse("hiring:interview", args=[candidate.uuid]), data))
    assert candidate.interview_ratings.count() == 2
    return [Audited("interview.record", candidate, w.hiring_manager, {"ratings": 2})]


@walks(page_route("hiring:deliverable"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate(CandidateStage.INTERVIEW)
    hiring_services.deliverable_review_record(
        candidate=candidate, rating=2, notes="", reviewer=w.hiring_manager
    )
    yield
    ok(client.post(reverse("hiring:deliverable", args=[candidate.uuid]), {"rating": "3"}))
    return [Audited("deliverable.review", candidate, w.hiring_manager, {"rating": [2, 3]})]


DISC = {"dominance": 60, "influence": 70, "steadiness": 40, "conscientiousness": 50}


@walks(page_route("hiring:disc"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.hiring_manager), w.candidate(CandidateStage.INTERVIEW)
    hiring_services.disc_record(candidate=candidate, scores=DISC, actor=w.hiring_manager)
    yield
    data = {**DISC, "influence": 75}
    ok(client.post(reverse("hiring:disc", args=[candidate.uuid]), data))
    return [Audited("disc.record", candidate, w.hiring_manager, {"influence": [70, 75]})]


AUDITION = {
    "business_applicability": 3,
    "technical_clarity": 2,
    "audience_engagement": 3,
    "presentation_style": 2,
}


@walks(page_route("hiring:audition"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = page(w.panelist), w.candidate(CandidateStage.AUDITION)
    yield
    url = reverse("hiring:audition", args=[candidate.uuid])
    ok(client.post(url, {**AUDITION, "would_buy": "yes"}), 302)
    # No figures: the rest of the panel reads the timeline before they score.
    return [Audited("audition.score", candidate, w.panelist)]


@walks(api_route("POST", "/api/v1/hiring-candidates/{uuid}/audition-scores/"), "hiring decision")
def _(w: World) -> Walk:
    client, candidate = api(w.panelist), w.candidate(CandidateStage.AUDITION)
    yield
    url = f"/api/v1/hiring-candidates/{candidate.uuid}/audition-scores/"
    ok(client.post(url, {**AUDITION, "would_buy": True}, format="json"), 201)
    return [Audited("audition.score", candidate, w.panelist)]


# The back office ---------------------------------------------------------------------------


@walks(admin_route(Engagement, "change"), "engagement")
def _(w: World) -> Walk:
    client, engagement = page(w.administrator), w.engagement
    version = engagement.version
    yield
    url = reverse("admin:engagements_engagement_change", args=[engagement.pk])
    ok(client.post(url, {"_save": "Save"}), 302)
    engagement.refresh_from_db()
    # Every field is read-only there: saving the form changes nothing, so there is nothing
    # to audit, and the version a CRM holds (its If-Match) still stands.
    assert engagement.version == version
    return []


@walks(admin_route(Engagement, "delete"), "engagement")
def _(w: World) -> Walk:
    client, engagement = page(w.administrator), w.engagement
    expected = [Audited("engagement.delete", engagement, w.administrator, {"stage": "discovery"})]
    yield
    url = reverse("admin:engagements_engagement_delete", args=[engagement.pk])
    ok(client.post(url, {"post": "yes"}), 302)
    assert not Engagement.objects.filter(pk=expected[0].object_id).exists()
    return expected


@walks(admin_route(Engagement, "action delete_selected"), "engagement")
def _(w: World) -> Walk:
    client, engagement = page(w.administrator), w.engagement
    expected = [Audited("engagement.delete", engagement, w.administrator, {"stage": "discovery"})]
    data = {"action": "delete_selected", "_selected_action": [engagement.pk], "post": "yes"}
    yield
    ok(client.post(reverse("admin:engagements_engagement_changelist"), data), 302)
    assert not Engagement.objects.filter(pk=expected[0].object_id).exists()
    return expected


# Accounts, their team and contacts in the back office: one form with two inlines.

ACCOUNT_FIELDS = ("name", "industry", "region", "segment", "website", "notes", "external_id")
TEAM_FIELDS = ("user", "role", "since")
CONTACT_FIELDS = ("name", "job_title", "email", "buyer_role", "external_id")


def _inline(prefix: str, rows: list[dict[str, Any]], initial: int) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": "" if v is None else str(v) for k, v in row.items()})
    return data


def _stored(objects: Any, fields: tuple[str, ...], account: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": o.pk,
            "account": account.pk,
            **{f: getattr(o, f"{f}_id", getattr(o, f)) for f in fields},
        }
        for o in objects.order_by("pk")
    ]


def account_admin_post(
    account: Any,
    *,
    team: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda rows: rows,
    contacts: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda rows: rows,
    **values: Any,
) -> dict[str, Any]:
    """The back office's account form as it is shown (its team and contacts below), with
    `values` typed over the account and `team`/`contacts` editing the inline rows."""
    team_rows = _stored(account.team, TEAM_FIELDS, account)
    contact_rows = _stored(account.contacts, CONTACT_FIELDS, account)
    return {
        **{f: "" if getattr(account, f) is None else getattr(account, f) for f in ACCOUNT_FIELDS},
        **values,
        **_inline("team", team(team_rows), len(team_rows)),
        **_inline("contacts", contacts(contact_rows), len(contact_rows)),
        "_save": "Save",
    }


def _account_change(w: World) -> str:
    return reverse("admin:engagements_account_change", args=[w.account.pk])


@walks(admin_route(Account, "add"), "account")
def _(w: World) -> Walk:
    client = page(w.administrator)
    values = {"name": "Eastgate Clinics", "industry": "healthcare", "region": "uk_ireland"}
    data = {**values, "segment": "white_space", **_inline("team", [], 0)}
    data.update(_inline("contacts", [], 0))
    yield
    ok(client.post(reverse("admin:engagements_account_add"), data), 302)
    made = Account.objects.get(name="Eastgate Clinics")
    return [Audited("account.create", made, w.administrator, {"name": "Eastgate Clinics"})]


@walks(admin_route(Account, "change"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    data = account_admin_post(account, name="Northvale Imaging")
    yield
    ok(client.post(_account_change(w), data), 302)
    changes = {"name": ["Northvale Radiology Network", "Northvale Imaging"]}
    return [Audited("account.update", account, w.administrator, changes)]


@walks(admin_route(Account, "delete"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    expected = [Audited("account.delete", account, w.administrator, {"name": account.name})]
    yield
    url = reverse("admin:engagements_account_delete", args=[account.pk])
    ok(client.post(url, {"post": "yes"}), 302)
    return expected


@walks(admin_route(Account, "action delete_selected"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    expected = [Audited("account.delete", account, w.administrator, {"name": account.name})]
    data = {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"}
    yield
    ok(client.post(reverse("admin:engagements_account_changelist"), data), 302)
    return expected


@walks(admin_route(AccountTeamMember, "inline add"), "account")
def _(w: World) -> Walk:
    client, account, person = page(w.administrator), w.account, w.delivery_manager
    seat = {"user": person.pk, "role": "delivery_manager", "since": "2024-02-01"}
    data = account_admin_post(account, team=lambda rows: [*rows, {"account": account.pk, **seat}])
    yield
    ok(client.post(_account_change(w), data), 302)
    return [Audited("team.add", account, w.administrator, {"role": "delivery_manager"})]


@walks(admin_route(AccountTeamMember, "inline change"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    data = account_admin_post(
        account, team=lambda rows: [{**rows[0], "role": "technology_manager"}]
    )
    yield
    ok(client.post(_account_change(w), data), 302)
    changes = {"role": ["account_manager", "technology_manager"]}
    return [Audited("team.update", account, w.administrator, changes)]


@walks(admin_route(AccountTeamMember, "inline delete"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    data = account_admin_post(account, team=lambda rows: [{**rows[0], "DELETE": "on"}])
    yield
    ok(client.post(_account_change(w), data), 302)
    assert not account.team.exists()
    return [Audited("team.remove", account, w.administrator, {"member": str(w.owner)})]


@walks(admin_route(Contact, "inline add"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    row = {"account": account.pk, "name": "Dr Reyes", "buyer_role": "technical"}
    data = account_admin_post(account, contacts=lambda rows: [*rows, row])
    yield
    ok(client.post(_account_change(w), data), 302)
    contact = account.contacts.get(name="Dr Reyes")
    return [Audited("contact.create", contact, w.administrator, {"name": [None, "Dr Reyes"]})]


@walks(admin_route(Contact, "inline change"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    contact = ContactFactory.create(account=account, name="Dr Reyes", job_title="")
    data = account_admin_post(account, contacts=lambda rows: [{**rows[0], "job_title": "CMIO"}])
    yield
    ok(client.post(_account_change(w), data), 302)
    return [Audited("contact.update", contact, w.administrator, {"job_title": ["", "CMIO"]})]


@walks(admin_route(Contact, "inline delete"), "account")
def _(w: World) -> Walk:
    client, account = page(w.administrator), w.account
    contact = ContactFactory.create(account=account, name="Dr Reyes")
    expected = [Audited("contact.delete", contact, w.administrator, {"name": "Dr Reyes"})]
    data = account_admin_post(account, contacts=lambda rows: [{**rows[0], "DELETE": "on"}])
    yield
    ok(client.post(_account_change(w), data), 302)
    assert not account.contacts.exists()
    return expected


# The seven "Move selected to …" actions are one function (engagements.admin._stage_action)
# calling the stage service: one of them is walked.
@walks(admin_route(Engagement, "action move_to_*"), "engagement", "admin move_to_lost")
def _(w: World) -> Walk:
    client, engagement = page(w.administrator), w.engagement
    data = {"action": "move_to_lost", "_selected_action": [engagement.pk]}
    yield
    ok(client.post(reverse("admin:engagements_engagement_changelist"), data), 302)
    changes = {"stage": ["discovery", "lost"]}
    return [Audited("engagement.stage", engagement, w.administrator, changes)]


# The walk -----------------------------------------------------------------------------------


@pytest.fixture
def world(db: None) -> World:
    return World()


def _last_entry_id() -> int:
    return AuditLogEntry.objects.aggregate(last=Max("id"))["last"] or 0


def _entry_key(action: str, object_type: str, object_id: str, actor_id: int | None) -> tuple:
    return (action, object_type, object_id, actor_id)


@pytest.mark.parametrize("path", WRITE_PATHS, ids=str)
def test_each_write_path_leaves_exactly_its_audit_entries(path: WritePath, world: World) -> None:
    figure_add("audit", paths=1)
    walk = path.write(world)
    next(walk)
    start = _last_entry_id()
    with pytest.raises(StopIteration) as done:
        next(walk)
    expected: list[Audited] = done.value.value
    entries = list(AuditLogEntry.objects.filter(id__gt=start).order_by("id"))
    got = [_entry_key(e.action, e.object_type, e.object_id, e.actor_id) for e in entries]
    want = [
        _entry_key(x.action, x.object_type, x.object_id, x.actor.pk if x.actor else None)
        for x in expected
    ]
    assert got == want, f"{path}: audited {got}, expected {want}"
    for entry, audited in zip(entries, expected, strict=True):
        for name, value in audited.changes.items():
            assert entry.changes.get(name) == value, (path.name, entry.action, entry.changes)
        assert entry.at <= timezone.now()
    figure_add("audit", audited=1)


# Self-checks: every write path is in the table, or named as not of an audited kind ---------

# Page routes that accept POST but write nothing of the audited kinds, with the reason.
NOT_AUDITED_PAGES = {
    "login": "signing in: django-axes records the attempts",
    "logout": "signing out",
    "organisation_settings": "organisation settings (audited as organisation.update)",
    "notifications_read": "marks one's own notifications read",
    "api_tokens": "API tokens (audited as api_token.create on the person)",
    "api_token_revoke": "API tokens (audited as api_token.revoke on the person)",
    "engagements:account_create": "accounts: not a kind of this walk (audited as account.*)",
    "engagements:account_edit": "accounts: not a kind of this walk (audited as account.*)",
    "engagements:contact_add": "contacts: not a kind of this walk (audited as contact.*)",
    "engagements:contact_edit": "contacts: not a kind of this walk (audited as contact.*)",
    "engagements:contact_delete": "contacts: not a kind of this walk (audited as contact.*)",
    "engagements:team_add": "the account team: not a kind of this walk (team.add)",
    "engagements:team_remove": "the account team: not a kind of this walk (team.remove)",
    "engagements:engagement_documents": "generated documents: requests are document.request",
    "engagements:account_documents": "generated documents: requests are document.request",
    "engagements:document_retry": "generated documents: document.retry",
    "certification:evidence": "a download",
    "scorecard:targets": "KPI targets: not a kind of this walk",
    "scorecard:recompute": "queues the KPI recompute (snapshots derive from audited records)",
}
NOT_AUDITED_PREFIXES = {
    "engagements:success_plan": "the golden thread: not a kind of this walk",
    "engagements:one_on_one": "1:1 meetings: not a kind of this walk",
    "hiring:": "hiring records other than decisions and what they rest on (profiles, "
    "openings, panels, the question bank, documents): not a kind of this walk",
}
# Hiring decisions are the pipeline's stage changes, the hire and the erasure, and the
# assessments they rest on (interview ratings, audition scores, the writing sample's review,
# the DiSC profile); the prefix above must not hide them.
HIRING_DECISIONS = {
    "hiring:stage",
    "hiring:hire",
    "hiring:erase",
    "hiring:opening_close",
    "hiring:opening_reopen",
    "hiring:audition",
    "hiring:interview",
    "hiring:deliverable",
    "hiring:disc",
}


def _allowed_methods(view: Callable[..., Any]) -> set[str] | None:
    """The methods a view's require_http_methods lets through; None when it names none
    (a class view or an undecorated function, which may accept anything)."""
    fn: Any = view
    while fn is not None:
        closure = inspect.getclosurevars(fn).nonlocals if inspect.isfunction(fn) else {}
        methods = closure.get("request_method_list")
        if methods is not None:
            return set(methods)
        fn = getattr(fn, "__wrapped__", None)
    return None


def _routes(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            yield from _routes(
                pattern.url_patterns,
                prefix + str(pattern.pattern),
                f"{namespace}{ns}:" if ns else namespace,
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), f"{namespace}{pattern.name}", pattern.callback


def _not_audited_page(name: str) -> str | None:
    if name in NOT_AUDITED_PAGES:
        return NOT_AUDITED_PAGES[name]
    if name in HIRING_DECISIONS:
        return None
    return next((why for p, why in NOT_AUDITED_PREFIXES.items() if name.startswith(p)), None)


def test_every_page_route_that_accepts_a_write_is_walked_or_named(db: None) -> None:
    walked = {p.route for p in WRITE_PATHS}
    missing = []
    writes = 0
    for route, name, view in _routes(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/")):
            continue  # the schema and the admin registry are checked below
        methods = _allowed_methods(view)
        if methods is not None and not methods & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        writes += 1
        if page_route(name) not in walked and _not_audited_page(name) is None:
            missing.append(f"{name} ({route})")
    assert not missing, f"write routes neither walked nor named as not audited: {missing}"
    # The introspection found the decorated views: a page with a form is among them.
    assert writes > len(NOT_AUDITED_PAGES)
    assert page_route("engagements:engagement_advance") in walked


NOT_AUDITED_API = {
    "/api/v1/accounts/": "accounts: not a kind of this walk (audited as account.*)",
    "/api/v1/contacts/": "contacts: not a kind of this walk (audited as contact.*)",
    "/api/v1/products/": "the product catalogue: not a kind of this walk (product.*)",
    "/api/v1/account-team-members/": "the account team: not a kind of this walk (team.*)",
    "/api/v1/revenue-entries/": "revenue: not a kind of this walk (revenue.*)",
    "/api/v1/client-ratings/": "client ratings: not a kind of this walk (rating.*)",
    "/api/v1/documents/": "generated documents: requests are document.request",
}


def test_every_write_operation_of_the_schema_is_walked_or_named(db: None) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    walked = {p.route for p in WRITE_PATHS}
    operations = [
        api_route(method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete")
    ]
    missing = [
        op
        for op in operations
        if op not in walked and not any(op.split(" ")[2].startswith(p) for p in NOT_AUDITED_API)
    ]
    assert not missing, f"API writes neither walked nor named as not audited: {missing}"
    # Nothing walked that the schema no longer has (a renamed operation).
    stale = sorted(r for r in walked if r.startswith("api ") and r not in operations)
    assert not stale, stale


# Models of the audited kinds; every other model registered in the admin of these apps is
# named in NOT_AUDITED_ADMIN with the reason.
AUDITED_APPS = ("engagements", "discovery", "certification", "hiring")
AUDITED_MODELS = {
    # Accounts, their team and contacts are written in the back office beside the
    # engagements (one form), so their admin is walked too.
    "engagements.account",
    "engagements.engagement",
    "engagements.stagechange",
    "engagements.scopeitem",
    "engagements.scopechange",
    "engagements.milestone",
    "engagements.milestoneattendance",
    "discovery.failurecostanalysis",
    "discovery.failurescenario",
    "discovery.clientintelligenceprofile",
    "certification.enrollment",
    "certification.moduleresult",
    "hiring.candidate",
}
NOT_AUDITED_ADMIN = {
    "engagements.productline": "the product catalogue",
    "engagements.product": "the product catalogue",
    "engagements.revenueentry": "revenue: saved through revenue_entry_save (revenue.*)",
    "engagements.clientrating": "ratings: saved through client_rating_save (rating.*)",
    "engagements.successplan": "the golden thread (read-only in the admin)",
    "engagements.oneonone": "1:1 meetings (read-only in the admin)",
    "engagements.document": "generated documents (read-only in the admin)",
    "certification.curriculum": "the curriculum's versions and modules",
    "certification.reminder": "reminder e-mails (read-only in the admin)",
    "hiring.jobprofile": "job profiles (read-only in the admin)",
    "hiring.question": "the question bank (read-only in the admin)",
}


def _admin_operations(model_admin: admin.ModelAdmin, request: Any) -> Iterator[str]:
    model = model_admin.model
    if model_admin.has_add_permission(request):
        yield admin_route(model, "add")
    if model_admin.has_change_permission(request):
        yield admin_route(model, "change")
    if model_admin.has_delete_permission(request):
        yield admin_route(model, "delete")
    actions: dict[str, Any] = model_admin.get_actions(request) or {}
    for name, (func, _, _) in actions.items():
        stage_action = getattr(func, "__qualname__", "") == "_stage_action.<locals>.action"
        yield admin_route(model, "action move_to_*" if stage_action else f"action {name}")
    for inline in model_admin.get_inline_instances(request):
        for operation, allowed in (
            ("add", inline.has_add_permission(request, None)),
            ("change", inline.has_change_permission(request)),
            ("delete", inline.has_delete_permission(request)),
        ):
            if allowed:
                yield admin_route(inline.model, f"inline {operation}")


def test_every_admin_write_on_an_audited_kind_is_walked_or_named(world: World) -> None:
    request = RequestFactory().post("/admin/")
    request.user = world.administrator
    walked = {p.route for p in WRITE_PATHS}
    missing, unnamed = [], []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if model._meta.app_label not in AUDITED_APPS:
            continue
        if label not in AUDITED_MODELS:
            if label not in NOT_AUDITED_ADMIN:
                unnamed.append(label)
            continue
        missing += [op for op in _admin_operations(model_admin, request) if op not in walked]
    assert not unnamed, f"admin models neither of an audited kind nor named: {unnamed}"
    assert not missing, f"admin writes on audited kinds that are not walked: {missing}"


NOT_AUDITED_TASKS = {
    "engagements.tasks.engagement_stage_notify": "sends notifications of an audited change",
    "engagements.tasks.document_render_task": "renders a requested document",
    "engagements.tasks.documents_sweep_task": "queues lost renders again",
    "certification.tasks.reminder_send": "sends a queued reminder e-mail",
    "scorecard.tasks.scorecard_nightly": "KPI snapshots, derived from the audited records",
    "scorecard.tasks.scorecard_refresh": "KPI snapshots, derived from the audited records",
    "scorecard.tasks.scorecard_recompute_now": "KPI snapshots, derived from the audited records",
    "tcp.tasks.notifications_prune": "deletes old read notifications",
}


def test_every_celery_task_of_the_project_is_walked_or_named() -> None:
    celery_app.loader.import_default_modules()
    ours = sorted(
        n for n in celery_app.tasks if n.split(".")[0] in {*AUDITED_APPS, "tcp", "scorecard"}
    )
    walked = {p.route.removeprefix("task ") for p in WRITE_PATHS if p.route.startswith("task ")}
    missing = [n for n in ours if n not in walked and n not in NOT_AUDITED_TASKS]
    assert not missing, f"Celery tasks neither walked nor named: {missing}"
    assert walked <= set(ours), walked - set(ours)


# One transaction: the write and its audit entry commit or roll back together ---------------


def test_a_stage_change_undone_before_confirming_leaves_neither_the_change_nor_its_entry(
    world: World,
) -> None:
    """The candidate page runs the stage service and rolls it back until the manager
    confirms an ending (hiring.views.candidate_stage): the service has written the stage
    and its audit entry by then, so both must go with the rollback."""
    candidate = world.candidate()
    start = _last_entry_id()
    url = reverse("hiring:stage", args=[candidate.uuid])
    response = page(world.hiring_manager).post(url, {"stage": "rejected", "reason": "Too junior"})
    assert response.status_code == 200
    assert "confirm" in response.text.lower()
    candidate.refresh_from_db()
    assert candidate.stage == CandidateStage.SCREENING
    assert not AuditLogEntry.objects.filter(id__gt=start).exists()


def _transaction_of(model: type[Model], pk: int) -> str:
    """The PostgreSQL transaction that last wrote the row (its xmin)."""
    return str(model._default_manager.filter(pk=pk).values_list(XMIN, flat=True).get())


XMIN = RawSQL("xmin::text", ())


@pytest.mark.django_db(transaction=True)
def test_a_write_and_its_audit_entry_are_committed_by_the_same_transaction() -> None:
    """With real commits (no test transaction around the request), the row a stage change
    updates and the audit entry it inserts carry the same PostgreSQL transaction id: one
    commit, never one without the other."""
    w = World()
    engagement = w.discovered
    url = reverse("engagements:engagement_advance", args=[engagement.uuid])
    ok(page(w.owner).post(url, {"to_stage": "proposal", "on": str(TODAY())}), 302)
    entry = AuditLogEntry.objects.get(action="engagement.stage", object_id=str(engagement.pk))
    assert _transaction_of(Engagement, engagement.pk) == _transaction_of(AuditLogEntry, entry.pk)
