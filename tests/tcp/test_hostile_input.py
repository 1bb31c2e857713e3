"""Hostile input at every entry point: each form field of every page, each query parameter of
every list and each field of every API write meets a corpus of bad values (tests/tcp/hostile.py)
and answers with a clear refusal, never a server error; a refused form saves nothing; and text
that reaches a PDF is printed, never fetched or run."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from engagements.models import Account, Engagement, RevenueEntry
from tcp.api_auth import TokenRateThrottle
from tcp.models import User
from tests.api import test_role_matrix as role_matrix
from tests.api.conftest import api_client_for
from tests.api.test_role_matrix import Case, World
from tests.figures import figure_add
from tests.tcp import hostile
from tests.tcp.hostile import CORPUS, HUGE_NUMBER, HUGE_STRING, Bad, Form, Tally

pytestmark = pytest.mark.django_db

# Who walks the pages: each persona of the demo organisation, so every form someone may use
# is found by someone who may use it.
PERSONAS = ("am.alex", "dm.dana", "tm.tariq", "hm.harper", "leader", "admin")

# A refusal a person can see beside the field or above the form.
FIELD_ERROR = re.compile(
    r'class="invalid-feedback d-block"[^>]*>\s*[^<\s]|class="alert alert-danger"|has-error'
)

# Written by every request (the session) or by a sign-in attempt, not by a form's save.
UNCOUNTED_TABLES = {"django_session"}


def _client(user: User) -> Client:
    # A server error comes back as the 500 a browser would get, to be counted, not raised.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def demo(db: None, settings: Any, tmp_path: Any) -> dict[str, Client]:
    """The demo organisation, and a signed-in browser for each persona."""
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", verbosity=0)
    return {name: _client(User.objects.get(username=name)) for name in PERSONAS}


def _rows_written() -> tuple[tuple[str, int], ...]:
    """Rows this transaction has inserted, updated or deleted so far, per table.

    PostgreSQL counts them per transaction (rolled-back savepoints included), so a write
    that a later step undid still shows, and nothing has to scan the tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
            " WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 AND NOT relname = ANY(%s)"
            " ORDER BY relname",
            [sorted(UNCOUNTED_TABLES)],
        )
        return tuple(cursor.fetchall())


def _assert_clean(tally: Tally) -> None:
    """Report what was sent, then fail on any server error or wrong answer."""
    print(f"{tally.tried} requests, {len(tally.server_errors)} server errors")
    figure_add("bad-inputs", tried=tally.tried, server_errors=len(tally.server_errors))
    assert not tally.server_errors, tally.report()
    assert not tally.wrong, tally.report()


def _shows_error(response: Any) -> bool:
    return bool(FIELD_ERROR.search(response.content.decode(errors="replace")))


def _forms_by_who_may_use_them(
    demo: dict[str, Client], tally: Tally
) -> Iterator[tuple[Form, Client, str]]:
    """Each distinct form of the site, with the first persona the page offered it to."""
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    for name, client in demo.items():
        walk = hostile.crawl(client, ["/"])
        tally.tried += walk.requests
        tally.server_errors += [f"{name}: {failure}" for failure in walk.failures]
        for form in walk.forms:
            if form.method == "post" and form.key() not in seen and form.targets():
                seen.add(form.key())
                yield form, client, name


def _post(client: Client, form: Form, pairs: list[tuple[str, bytes]], *, htmx: bool) -> Any:
    body, content_type = hostile.form_body(form, pairs)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.generic("POST", form.action, body, content_type=content_type, headers=headers)


def _with(form: Form, name: str, value: bytes) -> list[tuple[str, bytes]]:
    """The form as the page stands, with `name` (every occurrence, or added) set to `value`."""
    pairs = [(k, value if k == name else v.encode()) for k, v in form.baseline()]
    if all(k != name for k, _ in pairs):
        pairs.append((name, value))
    return pairs


