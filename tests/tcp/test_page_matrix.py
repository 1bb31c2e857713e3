"""Who sees what, exhaustively: every route of the URLconf (pages, htmx partials, downloads,
the back office), for a person of each role and an anonymous visitor, against the record of
their side and the other side's. A role the route is meant for gets an answer (not a 404,
never a 5xx); anyone else a 404 exactly as if the record did not exist, and an anonymous
visitor the sign-in page. The API's operations are asked the same by
tests/api/test_role_matrix.py, built from the OpenAPI schema; here they must all be in it.

The routes come from the URLconf itself, so a URL added without a row in PAGES (or a model
added to the back office without a row in ADMIN_MODELS) fails here, naming what to add.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse, HttpResponseBase
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from scorecard import services as scorecard_services
from tcp.models import User
from tests.api.test_role_matrix import operations
from tests.figures import figure_add
from tests.tcp.page_matrix import ROLES, RULES, SIDES, World, build_world

Args = Callable[[World, str], dict[str, Any]]
KPI = "revenue"  # a KPI with the engagements behind its figures


@dataclass(frozen=True)
class Page:
    """One route: how to name each side's record in its URL (None: it names no record) and
    which rule decides who may GET it and who may POST to it (None: the method is not served)."""

    args: Args | None = None
    get: str | None = None
    post: str | None = None
    htmx: bool = False  # it answers htmx with a part of the page: ask that way too
    query: str = ""


def _on(attr: str, field: str = "pk") -> Callable[[World, str], Any]:
    return lambda w, s: getattr(getattr(w[s], attr), field)


def account(**more: Callable[[World, str], Any]) -> Args:
    return lambda w, s: {"uuid": w[s].account.uuid, **{k: f(w, s) for k, f in more.items()}}


def engagement(**more: Callable[[World, str], Any]) -> Args:
    return lambda w, s: {"uuid": w[s].engagement.uuid, **{k: f(w, s) for k, f in more.items()}}


def interview(**more: Callable[[World, str], Any]) -> Args:
    return engagement(fca=_on("analysis", field="uuid"), **more)


def meeting(**more: Callable[[World, str], Any]) -> Args:
    return lambda w, s: {"uuid": w[s].meeting.uuid, **{k: f(w, s) for k, f in more.items()}}


def uuid_of(attr: str, **more: Callable[[World, str], Any]) -> Args:
    return lambda w, s: {"uuid": getattr(w[s], attr).uuid, **{k: f(w, s) for k, f in more.items()}}


def pk(attr: str) -> Callable[[World, str], Any]:
    return _on(attr)


def const(value: Any) -> Callable[[World, str], Any]:
    return lambda w, s: value


# Views that edit in place: the row's own URL serves GET as a redirect to the page it sits on
# (for whoever sees it) and POST as the save (for whoever may change it).
def inline_row(args: Args, edit: str, view: str = "account") -> Page:
    return Page(args, get=view, post=edit, htmx=True)


def delete_row(args: Args, edit: str) -> Page:
    return Page(args, get=edit, post=edit, htmx=True)


KEY = {"key": const(KPI)}

PAGES: dict[str, Page] = {
    # The core --------------------------------------------------------------------------
    "home": Page(get="signed in"),
    "healthz": Page(get="public"),
    "login": Page(get="public", post="public"),
    "logout": Page(post="signed in"),
    "organisation_settings": Page(get="administrator", post="administrator"),
    "notifications": Page(get="signed in"),
    "notifications_read": Page(post="signed in"),
    "api_tokens": Page(get="signed in", post="signed in"),
    "api_token_revoke": Page(lambda w, s: {"pk": w[s].token.pk}, post="own token", htmx=True),
    "api-schema": Page(get="public"),
    "api-docs": Page(get="public"),
    # Accounts and engagements --------------------------------------------------------------
    "engagements:account_list": Page(get="signed in", htmx=True),
    "engagements:account_create": Page(get="commercial", post="commercial"),
    "engagements:account_detail": Page(account(), get="account"),
    "engagements:account_edit": Page(account(), get="account edit", post="account edit"),
    "engagements:contact_add": Page(account(), post="account edit"),
    "engagements:contact_edit": Page(
        account(contact_uuid=_on("contact", field="uuid")),
        get="account edit",
        post="account edit",
    ),
    "engagements:contact_delete": Page(
        account(contact_uuid=_on("contact", field="uuid")),
        get="account edit",
        post="account edit",
    ),
    "engagements:team_add": Page(account(), get="account edit", post="account edit"),
    "engagements:team_remove": Page(
        account(member_id=pk("seat")), get="account edit", post="account edit"
    ),
    "engagements:engagement_create": Page(account(), get="account edit", post="account edit"),
    "engagements:account_documents": Page(account(), get="account", post="account edit", htmx=True),
    "engagements:engagement_list": Page(get="signed in", htmx=True),
    "engagements:engagement_detail": Page(engagement(), get="account"),
    "engagements:engagement_edit": Page(engagement(), get="account edit", post="account edit"),
    "engagements:engagement_advance": Page(engagement(), post="account edit", htmx=True),
    "engagements:engagement_documents": Page(
        engagement(), get="account", post="account edit", htmx=True
    ),
    "engagements:document_status": Page(uuid_of("document"), get="account", htmx=True),
    "engagements:document_retry": Page(uuid_of("document"), post="account edit", htmx=True),
    "engagements:document_download": Page(uuid_of("document"), get="account"),
    # Delivery: the account team estimates the scope; delivery keeps changes and milestones.
    "engagements:delivery": Page(engagement(), get="account"),
    "engagements:scope_items": inline_row(engagement(), "account edit"),
    "engagements:scope_item": inline_row(engagement(pk=pk("scope_item")), "account edit"),
    "engagements:scope_item_delete": delete_row(engagement(pk=pk("scope_item")), "account edit"),
    "engagements:scope_changes": inline_row(engagement(), "delivery"),
    "engagements:scope_change": inline_row(engagement(pk=pk("scope_change")), "delivery"),
    "engagements:scope_change_delete": delete_row(engagement(pk=pk("scope_change")), "delivery"),
    "engagements:milestones": inline_row(engagement(), "delivery"),
    "engagements:milestone": inline_row(engagement(pk=pk("milestone")), "delivery"),
    "engagements:milestone_delete": delete_row(engagement(pk=pk("milestone")), "delivery"),
    "engagements:milestone_attendance": Page(
        engagement(pk=pk("milestone")), get="delivery", post="delivery", htmx=True
    ),
    "engagements:my_milestones": Page(get="signed in"),
    "engagements:participation": Page(get="oversight"),
    "engagements:participation_chart": Page(get="oversight"),
    # The golden thread: the success plan ----------------------------------------------------
    "engagements:success_plan": Page(
        engagement(), get="account", post="success plan edit", htmx=True
    ),
    "engagements:success_plan_steps": Page(engagement(), post="success plan edit", htmx=True),
    "engagements:success_plan_step": Page(
        engagement(pk=pk("step")), post="success plan edit", htmx=True
    ),
    "engagements:success_plan_step_delete": delete_row(
        engagement(pk=pk("step")), "success plan edit"
    ),
    "engagements:success_plan_metrics": Page(engagement(), post="success plan edit", htmx=True),
    "engagements:success_plan_metric": Page(
        engagement(pk=pk("metric")), post="success plan edit", htmx=True
    ),
    "engagements:success_plan_metric_delete": delete_row(
        engagement(pk=pk("metric")), "success plan edit"
    ),
    "engagements:success_plan_metric_chart": Page(engagement(pk=pk("metric")), get="account"),
    "engagements:success_plan_readings": Page(engagement(), post="success plan edit", htmx=True),
    "engagements:success_plan_activities": Page(engagement(), post="success plan edit", htmx=True),
    "engagements:success_plan_activity_delete": delete_row(
        engagement(pk=pk("activity")), "success plan edit"
    ),
    # 1:1 cadence meetings ------------------------------------------------------------------
    "engagements:one_on_one_list": Page(get="signed in", htmx=True),
    "engagements:one_on_one_start": Page(post="manages someone", htmx=True),
    "engagements:one_on_one_detail": Page(
        meeting(), get="meeting", post="meeting party", htmx=True
    ),
    "engagements:one_on_one_delete": delete_row(meeting(), "meeting manager"),
    "engagements:one_on_one_opportunity": Page(
        meeting(pk=pk("opportunity")), post="meeting party", htmx=True
    ),
    "engagements:one_on_one_temperature": Page(
        meeting(pk=pk("temperature")), post="meeting party", htmx=True
    ),
    "engagements:one_on_one_steps": Page(meeting(), post="meeting party", htmx=True),
    "engagements:one_on_one_step": Page(
        meeting(pk=pk("next_step")), post="meeting party", htmx=True
    ),
    "engagements:one_on_one_step_done": Page(
        meeting(pk=pk("next_step")), post="meeting party", htmx=True
    ),
    "engagements:one_on_one_step_delete": delete_row(meeting(pk=pk("next_step")), "meeting party"),
    "engagements:one_on_one_career_note": Page(meeting(), post="meeting party", htmx=True),
    # Discovery ----------------------------------------------------------------------------
    "discovery:profile": Page(account(), get="account", post="account edit", htmx=True),
    "discovery:profile_items": Page(account(kind=const("targets")), post="account edit", htmx=True),
    "discovery:profile_item": Page(
        account(kind=const("targets"), pk=pk("growth_target")), post="account edit", htmx=True
    ),
    "discovery:profile_item_delete": delete_row(
        account(kind=const("targets"), pk=pk("growth_target")), "account edit"
    ),
    "discovery:checklist": Page(engagement(), get="account"),
    "discovery:analysis_create": Page(engagement(), post="account edit"),
    "discovery:analysis": Page(interview(), get="account", post="account edit", htmx=True),
    "discovery:analysis_delete": delete_row(interview(), "account edit"),
    "discovery:analysis_complete": Page(interview(), post="account edit", htmx=True),
    "discovery:analysis_reopen": Page(interview(), post="account edit", htmx=True),
    "discovery:analysis_sign_off": Page(interview(), post="account edit", htmx=True),
    "discovery:scenarios": Page(interview(), post="account edit", htmx=True),
    "discovery:scenario": Page(interview(pk=pk("scenario")), post="account edit", htmx=True),
    "discovery:scenario_delete": delete_row(interview(pk=pk("scenario")), "account edit"),
    "discovery:constraints": inline_row(engagement(), "account edit"),
    "discovery:constraint": inline_row(engagement(pk=pk("constraint")), "account edit"),
    "discovery:constraint_delete": delete_row(engagement(pk=pk("constraint")), "account edit"),
    "discovery:tco": Page(engagement(), get="account", post="account edit", htmx=True),
    "discovery:tco_chart": Page(engagement(), get="account"),
    "discovery:alternatives": Page(engagement(), post="account edit", htmx=True),
    "discovery:alternative": Page(engagement(pk=pk("alternative")), post="account edit", htmx=True),
    "discovery:alternative_delete": delete_row(engagement(pk=pk("alternative")), "account edit"),
    "discovery:lines": Page(engagement(pk=pk("alternative")), post="account edit", htmx=True),
    "discovery:downtime": Page(engagement(pk=pk("alternative")), post="account edit", htmx=True),
    "discovery:line": Page(engagement(pk=pk("line")), post="account edit", htmx=True),
    "discovery:line_delete": delete_row(engagement(pk=pk("line")), "account edit"),
    # Certification ------------------------------------------------------------------------
    "certification:mine": Page(get="signed in"),
    "certification:enrollment": Page(uuid_of("enrollment"), get="enrollment"),
    "certification:team": Page(get="certification team", htmx=True),
    "certification:leadership": Page(get="oversight"),
    "certification:coverage": Page(get="oversight"),
    "certification:assess_list": Page(get="assessor", htmx=True),
    "certification:assess": Page(uuid_of("enrollment"), get="assessor", post="assessor", htmx=True),
    "certification:result_delete": Page(uuid_of("result"), get="assessor", post="assessor"),
    "certification:evidence": Page(uuid_of("result"), get="enrollment"),
    # Hiring -----------------------------------------------------------------------------
    "hiring:openings": Page(get="signed in", post="hiring manager", htmx=True),
    "hiring:opening": Page(uuid_of("opening"), get="hiring", post="hiring manager", htmx=True),
    "hiring:compare": Page(uuid_of("opening"), get="hiring"),
    "hiring:opening_close": Page(
        uuid_of("opening"), get="hiring manager", post="hiring manager", htmx=True
    ),
    "hiring:opening_reopen": Page(uuid_of("opening"), post="hiring manager", htmx=True),
    "hiring:panel": Page(
        uuid_of("opening"), get="hiring manager", post="hiring manager", htmx=True
    ),
    "hiring:profiles": Page(get="hiring manager", post="hiring manager", htmx=True),
    "hiring:profile": Page(
        uuid_of("job_profile"), get="hiring manager", post="hiring manager", htmx=True
    ),
    "hiring:attributes": Page(uuid_of("job_profile"), post="hiring manager", htmx=True),
    "hiring:attribute": Page(
        uuid_of("job_profile", pk=pk("attribute")), post="hiring manager", htmx=True
    ),
    "hiring:attribute_delete": delete_row(
        uuid_of("job_profile", pk=pk("attribute")), "hiring manager"
    ),
    "hiring:plan_add": Page(uuid_of("job_profile"), post="hiring manager", htmx=True),
    "hiring:plan_remove": delete_row(uuid_of("job_profile", pk=pk("planned")), "hiring manager"),
    "hiring:plan_move": Page(
        uuid_of("job_profile", pk=pk("planned")), post="hiring manager", htmx=True
    ),
    "hiring:question_add": Page(uuid_of("job_profile"), post="hiring manager", htmx=True),
    "hiring:candidate": Page(uuid_of("candidate"), get="hiring"),
    "hiring:interview": Page(uuid_of("candidate"), post="hiring manager", htmx=True),
    "hiring:deliverable": Page(uuid_of("candidate"), post="hiring manager", htmx=True),
    "hiring:disc": Page(uuid_of("candidate"), post="hiring manager", htmx=True),
    "hiring:disc_chart": Page(uuid_of("candidate"), get="hiring"),
    "hiring:stage": Page(uuid_of("candidate"), post="hiring manager", htmx=True),
    "hiring:hire": Page(uuid_of("candidate"), post="hiring manager", htmx=True),
    "hiring:erase": Page(
        uuid_of("candidate"), get="hiring manager", post="hiring manager", htmx=True
    ),
    "hiring:audition": Page(uuid_of("candidate"), get="panel", post="panel", htmx=True),
    "hiring:attach": Page(uuid_of("candidate"), post="hiring manager"),
    "hiring:document": Page(uuid_of("candidate", field=const("cv")), get="hiring"),
    # Scorecard ----------------------------------------------------------------------------
    "scorecard:scorecard": Page(get="commercial", htmx=True),
    "scorecard:impact": Page(get="oversight"),
    "scorecard:impact_chart": Page(get="oversight"),
    "scorecard:targets": Page(get="oversight", post="oversight"),
    "scorecard:recompute": Page(post="administrator", htmx=True),
    "scorecard:recompute_status": Page(get="administrator", htmx=True),
    "scorecard:kpi": Page(lambda w, s: {"key": KPI}, get="commercial", htmx=True),
    "scorecard:kpi_engagements": Page(lambda w, s: {"key": KPI}, get="commercial", htmx=True),
    "scorecard:kpi_trend_chart": Page(lambda w, s: {"key": KPI}, get="commercial"),
    "scorecard:kpi_breakdown_chart": Page(lambda w, s: {"key": KPI}, get="commercial"),
    "scorecard:sparkline": Page(lambda w, s: {"key": KPI}, get="commercial"),
}

# Routes naming a constant rather than a record (a KPI's key): one case per role, not two.
SIDELESS = {name for name, page in PAGES.items() if name.startswith("scorecard:kpi")} | {
    "scorecard:sparkline"
}

# The back office: every registered model's pages, each naming a record of each side (the
# same record for both where the model has no sides).
# Where each record is: a key of World.singles, "lead" (the side's commercial lead), or an
# attribute of the side.
ADMIN_MODELS: dict[str, str] = {
    "auth.group": "group",
    "axes.accessattempt": "attempt",
    "axes.accesslog": "access",
    "axes.accessfailurelog": "failure",
    "tcp.user": "lead",
    "tcp.organisationsettings": "organisation",
    "tcp.auditlogentry": "audit",
    "tcp.notification": "notification",
    "engagements.account": "account",
    "engagements.engagement": "engagement",
    "engagements.stagechange": "stage_change",
    "engagements.productline": "product.line",
    "engagements.product": "product",
    "engagements.revenueentry": "revenue",
    "engagements.clientrating": "rating",
    "engagements.milestone": "milestone",
    "engagements.scopechange": "scope_change",
    "engagements.successplan": "plan",
    "engagements.oneonone": "meeting",
    "engagements.document": "document",
    "discovery.failurecostanalysis": "analysis",
    "discovery.clientintelligenceprofile": "profile",
    "certification.curriculum": "enrollment.curriculum",
    "certification.enrollment": "enrollment",
    "certification.reminder": "reminder",
    "hiring.jobprofile": "job_profile",
    "hiring.question": "question",
    "scorecard.kpisnapshot": "snapshot",
    "scorecard.kpitarget": "target",
}


def admin_record(world: World, side: str, where: str) -> Any:
    if where in world.singles:
        return world.singles[where]
    if where == "lead":
        return world.users["owner" if side == "ours" else "outsider"]
    return attrgetter(where)(world[side])


def _admin_pages() -> dict[str, Page]:
    """The back office's own routes, and each registered model's."""
    staff = "staff"
    pages = {
        "admin:index": Page(get=staff),
        "admin:login": Page(get="public", post="public"),
        "admin:logout": Page(post=staff),
        "admin:password_change": Page(get=staff, post=staff),
        "admin:password_change_done": Page(get=staff),
        # Without a field to complete the back office refuses (403): a rule, not a leak.
        "admin:autocomplete": Page(get=staff),
        "admin:jsi18n": Page(get=staff),
        "admin:view_on_site": Page(
            lambda w, s: {
                "content_type_id": ContentType.objects.get_for_model(w[s].account).pk,
                "object_id": w[s].account.pk,
            },
            get=staff,
        ),
        "admin:app_list": Page(lambda w, s: {"app_label": "engagements"}, get=staff),
        # A person's password, set by the back office (Django's user admin names it auth_user).
        "admin:auth_user_password_change": Page(
            lambda w, s: {"id": w.users["owner" if s == "ours" else "outsider"].pk}, get=staff
        ),
        # Anything else under /admin/ is not found, for staff as for everyone else.
        "admin/(?P<url>.*)$": Page(lambda w, s: {"url": "nowhere/"}, get="nobody"),
    }
    for model in admin.site._registry:
        label = model._meta.label_lower
        if label not in ADMIN_MODELS:
            continue  # reported by test_every_route_has_a_row_in_the_matrix
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"

        def of(w: World, s: str, where: str = ADMIN_MODELS[label]) -> dict[str, Any]:
            return {"object_id": admin_record(w, s, where).pk}

        pages[f"{prefix}_changelist"] = Page(get=staff)
        pages[f"{prefix}_add"] = Page(get=staff)
        for action in ("change", "delete", "history"):
            pages[f"{prefix}_{action}"] = Page(of, get=staff)
        # The bare record URL: the back office's redirect to its change page.
        pages[f"admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/"] = Page(
            of, get=staff
        )
    return pages


def walk(
    resolver: URLResolver | None = None, names: tuple[str, ...] = (), prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(key, route) of every URL pattern: the namespaced name, or the route for one without."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from walk(entry, (*names, entry.namespace) if entry.namespace else names, route)
        elif isinstance(entry, URLPattern):
            key = ":".join((*names, entry.name)) if entry.name else route
            yield key, route


API = re.compile(r"api/v1/")


def _schema_path(route: str) -> str:
    """/api/v1/accounts/{uuid}/ for the router's api/v1/^accounts/(?P<uuid>[^/]+)/$."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route).replace("^", "").replace("$", "")
    return "/" + path


