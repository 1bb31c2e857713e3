"""Every operation of the OpenAPI schema, for a person of each role, against a record they may
see and one they may not: the record they may see answers (or refuses by a rule), the one they
may not is a 404 exactly as if it did not exist, and without credentials everything is a 401.

The operations come from the schema itself, so an endpoint added without a row in RESOURCES
(or an action without a body in its row) fails here with a message saying what to add.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from certification.services import enrollment_open
from discovery.models import ClientIntelligenceProfile
from engagements.models import (
    ClientRating,
    Document,
    Milestone,
    Product,
    ProductLine,
    RevenueEntry,
    ScopeChange,
    ScopeItem,
)
from hiring import services as hiring_services
from scorecard.models import KpiSnapshot
from tcp.api import SYNCED
from tcp.api_auth import TokenRateThrottle
from tcp.models import Role, Tombstone, User
from tests.api.conftest import api_client_for
from tests.factories import (
    AccountFactory,
    AnalysisFactory,
    ContactFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
)
from tests.figures import figure_add

ROLES = (
    "owner",
    "outsider",
    "delivery_manager",
    "leadership",
    "administrator",
    "hiring_manager",
)
SIDES = ("ours", "theirs")
BOTH = frozenset(SIDES)
NEITHER: frozenset[str] = frozenset()

# Which side of the world each role may see, per visibility rule. "ours" is the account the
# owner sits on (its engagement delivered by the delivery manager); "theirs" the outsider's.
SEES: dict[str, dict[str, frozenset[str]]] = {
    "account": {
        "owner": frozenset({"ours"}),
        "outsider": frozenset({"theirs"}),
        "delivery_manager": frozenset({"ours"}),
        "leadership": BOTH,
        "administrator": BOTH,
        "hiring_manager": NEITHER,
    },
    "catalogue": dict.fromkeys(ROLES, BOTH),
    "own": {
        "owner": frozenset({"ours"}),
        "outsider": frozenset({"theirs"}),
        "delivery_manager": NEITHER,
        "leadership": BOTH,
        "administrator": BOTH,
        "hiring_manager": NEITHER,
    },
    "oversight": {
        **dict.fromkeys(ROLES, NEITHER),
        "leadership": BOTH,
        "administrator": BOTH,
    },
    "hiring": {
        **dict.fromkeys(ROLES, NEITHER),
        "hiring_manager": BOTH,
        "administrator": BOTH,
    },
}

Body = Callable[["World", str], Any]


@dataclass
class World:
    users: dict[str, User]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, resource_side: tuple[str, str]) -> Any:
        resource, side = resource_side
        return self.records[side][resource]

    def lead(self, side: str) -> User:
        return self.users["owner" if side == "ours" else "outsider"]


def ref(resource: str) -> Callable[[World, str], str]:
    return lambda world, side: str(world[resource, side].uuid)


@dataclass
class Resource:
    """How to ask each operation of one resource about the record of one side."""

    rule: str
    # The record's key in URLs and in a list's rows.
    key: Callable[[Any], str] = lambda obj: str(obj.uuid)
    listed: Callable[[dict], str] = lambda row: row["id"]
    # POST to the collection: the body naming the side's parent record, and that field.
    create: Body | None = None
    parent: str | None = None
    # PATCH, PUT …/external/{id}/ and bulk: a change that passes the serializer.
    change: Body | None = None
    # POST or GET …/{id}/<action>/: the body (None for a GET).
    actions: dict[str, Body | None] = field(default_factory=dict)
    singleton: bool = False  # one answer, not a list of records (the TCP impact)


def _on_engagement(**fields: Any) -> Body:
    return lambda world, side: {"engagement": str(world["engagements", side].uuid), **fields}


RESOURCES: dict[str, Resource] = {
    "accounts": Resource(
        rule="account",
        create=lambda w, s: {"name": "Harbour", "industry": "logistics", "region": "uk_ireland"},
        change=lambda w, s: {"notes": "Renewal due"},
    ),
    "contacts": Resource(
        rule="account",
        create=lambda w, s: {"account": str(w["accounts", s].uuid), "name": "Ines Duarte"},
        parent="account",
        change=lambda w, s: {"job_title": "CTO"},
    ),
    "products": Resource(
        rule="catalogue",
        create=lambda w, s: {"line": "Imaging", "name": "Viewer"},
        change=lambda w, s: {"name": "Viewer 2"},
    ),
    "engagements": Resource(
        rule="account",
        create=lambda w, s: {
            "account": str(w["accounts", s].uuid),
            "name": "Archive move",
            "commercial_lead": w.lead(s).username,
            "value": "1000.00",
        },
        parent="account",
        change=lambda w, s: {"description": "Phase two"},
        actions={"stage": lambda w, s: {"stage": "proposal"}},
    ),
    "account-team-members": Resource(
        rule="account",
        create=lambda w, s: {
            "account": str(w["accounts", s].uuid),
            "user": w.users["delivery_manager"].username,
            "role": "delivery_manager",
        },
        parent="account",
    ),
    "scope-items": Resource(
        rule="account",
        create=_on_engagement(title="Interfaces", estimated_days="3.0"),
        parent="engagement",
        change=lambda w, s: {"note": "Two more feeds"},
    ),
    "scope-changes": Resource(
        rule="account",
        create=lambda w, s: {
            "engagement": str(w["engagements", s].uuid),
            "effort_delta_days": "1.0",
            "cause": "client_request",
            "approved_by": w.lead(s).username,
            "approved_on": "2025-03-01",
        },
        parent="engagement",
        change=lambda w, s: {"note": "Agreed on the call"},
    ),
    "milestones": Resource(
        rule="account",
        create=_on_engagement(kind="other", title="Pilot", planned_on="2025-04-01"),
        parent="engagement",
        change=lambda w, s: {"note": "Moved a week"},
        actions={
            "attendance": lambda w, s: {
                "held_on": "2025-02-01",
                "attendance": [{"person": w.lead(s).username, "mode": "contributed"}],
            }
        },
    ),
    "revenue-entries": Resource(
        rule="account",
        create=_on_engagement(month="2025-03-01", revenue="10.00", cost="5.00"),
        parent="engagement",
        change=lambda w, s: {"cost": "6.00"},
    ),
    "client-ratings": Resource(
        rule="account",
        create=_on_engagement(
            rated_on="2025-03-01", self_rating=7, client_rating=8, recommend_score=9
        ),
        parent="engagement",
        change=lambda w, s: {"note": "After the go-live"},
    ),
    "failure-cost-analyses": Resource(
        rule="account",
        create=lambda w, s: {
            "engagement": str(w["engagements", s].uuid),
            "interviewer": w.lead(s).username,
            "title": "Operations",
        },
        parent="engagement",
        change=lambda w, s: {"notes": "Second interview"},
    ),
    "client-intelligence-profiles": Resource(
        rule="account",
        key=lambda profile: str(profile.account.uuid),
        change=lambda w, s: {"business_context": "Regional network"},
    ),
    "discovery-summaries": Resource(rule="account"),
    "certification-enrollments": Resource(rule="own"),
    "kpi-snapshots": Resource(
        rule="oversight", key=lambda snapshot: snapshot.kpi, listed=lambda row: row["kpi"]
    ),
    "tcp-impact": Resource(rule="oversight", singleton=True),
    "documents": Resource(
        rule="account",
        create=lambda w, s: {"kind": "proposal", "engagement": str(w["engagements", s].uuid)},
        parent="engagement",
        actions={"download": None},
    ),
    "hiring-candidates": Resource(
        rule="hiring",
        actions={
            "audition-scores": lambda w, s: {
                "business_applicability": 3,
                "technical_clarity": 2,
                "audience_engagement": 3,
                "presentation_style": 2,
                "would_buy": True,
            }
        },
    ),
}


def _side(world: World, side: str, users: dict[str, User]) -> dict[str, Any]:
    lead = users["owner" if side == "ours" else "outsider"]
    tag = side
    account = AccountFactory.create(name=f"Account {tag}", external_id=f"acc-{tag}")
    seat = TeamMemberFactory.create(account=account, user=lead, role="account_manager")
    engagement = EngagementFactory.create(
        account=account,
        commercial_lead=lead,
        delivery_manager=users["delivery_manager"] if side == "ours" else None,
        external_id=f"eng-{tag}",
    )
    line, _ = ProductLine.objects.get_or_create(name="Imaging")
    milestone = Milestone.objects.create(
        engagement=engagement,
        kind="architecture_review",
        title="Architecture review",
        planned_on=dt.date(2025, 2, 1),
        critical=True,
        external_id=f"ms-{tag}",
    )
    document = Document.objects.create(
        kind="proposal",
        account=account,
        engagement=engagement,
        version=1,
        status="ready",
        requested_by=lead,
        finished_at=timezone.now(),
    )
    document.file.save(f"proposal-{tag}.pdf", ContentFile(b"%PDF-1.4\n%%EOF\n"))
    opening = hiring_services.opening_create(
        title=f"Technical seller {tag}",
        profile=hiring_services.profile_create_starter(actor=users["hiring_manager"]),
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=users["hiring_manager"],
        panel=[],
        actor=users["hiring_manager"],
    )
    return {
        "accounts": account,
        "account-team-members": seat,
        "contacts": ContactFactory.create(account=account, external_id=f"con-{tag}"),
        "products": Product.objects.create(
            line=line, name=f"Archive {tag}", external_id=f"p-{tag}"
        ),
        "engagements": engagement,
        "scope-items": ScopeItem.objects.create(
            engagement=engagement, title="Migration", estimated_days=5, external_id=f"si-{tag}"
        ),
        "scope-changes": ScopeChange.objects.create(
            engagement=engagement,
            effort_delta_days=2,
            cause="scoping_miss",
            approved_by=lead,
            approved_on=dt.date(2025, 1, 10),
            external_id=f"sc-{tag}",
        ),
        "milestones": milestone,
        "revenue-entries": RevenueEntry.objects.create(
            engagement=engagement,
            month=dt.date(2025, 1, 1),
            revenue=100,
            cost=50,
            external_id=f"rev-{tag}",
        ),
        "client-ratings": ClientRating.objects.create(
            engagement=engagement,
            rated_on=dt.date(2025, 1, 20),
            self_rating=7,
            client_rating=8,
            recommend_score=9,
            external_id=f"cr-{tag}",
        ),
        "failure-cost-analyses": AnalysisFactory.create(engagement=engagement, interviewer=lead),
        "client-intelligence-profiles": ClientIntelligenceProfile.objects.create(account=account),
        "discovery-summaries": engagement,
        "certification-enrollments": enrollment_open(
            person=lead, actor=None, on=timezone.localdate()
        ),
        "kpi-snapshots": KpiSnapshot.objects.create(
            kpi="deal_scope_accuracy" if side == "ours" else "delivery_timeline_accuracy",
            period_type="quarter",
            period_start=dt.date(2025, 1, 1),
            numerator=8,
            denominator=10,
            value="80.0000",
        ),
        "tcp-impact": None,
        "documents": document,
        "hiring-candidates": hiring_services.candidate_add(
            opening=opening,
            first_name="Ada",
            last_name=f"Lovelace {tag}",
            email=f"ada-{tag}@example.org",
            actor=users["hiring_manager"],
        ),
    }


def build_world() -> World:
    users = {
        "owner": UserFactory.create(username="owner", roles=[Role.ACCOUNT_MANAGER]),
        "outsider": UserFactory.create(username="outsider", roles=[Role.ACCOUNT_MANAGER]),
        "delivery_manager": UserFactory.create(username="dm", roles=[Role.DELIVERY_MANAGER]),
        "leadership": UserFactory.create(username="leader", roles=[Role.SALES_LEADERSHIP]),
        "administrator": UserFactory.create(
            username="admin", roles=[Role.ADMINISTRATOR], is_staff=True
        ),
        "hiring_manager": UserFactory.create(username="hm", roles=[Role.HIRING_MANAGER]),
    }
    world = World(users=users)
    for side in SIDES:
        world.records[side] = _side(world, side, users)
    # A deletion of each synced resource on each side, for the …/deleted/ lists.
    for resource in SYNCED.values():
        for side in SIDES:
            Tombstone.objects.create(
                resource=resource, uuid=uuid.uuid4(), external_id=f"gone-{resource}-{side}"
            )
    return world


def operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


PATH = re.compile(r"/api/v1/(?P<resource>[^/]+)/(?P<rest>.*)")
ALLOWED_REFUSALS = {403, 409, 412, 422}


# The answers that keep a record from someone: answering one of these with a success is a leak.
REFUSALS = ("401", "404", "not listed")


@dataclass
class Case:
    method: str
    path: str
    role: str
    side: str
    url: str
    body: Any
    expect: str  # "allowed", "listed", "not listed", "404", "401", "422 on <field>", …


def cases_for(world: World, method: str, path: str) -> list[Case] | str:
    """The cases of one operation, or why the matrix cannot build them."""
    match = PATH.fullmatch(path)
    resource = RESOURCES.get(match["resource"]) if match else None
    if match is None or resource is None:
        return "no row for the resource in RESOURCES"
    name, rest = match["resource"], match["rest"]
    found: list[Case] = []

    def target(side: str) -> Any:
        return world[name, side]

    def item_url(side: str, tail: str = "") -> str:
        return f"/api/v1/{name}/{resource.key(target(side))}/{tail}"

    plan: list[tuple[str, Callable[[str], tuple[str, Any]], str, str]] = []
    # (side-independent?) each entry: how to build url/body for a side, and the expectations
    # for a side the role sees and one it does not.
    if rest == "" and method == "GET":
        plan.append(
            (
                "each",
                lambda side: (f"/api/v1/{name}/?limit=1000", None),
                "200" if resource.singleton else "listed",
                "404" if resource.singleton else "not listed",
            )
        )
    elif rest == "" and method == "POST":
        if resource.create is None:
            return "no `create` body in its RESOURCES row"
        create = resource.create
        if resource.parent is None:
            plan.append(
                ("once", lambda side: (f"/api/v1/{name}/", create(world, side)), "allowed", "")
            )
        else:
            plan.append(
                (
                    "each",
                    lambda side: (f"/api/v1/{name}/", create(world, side)),
                    "allowed",
                    f"422 on {resource.parent}",
                )
            )
    elif rest == "{uuid}/" and method in ("GET", "PATCH", "DELETE"):
        if method == "PATCH" and resource.change is None:
            return "no `change` body in its RESOURCES row"
        change: Body = resource.change or (lambda world, side: None)
        plan.append(
            (
                "each",
                lambda side: (item_url(side), change(world, side) if method == "PATCH" else None),
                "200" if method == "GET" else "allowed",
                "404",
            )
        )
    elif rest == "bulk/" and method == "POST":
        if resource.change is None:
            return "no `change` body in its RESOURCES row"
        change = resource.change
        plan.append(
            (
                "each",
                lambda side: (
                    f"/api/v1/{name}/bulk/",
                    [{**change(world, side), "external_id": target(side).external_id}],
                ),
                "bulk applied",
                "bulk not found",
            )
        )
    elif rest == "deleted/" and method == "GET":
        # Who is told of which deletion is tested in test_sync (a deletion is listed to
        # those who could see the record); here, every role may ask.
        plan.append(("once", lambda side: (f"/api/v1/{name}/deleted/", None), "200", ""))
    elif rest == "external/{external_id}/" and method == "PUT":
        if resource.change is None:
            return "no `change` body in its RESOURCES row"
        change = resource.change
        plan.append(
            (
                "each",
                lambda side: (
                    f"/api/v1/{name}/external/{target(side).external_id}/",
                    change(world, side),
                ),
                "allowed",
                "404",
            )
        )
    elif (action := re.fullmatch(r"\{uuid\}/(?P<action>[^/]+)/", rest)) and action[
        "action"
    ] in resource.actions:
        body = resource.actions[action["action"]]
        if method == "POST" and body is None:
            return f"no body for POST …/{action['action']}/ in its RESOURCES row"
        plan.append(
            (
                "each",
                lambda side: (
                    item_url(side, f"{action['action']}/"),
                    body(world, side) if body is not None and method != "GET" else None,
                ),
                "200" if method == "GET" else "allowed",
                "404",
            )
        )
    else:
        return f"no way to call `{rest}` in its RESOURCES row"

    sees = SEES[resource.rule]
    for scope, build, if_seen, if_hidden in plan:
        found.append(Case(method, path, "anonymous", "ours", *build("ours"), "401"))
        for role in ROLES:
            sides = ("ours",) if scope == "once" or resource.singleton else SIDES
            for side in sides:
                seen = scope == "once" or side in sees[role]
                found.append(
                    Case(method, path, role, side, *build(side), if_seen if seen else if_hidden)
                )
    return found


def check(case: Case, response: Any, world: World) -> str | None:
    """What is wrong with the answer, or None."""
    code = response.status_code
    is_json = "json" in (response.get("Content-Type") or "")
    body = response.json() if is_json else None
    expect = case.expect
    if code >= 500:
        return f"a server error {code}"
    if expect == "401":
        return None if code == 401 else f"{code}, not 401"
    if expect == "404":
        return None if code == 404 else f"{code}, not 404"
    if expect == "200":
        return None if code == 200 else f"{code}, not 200: {body}"
    if expect == "allowed":
        if code in (400, 401, 404) or not (200 <= code < 300 or code in ALLOWED_REFUSALS):
            return f"{code}: {body}"
        return None
    if expect.startswith("422 on "):
        name = expect.removeprefix("422 on ")
        if code == 422 and name in (body or {}).get("fields", {}):
            return None
        return f"{code}, not a 422 naming {name}: {body}"
    match = PATH.fullmatch(case.path)
    assert match is not None
    resource = RESOURCES[match["resource"]]
    if code != 200 or body is None:
        return f"{code}, not 200: {body}"
    if expect in ("listed", "not listed"):
        keys = {resource.listed(row) for row in body["results"]}
        key = resource.key(world[match["resource"], case.side])
        if (key in keys) != (expect == "listed"):
            return f"the record is {'missing from' if expect == 'listed' else 'in'} the list"
        return None
    if expect in ("bulk applied", "bulk not found"):
        result = body["results"][0]
        hidden = result.get("errors") == {"external_id": ["Not found, or not yours to see."]}
        if hidden != (expect == "bulk not found"):
            return f"the record's result is {result}"
        return None
    raise AssertionError(f"unknown expectation {expect}")


@pytest.mark.django_db
def test_every_operation_answers_each_role_by_what_it_may_see(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1000000/minute"})
    world = build_world()
    clients = {role: api_client_for(user) for role, user in world.users.items()}
    clients["anonymous"] = APIClient()
    missing: list[str] = []
    wrong: list[str] = []
    count = leaks = 0
    for method, path in operations():
        cases = cases_for(world, method, path)
        if isinstance(cases, str):
            missing.append(f"{method} {path}: {cases}")
            continue
        for case in cases:
            count += 1
            # Each call in a savepoint rolled back after, so every case meets the same world.
            with transaction.atomic():
                response = getattr(clients[case.role], method.lower())(
                    case.url, case.body, format="json"
                )
                transaction.set_rollback(True)
            problem = check(case, response, world)
            if problem and case.expect in REFUSALS and response.status_code < 300:
                leaks += 1
            if problem:
                wrong.append(
                    f"{method} {path} as {case.role} on {case.side} ({case.expect}): {problem}"
                )
    print(f"role matrix: {count} cases")
    figure_add("authz", cases=count, leaks=leaks)
    assert not missing, (
        "The role matrix has no row for these operations: add them to RESOURCES in "
        "tests/api/test_role_matrix.py (a visibility rule, and bodies for writes):\n"
        + "\n".join(missing)
    )
    assert not wrong, f"{len(wrong)} of {count} cases answered wrongly:\n" + "\n".join(wrong)
    assert count > 500