def _with_all(form: Form, value: bytes) -> list[tuple[str, bytes]]:
    """The form with every field a person can fill set to `value`."""
    targets = set(form.targets())
    pairs = [(k, value if k in targets else v.encode()) for k, v in form.baseline()]
    return pairs + [(name, value) for name in targets - {k for k, _ in pairs}]


# The values that pass a form's own checks for some kind of field and reach the services and
# the database: each goes into each field alone, the others as the page stands. Every value
# of the corpus also goes into all the fields at once (two cores cannot afford each value
# into each field alone for every form of the site).
TEXT_BREAKERS = {"NUL byte", "lone surrogate"}
NUMBER_BREAKERS = {"2**63", "-2**63-1", "1e309", HUGE_NUMBER.name}
EACH_FIELD = TEXT_BREAKERS | NUMBER_BREAKERS
# The kinds of field a number can be typed or sent in (a choice or a hidden field carries ids);
# a date, a checkbox or a text area alone gets the text breakers only.
NUMBER_KINDS = {"text", "number", "select", "hidden", "search", "range"}


def _sends(form: Form, first: bool) -> Iterator[tuple[str, Bad, bool]]:
    """(field or "*" for all of them, value, with htmx) of one form."""
    # The 10 MB value once: Django refuses a body over its limit before any form sees it.
    values = [*CORPUS, HUGE_NUMBER, *([HUGE_STRING] if first else [])]
    for bad in values:
        yield "*", bad, form.htmx
    # An htmx form is sent as htmx sends it (its reply is a fragment) and also as a plain
    # submit (no JavaScript: the whole page again). The form's checks are the same either
    # way, so the plain submit gets the values that reach the database.
    if form.htmx:
        for bad in values:
            if bad.name in EACH_FIELD:
                yield "*", bad, False
    kinds: dict[str, str] = {}
    for f in form.fields:
        kinds.setdefault(f.name, f.kind)
    for name in form.targets():
        alone = EACH_FIELD if kinds[name] in NUMBER_KINDS else TEXT_BREAKERS
        for bad in [*CORPUS, HUGE_NUMBER]:
            if bad.name in alone:
                yield name, bad, form.htmx


def test_every_form_field_refuses_each_bad_value_beside_the_field_and_saves_nothing(
    demo: dict[str, Client],
) -> None:
    tally = Tally()
    started = time.monotonic()
    forms = list(_forms_by_who_may_use_them(demo, tally))
    outcomes: dict[str, int] = {}
    for number, (form, client, who) in enumerate(forms):
        for name, bad, htmx in _sends(form, first=number == 0):
            what = f"{who} POST {form.route} {name}={bad.name}{' (htmx)' if htmx else ''}"
            pairs = _with_all(form, bad.form) if name == "*" else _with(form, name, bad.form)
            with transaction.atomic():
                before = _rows_written()
                response = _post(client, form, pairs, htmx=htmx)
                status = response.status_code
                after = _rows_written() if status < 500 else before
                transaction.set_rollback(True)
            if not tally.count(what, status):
                continue
            refused = status >= 400 or (status == 200 and _shows_error(response))
            saved = after != before
            outcome = f"{status} {'refused' if refused else 'accepted'}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if refused and saved:
                written = sorted(set(after) - set(before))
                tally.wrong.append(f"{what}: refused ({status}) but rows were written: {written}")
            elif status == 200 and not (refused or saved or htmx):
                tally.wrong.append(f"{what}: 200, neither an error shown nor anything saved")
    print(f"forms: {len(forms)} forms in {time.monotonic() - started:.0f}s; {outcomes}")
    _assert_clean(tally)
    assert len(forms) > 40


# The API ---------------------------------------------------------------------------------

ERROR_KEYS = {"type", "message", "fields", "reasons"}
# A JSON number past a double's range, which Python reads as infinity.
RAW_NUMBER = "1e309 as a JSON number"
_RAW = "\x01raw\x01"


def _json_body(body: Any, raw_in: bool) -> bytes:
    text = json.dumps(body)
    return text.replace(json.dumps(_RAW), "1e309").encode() if raw_in else text.encode()