def test_every_route_has_a_row_in_the_matrix() -> None:
    pages = {**PAGES, **_admin_pages()}
    found = dict(walk())
    in_schema = {path for _method, path in operations()}
    missing: list[str] = []
    for key, route in found.items():
        if API.match(route):
            # The router's catch-all answers every other path under /api/v1/ with a 404.
            if route != "api/v1/^" and _schema_path(route) not in in_schema:
                missing.append(f"{key} ({route}): not in the OpenAPI schema")
        elif key not in pages:
            missing.append(f"add {key} to PAGES in tests/tcp/test_page_matrix.py")
    unregistered = sorted(
        model._meta.label_lower
        for model in admin.site._registry
        if model._meta.label_lower not in ADMIN_MODELS
    )
    missing += [
        f"add {label} to ADMIN_MODELS in tests/tcp/test_page_matrix.py" for label in unregistered
    ]
    stale = sorted(set(pages) - set(found))
    assert not missing, "Routes the page matrix does not ask about:\n" + "\n".join(missing)
    assert not stale, "Rows of the page matrix for routes that no longer exist: " + ", ".join(stale)


# The matrix ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    role: str  # one of ROLES, or "anonymous"
    side: str  # "ours", "theirs", or "-" for a route naming no record
    url: str
    htmx: bool
    allowed: bool

    def __str__(self) -> str:
        how = " (htmx)" if self.htmx else ""
        return f"{self.method} {self.route} as {self.role} on {self.side}{how}: {self.url}"


