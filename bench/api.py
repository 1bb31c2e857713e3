"""Bulk upsert through the API against Django's own bulk_create, measured in one run.

    python -m tcp.devstack exec -- python bench/api.py

On the PostgreSQL server of DATABASE_URL it makes a scratch database (parity_bench_api),
migrates it, adds a few accounts and a sales leadership token, then measures

(a) 10,000 new engagements upserted in 10 calls of 1,000 to POST /api/v1/engagements/bulk/
    (in-process, through the whole middleware, authentication and service stack) against
    Engagement.objects.bulk_create of the same rows in batches of 1,000: goal >= 25%;
(b) the same 10 calls again, every record unchanged, against the first run: goal >= 100%.

Each result is printed as `BENCH-ROW {json}` for bench/run.py, and as a table. The scratch
database is dropped at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCRATCH = "parity_bench_api"
ROWS = 10_000
BATCH = 1_000
ACCOUNTS = 5
MARKER = "BENCH-ROW "


def _database_url(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


@contextmanager
def _server(url: str) -> Iterator[Any]:
    import psycopg

    # CREATE/DROP DATABASE cannot run in a transaction, hence autocommit.
    libpq = urllib.parse.urlsplit(_database_url(url, "postgres"))._replace(scheme="postgresql")
    with psycopg.connect(libpq.geturl(), autocommit=True) as conn:
        yield conn


def _recreate(url: str, *, create: bool) -> None:
    from psycopg import sql

    with _server(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH))
        )
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH)))


def _timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def measure() -> list[dict[str, Any]]:
    from django.db import connection
    from django.test import Client

    from engagements.models import Account, Engagement
    from tcp.models import Role, User
    from tcp.services import api_token_create

    leader = User.objects.create(username="bench-leader", roles=[Role.SALES_LEADERSHIP])
    lead = User.objects.create(username="bench-lead", roles=[Role.ACCOUNT_MANAGER])
    accounts = [
        Account.objects.create(name=f"Bench account {i}", industry="logistics", region="nordics")
        for i in range(ACCOUNTS)
    ]
    _, raw = api_token_create(user=leader, name="bench", actor=None)
    # SERVER_NAME: one of ALLOWED_HOSTS (the test client's default, "testserver", is not).
    client = Client(headers={"Authorization": f"Bearer {raw}"}, SERVER_NAME="localhost")

    def api_rows(prefix: str, n: int) -> list[dict[str, Any]]:
        return [
            {
                "external_id": f"{prefix}-{i}",
                "account": str(accounts[i % ACCOUNTS].uuid),
                "name": f"Opportunity {i}",
                "commercial_lead": lead.username,
                "value": "125000.00",
                "opened_on": "2025-01-15",
            }
            for i in range(n)
        ]

    def django_rows(prefix: str, n: int) -> list[Engagement]:
        return [
            Engagement(
                external_id=f"{prefix}-{i}",
                account=accounts[i % ACCOUNTS],
                name=f"Opportunity {i}",
                commercial_lead=lead,
                value=Decimal("125000.00"),
                opened_on=dt.date(2025, 1, 15),
            )
            for i in range(n)
        ]

    def post(batches: list[list[dict[str, Any]]], expect: str) -> None:
        for batch in batches:
            response = client.post(
                "/api/v1/engagements/bulk/", json.dumps(batch), content_type="application/json"
            )
            if response.status_code != 200 or response.json()[expect] != len(batch):
                raise SystemExit(
                    f"bulk call failed: {response.status_code} {response.content[:500]!r}"
                )

    def batches(rows: list[Any]) -> list[list[Any]]:
        return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]

    # Warm both paths (imports, caches, the first connection) before timing either.
    Engagement.objects.bulk_create(django_rows("warm-orm", 20))
    post([api_rows("warm-api", 20)], "created")
    post([api_rows("warm-api", 20)], "unchanged")

    def orm() -> None:
        for batch in batches(django_rows("orm", ROWS)):
            Engagement.objects.bulk_create(batch)

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE engagements_engagement")
    orm_seconds = _timed(orm)
    rows = batches(api_rows("api", ROWS))
    first_seconds = _timed(lambda: post(rows, "created"))
    second_seconds = _timed(lambda: post(rows, "unchanged"))
    if Engagement.objects.filter(external_id__startswith="api-").count() != ROWS:
        raise SystemExit("the API did not create every engagement")

    orm_rate, first_rate, second_rate = (
        ROWS / s for s in (orm_seconds, first_seconds, second_seconds)
    )
    return [
        _row(
            "API bulk upsert: 10,000 new engagements in 10 calls (rows/s) vs bulk_create",
            first_rate,
            orm_rate,
            0.25,
        ),
        _row(
            "API bulk upsert: the same 10,000 again, all unchanged (rows/s) vs the first run",
            second_rate,
            first_rate,
            1.0,
        ),
    ]


def _row(label: str, value: float, baseline: float, goal: float) -> dict[str, Any]:
    ratio = value / baseline
    return {
        "label": label,
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(ratio, 3),
        "goal": goal,
        "ok": ratio >= goal,
    }


def main() -> int:
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        print("DATABASE_URL is not set: run through python -m tcp.devstack exec --")
        return 2
    _recreate(server_url, create=True)
    os.environ["DATABASE_URL"] = _database_url(server_url, SCRATCH)
    # Ten calls are not what the rate limit is for.
    os.environ["API_RATE_LIMIT"] = "100000/minute"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcp.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        print(f"bench | migrating the scratch database {SCRATCH}", flush=True)
        call_command("migrate", verbosity=0)
        rows = measure()
    finally:
        connections.close_all()
        _recreate(server_url, create=False)
    for row in rows:
        print(MARKER + json.dumps(row))
    print()
    print(f"{'':<82} {'value':>10} {'baseline':>10} {'ratio':>7} {'goal':>6}")
    for row in rows:
        verdict = "ok" if row["ok"] else "MISSED"
        print(
            f"{row['label']:<82} {row['value']:>10.1f} {row['baseline']:>10.1f} "
            f"{row['ratio']:>7.0%} {row['goal']:>6.0%} {verdict}"
        )
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