def _error_shape(response: Any) -> str | None:
    """What is wrong with a 4xx answer's body, or None when it is the API's one shape."""
    if "json" not in (response.get("Content-Type") or ""):
        return f"not JSON but {response.get('Content-Type')}"
    body = response.json()
    if not isinstance(body, dict) or not {"type", "message"} <= set(body) <= ERROR_KEYS:
        return f"not the error shape: {str(body)[:200]}"
    return None


def _api_call(api: APIClient, method: str, url: str, body: bytes) -> Any:
    return api.generic(method, url, body, content_type="application/json")


def _check_api(tally: Tally, what: str, response: Any) -> None:
    counted = tally.count(what, response.status_code)
    if counted and response.status_code >= 400 and (problem := _error_shape(response)):
        tally.wrong.append(f"{what}: {response.status_code} {problem}")


def _request_fields(schema: dict[str, Any], operation: dict[str, Any]) -> tuple[str, list[str]]:
    """The request body's component name and its properties (of one row, for a bulk)."""
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    if body.get("type") == "array":
        body = body["items"]["anyOf"][0]
    name = body["$ref"].rsplit("/", 1)[-1]
    return name, list(schema["components"]["schemas"][name].get("properties", {}))


def _write_operations(world: World) -> Iterator[tuple[str, str, Case, str, list[str]]]:
    """Each write of the schema: (method, path, a case a role may do, its body's component,
    the body's fields)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for method, path in role_matrix.operations():
        operation = schema["paths"][path][method.lower()]
        if method not in ("POST", "PUT", "PATCH") or "requestBody" not in operation:
            continue
        built = role_matrix.cases_for(world, method, path)
        assert not isinstance(built, str), f"{method} {path}: {built}"
        allowed = [c for c in built if c.expect in ("allowed", "bulk applied")]
        assert allowed, f"{method} {path}: no role may do it"
        yield (method, path, allowed[0], *_request_fields(schema, operation))


def _set(body: Any, name: str, value: Any) -> Any:
    if isinstance(body, list):
        return [{**body[0], name: value}, *body[1:]]
    return {**(body or {}), name: value}


def test_every_api_write_refuses_each_bad_field_value_with_the_one_error_shape(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1000000/minute"})
    world = role_matrix.build_world()
    clients = {role: api_client_for(user) for role, user in world.users.items()}
    tally = Tally()
    started = time.monotonic()
    components: set[str] = set()
    operations = list(_write_operations(world))
    for number, (method, path, case, component, fields) in enumerate(operations):
        api = clients[case.role]
        # A body type met before (the same record's create, patch, upsert and bulk rows)
        # gets the values that reach the database; a new one the whole corpus.
        values = (
            [*CORPUS, HUGE_NUMBER]
            if component not in components
            else [bad for bad in [*CORPUS, HUGE_NUMBER] if bad.name in EACH_FIELD]
        )
        components.add(component)
        sends: list[tuple[str, bytes]] = [
            (f"{name}={bad.name}", _json_body(_set(case.body, name, bad.json), False))
            for name in fields
            for bad in values
        ]
        sends += [
            (f"{name}={RAW_NUMBER}", _json_body(_set(case.body, name, _RAW), True))
            for name in fields
        ]
        sends.append(("a body 10,000 arrays deep", hostile.nested_json()))
        sends.append(("a body that is not JSON", b"\xed\xa0\x80{"))
        if number == 0:
            sends.append(("an oversize body", hostile.oversize_body()))
            sends.append(
                ("a 10 MB string", _json_body(_set(case.body, fields[0], "x" * 2**23), False))
            )
        for label, body in sends:
            with transaction.atomic():
                response = _api_call(api, method, case.url, body)
                transaction.set_rollback(True)
            _check_api(tally, f"{case.role} {method} {path} {label}", response)
    print(f"api writes: {len(operations)} operations in {time.monotonic() - started:.0f}s")
    _assert_clean(tally)
    assert len(operations) > 30


# The faults this corpus found, each on its own ------------------------------------------


# The KPIs whose figure is a sum or a mean over its engagements: every one counts.
SUMS = (
    "revenue_per_account",
    "revenue",
    "profit",
    "backlog",
    "losses",
    "delivery_gap",
    "client_satisfaction",
    "nps",
)


@pytest.mark.parametrize("key", SUMS)
def test_a_kpi_that_sums_its_engagements_lists_them_each_counted(
    leadership: User, engagement: Engagement, key: str
) -> None:
    RevenueEntry.objects.create(
        engagement=engagement, month=dt.date(2025, 4, 1), revenue=100, cost=50
    )
    response = _client(leadership).get(
        reverse("scorecard:kpi", args=[key]),
        {"period_type": "quarter", "start": "2025-04-01", "format": "csv", "table": "engagements"},
    )
    assert response.status_code == 200
    if key in ("revenue", "revenue_per_account", "profit"):
        row = f"{engagement.name},{engagement.account.name},{engagement.commercial_lead},yes"
        assert row in response.content.decode()


def test_json_text_with_half_a_surrogate_pair_is_a_400_naming_the_field(
    leadership: User,
) -> None:
    body = b'{"name": "Harbour \\ud800", "industry": "logistics", "region": "uk_ireland"}'
    response = _api_call(api_client_for(leadership), "POST", "/api/v1/accounts/", body)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["name"]
    assert not Account.objects.filter(name__startswith="Harbour").exists()


# Query parameters ------------------------------------------------------------------------

# What lists, dashboards and the API read from a query string, beside each page's own.
PAGE_PARAMS = ("page", "sort", "q", "period_type", "start", "breakdown", "format", "table")
API_PARAMS = ("limit", "cursor", "updated_since")


def test_every_page_and_api_list_answers_each_bad_query_value_without_a_server_error(
    demo: dict[str, Client],
) -> None:
    tally = Tally()
    started = time.monotonic()
    routes: dict[str, tuple[str, Client]] = {}
    for name in ("leader", "am.alex", "dm.dana", "hm.harper"):
        walk = hostile.crawl(demo[name], ["/"])
        tally.tried += walk.requests
        tally.server_errors += [f"{name}: {failure}" for failure in walk.failures]
        for url, route in walk.pages.items():
            routes.setdefault(route, (url, demo[name]))
    huge_sent = False
    for route, (url, client) in sorted(routes.items()):
        path = url.split("?", 1)[0]
        own = [k for k, _ in hostile.query_pairs(url)]
        for param in dict.fromkeys([*own, *PAGE_PARAMS]):
            # A page's own parameters meet the whole corpus; the others the values that
            # reach a parser (numbers, dates, text a database refuses).
            values = CORPUS if param in own else [b for b in CORPUS if b.name in EACH_FIELD]
            values = [*values, *([] if huge_sent else [HUGE_STRING])]
            huge_sent = True
            for bad in values:
                query = hostile.query_string([(param, bad.form)])
                response = client.get(f"{path}?{query}")
                tally.count(f"GET {route} {param}={bad.name}", response.status_code)
    schema = SchemaGenerator().get_schema(request=None, public=True)
    api = api_client_for(User.objects.get(username="leader"))
    lists = [p for p, ops in schema["paths"].items() if "get" in ops and "{" not in p]
    for path in lists:
        declared = [q["name"] for q in schema["paths"][path]["get"].get("parameters", [])]
        for param in dict.fromkeys([*declared, *API_PARAMS]):
            for bad in CORPUS:
                query = hostile.query_string([(param, bad.form)])
                response = api.get(f"{path}?{query}")
                _check_api(tally, f"GET {path} {param}={bad.name}", response)
    print(
        f"query values: {len(routes)} page routes, {len(lists)} API lists in "
        f"{time.monotonic() - started:.0f}s"
    )
    _assert_clean(tally)
    assert len(routes) > 30
    assert len(lists) > 15