def cases(world: World) -> list[Case]:
    found: list[Case] = []
    for route, page in {**PAGES, **_admin_pages()}.items():
        sides = SIDES if page.args is not None and route not in SIDELESS else ("-",)
        for method, rule in (("GET", page.get), ("POST", page.post)):
            if rule is None:
                continue
            for side in sides:
                kwargs = page.args(world, "ours" if side == "-" else side) if page.args else {}
                if route.startswith("admin/"):
                    url = "/" + re.sub(r"<path:object_id>|\(\?P<url>\.\*\)\$", "{}", route)
                    url = url.format(*kwargs.values())
                else:
                    url = reverse(route, kwargs=kwargs)
                url += page.query
                for role in (*ROLES, "anonymous"):
                    if role == "anonymous":
                        allowed = rule == "public"
                    elif rule == "public":
                        allowed = True
                    else:
                        reach = RULES[rule][role]
                        allowed = bool(reach) if side == "-" else side in reach
                    for htmx in (False, True) if page.htmx else (False,):
                        found.append(Case(route, method, role, side, url, htmx, allowed))
    return found


def _refusal(case: Case) -> tuple[int, tuple[str, ...]]:
    """What someone the route is not for gets: the status, and where a redirect may go."""
    in_admin = case.route.startswith("admin")
    if case.role == "anonymous":
        # The back office's own pages send visitors to its sign-in; its models' pages are
        # stopped first by the site-wide sign-in.
        return 302, (reverse("login"), reverse("admin:login")) if in_admin else (reverse("login"),)
    if in_admin and case.role != "administrator":
        # Signing out of a back office one was never in goes back to its front door.
        return 302, (reverse("admin:index" if case.route == "admin:logout" else "admin:login"),)
    return 404, ()


