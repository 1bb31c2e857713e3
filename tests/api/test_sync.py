"""The sync promises a CRM relies on: nothing lost, nothing duplicated, bad input named."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from engagements.models import Account, Contact, Engagement, Milestone
from tcp.models import AuditLogEntry, Role, Tombstone, User
from tests.api.conftest import api_client_for
from tests.factories import AccountFactory, ContactFactory, EngagementFactory, UserFactory

ACCOUNT = {"name": "Harbour Freight", "industry": "logistics", "region": "uk_ireland"}


def _in_threads(n: int, work: Callable[[int], int]) -> list[int]:
    """Run `work(i)` in n threads at once, each with its own database connection."""
    barrier = threading.Barrier(n)

    def run(i: int) -> int:
        barrier.wait()
        try:
            return work(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.django_db
def test_put_by_external_id_creates_then_updates(leadership: User) -> None:
    api = api_client_for(leadership)
    first = api.put("/api/v1/accounts/external/sf-001/", ACCOUNT, format="json")
    assert first.status_code == 201
    assert first.json()["external_id"] == "sf-001"
    again = api.put(
        "/api/v1/accounts/external/sf-001/",
        {**ACCOUNT, "name": "Harbour Freight Ltd"},
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Account.objects.get(external_id="sf-001").name == "Harbour Freight Ltd"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_upserts_of_one_external_id_make_one_row() -> None:
    leader = UserFactory.create(roles=[Role.SALES_LEADERSHIP])
    clients = [api_client_for(leader) for _ in range(20)]

    def upsert(i: int) -> int:
        body = {**ACCOUNT, "name": f"Harbour Freight {i}"}
        return clients[i].put("/api/v1/accounts/external/race-1/", body, format="json").status_code

    codes = _in_threads(20, upsert)
    assert sorted(set(codes)) == [200, 201]
    assert codes.count(201) == 1
    assert Account.objects.filter(external_id="race-1").count() == 1


@pytest.mark.django_db
def test_if_match_with_an_old_etag_is_a_412_and_changes_nothing(leadership: User) -> None:
    api = api_client_for(leadership)
    created = api.put("/api/v1/accounts/external/sf-2/", ACCOUNT, format="json")
    etag = created.headers["ETag"]
    url = f"/api/v1/accounts/{created.json()['id']}/"
    ok = api.patch(url, {"notes": "first"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    assert ok.headers["ETag"] != etag
    stale = api.patch(url, {"notes": "second"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["type"] == "precondition_failed"
    assert Account.objects.get(external_id="sf-2").notes == "first"


@pytest.mark.django_db(transaction=True)
def test_of_twenty_conflicting_updates_with_one_etag_exactly_one_wins() -> None:
    leader = UserFactory.create(roles=[Role.SALES_LEADERSHIP])
    account = AccountFactory.create()
    clients = [api_client_for(leader) for _ in range(20)]
    etag = clients[0].get(f"/api/v1/accounts/{account.uuid}/").headers["ETag"]

    def update(i: int) -> int:
        return (
            clients[i]
            .patch(
                f"/api/v1/accounts/{account.uuid}/",
                {"notes": f"writer {i}"},
                format="json",
                HTTP_IF_MATCH=etag,
            )
            .status_code
        )

    codes = _in_threads(20, update)
    assert codes.count(200) == 1
    assert codes.count(412) == 19
    account.refresh_from_db()
    assert account.notes == f"writer {codes.index(200)}"
    assert account.version == 2


@pytest.mark.django_db
def test_a_replayed_idempotency_key_returns_the_first_answer_and_creates_nothing(
    leadership: User,
) -> None:
    api = api_client_for(leadership)
    first = api.post("/api/v1/accounts/", ACCOUNT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = api.post("/api/v1/accounts/", ACCOUNT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert Account.objects.filter(name=ACCOUNT["name"]).count() == 1
    other = api.post(
        "/api/v1/accounts/",
        {**ACCOUNT, "name": "Other"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 422
    assert other.json()["type"] == "unprocessable"
    assert not Account.objects.filter(name="Other").exists()


def _pull(client: APIClient, cursor: str) -> tuple[list[dict], str]:
    """Every page from `cursor` to the end as it stands; returns the rows and where to
    resume next time."""
    rows: list[dict] = []
    url = f"/api/v1/accounts/?limit=7&cursor={cursor}" if cursor else "/api/v1/accounts/?limit=7"
    while True:
        page = client.get(url).json()
        rows += page["results"]
        cursor = page["cursor"] or cursor
        if page["next"] is None:
            return rows, cursor
        url = page["next"]


@pytest.mark.django_db(transaction=True)
def test_an_incremental_pull_while_writes_continue_skips_and_repeats_nothing() -> None:
    leader = UserFactory.create(roles=[Role.SALES_LEADERSHIP])
    AccountFactory.create_batch(30)
    reader = api_client_for(leader)
    writer = api_client_for(leader)

    def write() -> None:
        try:
            for i in range(60):
                writer.put(
                    f"/api/v1/accounts/external/w-{i}/",
                    {**ACCOUNT, "name": f"W {i}"},
                    format="json",
                )
        finally:
            connections.close_all()

    thread = threading.Thread(target=write)
    thread.start()
    seen: list[dict] = []
    cursor = ""
    while thread.is_alive():
        rows, cursor = _pull(reader, cursor)
        seen += rows
    thread.join()
    rows, cursor = _pull(reader, cursor)
    seen += rows
    ids = [row["id"] for row in seen]
    assert len(ids) == len(set(ids)), "a record was handed out twice"
    assert set(ids) == {str(u) for u in Account.objects.values_list("uuid", flat=True)}
    assert len(ids) == 90


def _engagement_row(i: int, account: Account, lead: User) -> dict:
    return {
        "external_id": f"opp-{i}",
        "account": str(account.uuid),
        "name": f"Opportunity {i}",
        "commercial_lead": lead.username,
        "value": "1000.00",
    }


@pytest.mark.django_db
def test_bulk_applies_the_valid_records_and_names_the_fields_of_the_others(
    leadership: User, account: Account, owner: User
) -> None:
    api = api_client_for(leadership)
    rows = [_engagement_row(i, account, owner) for i in range(3)]
    rows[1]["value"] = "-5"
    rows.append({"name": "no external id"})
    response = api.post("/api/v1/engagements/bulk/", rows, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["errors"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == ["created", "error", "created", "error"]
    assert "value" in body["results"][1]["errors"]
    assert "external_id" in body["results"][3]["errors"]
    assert set(Engagement.objects.values_list("external_id", flat=True)) == {"opp-0", "opp-2"}
    assert AuditLogEntry.objects.filter(action="engagement.create").count() == 2

    again = api.post("/api/v1/engagements/bulk/", rows[:1], format="json").json()
    assert again["results"][0]["status"] == "unchanged"
    rows[0]["name"] = "Renamed"
    changed = api.post("/api/v1/engagements/bulk/", rows[:1], format="json").json()
    assert changed["results"][0]["status"] == "updated"
    assert Engagement.objects.get(external_id="opp-0").name == "Renamed"


@pytest.mark.django_db
def test_an_atomic_bulk_call_with_one_bad_record_applies_nothing(
    leadership: User, account: Account, owner: User
) -> None:
    api = api_client_for(leadership)
    rows = [_engagement_row(i, account, owner) for i in range(3)]
    rows[2]["commercial_lead"] = "nobody-by-this-name"
    response = api.post("/api/v1/engagements/bulk/?atomic=true", rows, format="json")
    assert response.status_code == 422
    assert response.json()["errors"] == 3
    assert "commercial_lead" in response.json()["results"][2]["errors"]
    assert not Engagement.objects.filter(external_id__startswith="opp-").exists()


@pytest.mark.django_db
def test_bulk_refuses_more_than_a_thousand_records(leadership: User) -> None:
    response = api_client_for(leadership).post(
        "/api/v1/accounts/bulk/", [ACCOUNT] * 1001, format="json"
    )
    assert response.status_code == 400
    assert "1000" in response.json()["message"]


@pytest.mark.django_db
def test_a_refused_stage_change_is_a_409_naming_what_is_missing(
    owner: User, engagement: Engagement
) -> None:
    response = api_client_for(owner).post(
        f"/api/v1/engagements/{engagement.uuid}/stage/", {"stage": "proposal"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "conflict"
    assert any(reason.startswith("Client intelligence profile") for reason in body["reasons"])
    engagement.refresh_from_db()
    assert engagement.stage == "discovery"


@pytest.mark.django_db
def test_a_deleted_contact_shows_in_the_deletions_pull(owner: User, account: Account) -> None:
    contact = ContactFactory.create(account=account, external_id="c-9")
    api = api_client_for(owner)
    assert api.delete(f"/api/v1/contacts/{contact.uuid}/").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    gone = api.get("/api/v1/contacts/deleted/").json()["results"]
    assert [(g["id"], g["external_id"]) for g in gone] == [(str(contact.uuid), "c-9")]
    assert Tombstone.objects.count() == 1


def test_a_deletion_is_listed_only_to_those_who_could_see_the_record(
    owner: User,
    outsider: User,
    delivery_manager: User,
    leadership: User,
    engagement: Engagement,
) -> None:
    contact = ContactFactory.create(account=engagement.account, external_id="c-10")
    milestone = Milestone.objects.create(
        engagement=engagement, kind="go_live", planned_on=dt.date(2025, 1, 1), external_id="m-1"
    )
    contact.delete()
    milestone.delete()

    def gone(user: User, resource: str) -> list[str]:
        rows = api_client_for(user).get(f"/api/v1/{resource}/deleted/").json()["results"]
        return [row["external_id"] for row in rows]

    assert gone(owner, "contacts") == ["c-10"]
    assert gone(owner, "milestones") == ["m-1"]
    assert gone(delivery_manager, "milestones") == ["m-1"]  # they deliver the engagement
    assert gone(leadership, "contacts") == ["c-10"]
    assert gone(outsider, "contacts") == []
    assert gone(outsider, "milestones") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ACCOUNT, "colour": "blue"}, "colour"),
        ({**ACCOUNT, "name": "Null\x00byte"}, "name"),
        ({**ACCOUNT, "industry": "shipbuilding"}, "industry"),
        ({**ACCOUNT, "name": "x" * 10_000}, "name"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(leadership: User, body: dict, field: str) -> None:
    response = api_client_for(leadership).post("/api/v1/accounts/", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "invalid"
    assert field in error["fields"]
    assert not Account.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["updated_since=yesterday", "limit=0", "limit=100000", "limit=-3", "cursor=%%%"],
)
def test_bad_list_parameters_are_a_400(leadership: User, query: str) -> None:
    response = api_client_for(leadership).get(f"/api/v1/engagements/?{query}")
    assert response.status_code == 400
    assert response.json()["fields"]


@pytest.mark.django_db
def test_malformed_json_and_other_content_types_are_refused(leadership: User) -> None:
    api = api_client_for(leadership)
    broken = api.post("/api/v1/accounts/", "{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["type"] == "invalid"
    form = api.post("/api/v1/accounts/", "name=x", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    huge = api.post(
        "/api/v1/engagements/bulk/",
        json.dumps([{"external_id": "x", "name": "y" * 3_000_000}]),
        content_type="application/json",
    )
    assert huge.status_code == 413
    assert huge.json()["type"] == "too_large"


@pytest.mark.django_db
def test_an_outsider_gets_404_for_an_account_and_does_not_see_it_listed(
    outsider: User, account: Account
) -> None:
    api = api_client_for(outsider)
    assert api.get(f"/api/v1/accounts/{account.uuid}/").status_code == 404
    assert (
        api.patch(f"/api/v1/accounts/{account.uuid}/", {"notes": "x"}, format="json").status_code
        == 404
    )
    listed = {row["id"] for row in api.get("/api/v1/accounts/").json()["results"]}
    assert str(account.uuid) not in listed


@pytest.mark.django_db
def test_the_engagement_list_makes_the_same_queries_for_one_record_and_a_hundred(
    leadership: User,
) -> None:
    api = api_client_for(leadership)
    api.get("/api/v1/engagements/")  # the token's last-used stamp is written once a minute
    EngagementFactory.create()
    counts = []
    for extra in (0, 99):
        EngagementFactory.create_batch(extra)
        with CaptureQueriesContext(connection) as ctx:
            response = api.get("/api/v1/engagements/")
        assert response.status_code == 200
        assert len(response.json()["results"]) == 1 + extra
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 6


@pytest.mark.django_db
def test_the_engagement_list_built_by_the_database_matches_the_serializer(
    leadership: User, owner: User
) -> None:
    """The list is formatted by PostgreSQL for speed; each record must read exactly as the
    serializer writes it (GET of one record), nulls, decimals, dates and product lines too."""
    from engagements.models import ProductLine

    lines = [ProductLine.objects.create(name=n) for n in ("Imaging", "Archive")]
    plain = EngagementFactory.create(commercial_lead=owner, description='Ünïcode "quoted"')
    rich = EngagementFactory.create(
        commercial_lead=owner,
        delivery_manager=owner,
        external_id="opp-rich",
        contracted_effort_days="12.5",
        value="0.10",
        contracted_start="2024-03-01",
        contracted_end="2024-09-30",
    )
    rich.product_lines.set(lines)
    api = api_client_for(leadership)
    listed = {row["id"]: row for row in api.get("/api/v1/engagements/").json()["results"]}
    for engagement in (plain, rich):
        single = api.get(f"/api/v1/engagements/{engagement.uuid}/").json()
        assert listed[str(engagement.uuid)] == single
    assert listed[str(rich.uuid)]["product_lines"] == ["Archive", "Imaging"]
    assert listed[str(rich.uuid)]["updated_at"].endswith("Z")