def judge(case: Case, response: HttpResponseBase) -> tuple[str | None, bool]:
    """What is wrong with the answer (or None), and whether it is a leak: an answer to
    someone the route is not for that shows them something."""
    code = response.status_code
    if code >= 500:
        return f"a server error {code}", False
    if case.allowed:
        if code in (404, 405):
            return f"{code}, though the route is meant for them", False
        return None, False
    # A download streams: it has no `content`, and it is a leak by its status already.
    leak = code < 300 or (code == 403 and bool(getattr(response, "content", b"")))
    status, places = _refusal(case)
    if code != status:
        return f"{code}, not {status}", leak
    if places and not response["Location"].startswith(places):
        return f"sent to {response['Location']}, not {' or '.join(places)}", leak
    return None, leak


@pytest.fixture(scope="module")
def world(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """One world for the module, rolled back after it: building it costs more than asking."""
    media = tmp_path_factory.mktemp("page-matrix-media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)
    # The administrator's "recompute now" leaves its progress in the cache, not the database.
    cache.delete(scorecard_services.PROGRESS_KEY)


@pytest.fixture(scope="module")
def clients(world: World, django_db_blocker: Any) -> dict[str, Client]:
    with django_db_blocker.unblock():
        signed_in = {role: _client(world.users[role]) for role in ROLES}
    return {**signed_in, "anonymous": Client()}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(client: Client, case: Case) -> Any:
    """The answer to one case, inside a savepoint undone after it: every case meets the
    same world, whatever an allowed POST changed."""
    headers = {"HX-Request": "true"} if case.htmx else {}
    with transaction.atomic():
        call = client.get if case.method == "GET" else client.post
        response = call(case.url, headers=headers)
        transaction.set_rollback(True)
    return response


@pytest.mark.django_db
def test_every_route_answers_each_role_by_what_it_may_reach(
    world: World, clients: dict[str, Client]
) -> None:
    wrong: list[str] = []
    leaks: list[str] = []
    all_cases = cases(world)
    for case in all_cases:
        response = ask(clients[case.role], case)
        problem, leak = judge(case, response)
        if leak:
            leaks.append(f"{case}: {response.status_code}")
        if problem:
            wrong.append(f"{case}: {problem}")
        if "logout" in case.route and case.role != "anonymous":
            clients[case.role].force_login(world.users[case.role])
    print(f"page matrix: {len(all_cases)} cases, {len(leaks)} leaks")
    figure_add("authz", cases=len(all_cases), leaks=len(leaks))
    assert not leaks, f"{len(leaks)} of {len(all_cases)} cases leak:\n" + "\n".join(leaks)
    assert not wrong, f"{len(wrong)} of {len(all_cases)} cases answered wrongly:\n" + "\n".join(
        wrong
    )
    assert len(all_cases) > 3000


def test_a_refused_answer_with_something_in_it_counts_as_a_leak() -> None:
    refused = Case("engagements:account_detail", "GET", "outsider", "ours", "/", False, False)
    allowed = Case("engagements:account_detail", "GET", "owner", "ours", "/", False, True)
    assert judge(refused, HttpResponse("Northvale", status=200)) == ("200, not 404", True)
    assert judge(refused, HttpResponse("Forbidden", status=403)) == ("403, not 404", True)
    assert judge(refused, HttpResponse(status=404)) == (None, False)
    assert judge(allowed, HttpResponse(status=404))[0] is not None
    assert judge(allowed, HttpResponse(status=500))[0] == "a server error 500"


# Role-level actions ---------------------------------------------------------------------------

PERIOD = "period_type=quarter&start=2025-01-01"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _exports() -> list[str]:
    board = reverse("scorecard:scorecard")
    kpi = reverse("scorecard:kpi", kwargs={"key": KPI})
    return [
        *(f"{board}?format={fmt}&{PERIOD}" for fmt in ("csv", "xlsx")),
        *(
            f"{kpi}?format={fmt}&table={table}&{PERIOD}"
            for fmt in ("csv", "xlsx")
            for table in ("trend", "breakdown", "engagements")
        ),
    ]


@pytest.mark.django_db
def test_exports_download_only_for_a_scorecard_and_hold_only_what_it_covers(
    world: World, clients: dict[str, Client]
) -> None:
    asked = leaks = 0
    for role in (*ROLES, "anonymous"):
        allowed = role != "anonymous" and bool(RULES["commercial"][role])
        for url in _exports():
            asked += 1
            response = clients[role].get(url)
            if allowed:
                assert response.status_code == 200, (role, url)
                assert response["Content-Type"].startswith(("text/csv", XLSX)), (role, url)
            else:
                leaks += response.status_code < 300
                assert response.status_code == (302 if role == "anonymous" else 404), (role, url)
    figure_add("authz", cases=asked, leaks=leaks)
    assert leaks == 0
    engagements = f"{reverse('scorecard:kpi', kwargs={'key': KPI})}?format=csv&table=engagements"
    ours, theirs = world["ours"].engagement.name, world["theirs"].engagement.name
    owners = clients["owner"].get(f"{engagements}&{PERIOD}").text
    assert ours in owners
    assert theirs not in owners
    leaders = clients["leadership"].get(f"{engagements}&{PERIOD}").text
    assert ours in leaders
    assert theirs in leaders


@pytest.mark.django_db
def test_recompute_now_is_the_administrators_alone(
    world: World, clients: dict[str, Client]
) -> None:
    for role in ROLES:
        cache.delete(scorecard_services.PROGRESS_KEY)
        recompute = reverse("scorecard:recompute")
        response = ask(clients[role], Case(recompute, "POST", role, "-", recompute, False, False))
        started = scorecard_services.recompute_progress() is not None
        if role == "administrator":
            assert (response.status_code, started) == (302, True)
        else:
            assert (response.status_code, started) == (404, False), role
    cache.delete(scorecard_services.PROGRESS_KEY)


@pytest.mark.django_db
def test_targets_are_set_by_oversight_roles_only(world: World, clients: dict[str, Client]) -> None:
    target = world.singles["target"]
    body = {"kpi": target.kpi, "period_type": "quarter", "target": "123", "amber_margin": "5"}
    for role in ROLES:
        with transaction.atomic():
            response = clients[role].post(reverse("scorecard:targets"), body)
            target.refresh_from_db()
            saved = target.target == 123
            transaction.set_rollback(True)
        if RULES["oversight"][role]:
            assert (response.status_code, saved) == (302, True), role
        else:
            assert (response.status_code, saved) == (404, False), role


def _form_data(form: Any, **changes: Any) -> dict[str, Any]:
    """What the page's form posts back unchanged, with `changes` on top."""
    data: dict[str, Any] = {}
    for field in form:
        value = field.value()
        if value is None or value is False:
            continue
        data[field.html_name] = [str(v) for v in value] if isinstance(value, list) else value
    return {**data, **changes}


@pytest.mark.django_db
def test_organisation_settings_are_changed_by_administrators_only(
    world: World, clients: dict[str, Client]
) -> None:
    from tcp.forms import OrganisationSettingsForm

    organisation = world.singles["organisation"]
    body = _form_data(OrganisationSettingsForm(instance=organisation), name="Renamed Ltd")
    admin_page = reverse("admin:tcp_organisationsettings_change", args=[organisation.pk])
    for role in ROLES:
        with transaction.atomic():
            page = clients[role].post(reverse("organisation_settings"), body)
            back_office = clients[role].post(admin_page, body)
            organisation.refresh_from_db()
            renamed = organisation.name == "Renamed Ltd"
            transaction.set_rollback(True)
        if role == "administrator":
            assert (page.status_code, renamed) == (302, True)
        else:
            assert (page.status_code, renamed) == (404, False), role
            assert back_office.status_code == 302, role
            assert back_office["Location"].startswith(reverse("admin:login")), role


@pytest.mark.django_db
def test_a_candidate_moves_on_only_by_a_hiring_manager(
    world: World, clients: dict[str, Client]
) -> None:
    candidate = world["ours"].candidate
    url = reverse("hiring:stage", args=[candidate.uuid])
    for role in ROLES:
        with transaction.atomic():
            response = clients[role].post(url, {"stage": "interview", "reason": "Strong CV"})
            candidate.refresh_from_db()
            moved = candidate.stage == "interview"
            transaction.set_rollback(True)
        if RULES["hiring manager"][role]:
            assert (response.status_code, moved) == (302, True), role
        else:
            # The owner sits on this opening's panel: they see the candidate, not decide.
            assert (response.status_code, moved) == (404, False), role


# Read-only fields -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_engagement_form_cannot_move_its_stage_account_or_history(
    world: World, clients: dict[str, Client]
) -> None:
    from engagements.forms import EngagementForm

    engagement = world["ours"].engagement
    before = (engagement.stage, engagement.account_id, engagement.created_at, engagement.uuid)
    body = _form_data(
        EngagementForm(instance=engagement),
        description="Phase two",
        stage="contracted",
        account=world["theirs"].account.pk,
        created_at="2001-01-01T00:00:00Z",
        uuid=str(world["theirs"].engagement.uuid),
    )
    with transaction.atomic():
        response = clients["owner"].post(
            reverse("engagements:engagement_edit", args=[engagement.uuid]), body
        )
        engagement.refresh_from_db()
        after = (engagement.stage, engagement.account_id, engagement.created_at, engagement.uuid)
        saved = engagement.description
        transaction.set_rollback(True)
    assert response.status_code == 302
    assert saved == "Phase two"  # the owner may edit the engagement…
    assert after == before  # …but not these


@pytest.mark.django_db
def test_the_api_refuses_to_write_read_only_fields_and_keeps_the_stored_values(
    world: World,
) -> None:
    from rest_framework.test import APIClient

    from tcp.services import api_token_create

    def api(role: str) -> APIClient:
        _, raw = api_token_create(user=world.users[role], name="read-only", actor=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    engagement = world["ours"].engagement
    milestone = world["ours"].milestone
    engagement.refresh_from_db()
    stored = (engagement.version, engagement.created_at, engagement.uuid, engagement.stage)
    writes = [
        ("owner", f"/api/v1/engagements/{engagement.uuid}/", {"version": 99}, "version"),
        (
            "owner",
            f"/api/v1/engagements/{engagement.uuid}/",
            {"created_at": "2001-01-01T00:00:00Z"},
            "created_at",
        ),
        ("owner", f"/api/v1/engagements/{engagement.uuid}/", {"id": str(milestone.uuid)}, "id"),
        ("owner", f"/api/v1/engagements/{engagement.uuid}/", {"stage": "contracted"}, "stage"),
        # Held is recorded with the attendance, by the attendance action.
        (
            "delivery_manager",
            f"/api/v1/milestones/{milestone.uuid}/",
            {"held_on": "2025-02-01"},
            "held_on",
        ),
    ]
    for role, url, body, name in writes:
        response = api(role).patch(url, body, format="json")
        assert 400 <= response.status_code < 500, (url, body, response.status_code)
        assert name in response.json().get("fields", {}), response.json()
    engagement.refresh_from_db()
    milestone.refresh_from_db()
    assert (engagement.version, engagement.created_at, engagement.uuid, engagement.stage) == stored
    assert milestone.held_on is None


@pytest.mark.django_db
def test_a_panel_member_scores_the_audition_but_writes_no_decision(
    world: World, clients: dict[str, Client]
) -> None:
    candidate = world["ours"].candidate
    scores = dict.fromkeys(
        (
            "business_applicability",
            "technical_clarity",
            "audience_engagement",
            "presentation_style",
        ),
        "2",
    )
    body = {
        **scores,
        "would_buy": "yes",
        "stage": "hired",
        "decision_reason": "The panel loved it",
        "decided_by": world.users["owner"].pk,
    }
    with transaction.atomic():
        # The panel scores a candidate at the audition.
        type(candidate).objects.filter(pk=candidate.pk).update(stage="audition")
        scored = clients["owner"].post(reverse("hiring:audition", args=[candidate.uuid]), body)
        hired = clients["owner"].post(
            reverse("hiring:hire", args=[candidate.uuid]), {"username": "ada"}
        )
        candidate.refresh_from_db()
        state = (candidate.stage, candidate.decided_by_id, candidate.decision_reason)
        marks = candidate.audition_scores.filter(panelist=world.users["owner"]).count()
        transaction.set_rollback(True)
    assert (scored.status_code, marks) == (302, 1)
    assert hired.status_code == 404
    assert state == ("audition", None, "")


@pytest.mark.django_db
def test_results_are_entered_by_assessors_and_pass_by_their_score_alone(
    world: World, clients: dict[str, Client]
) -> None:
    enrollment = world["ours"].enrollment
    module = enrollment.curriculum.modules.exclude(pk=world["ours"].result.module_id).first()
    url = reverse("certification:assess", args=[enrollment.uuid])
    body = {
        "module": module.pk,
        "score": "10",
        "assessed_on": timezone.localdate().isoformat(),
        "passed": "on",
        "assessor": world.users["owner"].pk,
    }
    with transaction.atomic():
        own = clients["owner"].post(url, body)
        after_own = enrollment.results.filter(module=module).count()
        assessed = clients["leadership"].post(url, body)
        result = enrollment.results.filter(module=module).get()
        outcome = (result.passed, result.assessor_id)
        transaction.set_rollback(True)
    assert (own.status_code, after_own) == (404, 0)  # nobody enters their own result
    assert assessed.status_code == 302
    assert outcome == (False, world.users["leadership"].pk)
