"""Proof under fire: faults survived and load carried, with figures: `make proof`.

Run through `python -m tcp.devstack exec -- python bench/proof.py [options]`, which sets
DATABASE_URL, REDIS_URL and SECRET_KEY. The harness

1. creates a scratch database (`parity_proof`, or PROOF_DATABASE) on the server of
   DATABASE_URL, migrates it, loads the demo organisation at the default scale and computes
   its scorecard; no other database is touched. Jobs go to their own queue (PROOF_QUEUE,
   default `parity_proof`) on REDIS_URL, so a running `make run` neither takes nor gives any;
2. starts gunicorn (2 sync workers, DEBUG=false, DB_CONN_MAX_AGE=600) and Celery workers on
   127.0.0.1, and runs the fault scenarios of bench/proof_faults.py against them;
3. runs the locust scenario of bench/proof_load.py headless at 25 and 50 users against a
   scratch copy of the large demo organisation (`parity_bench`, which `make bench` builds
   and keeps; built here when missing), each run with a /healthz probe, and reports
   p50/p95/p99 per journey and page, errors, and each page against /healthz;
4. prints a table for each part, and last one summary line.

The summary also carries the figures that `make test` measures (authz, bad inputs, audit):
a test writes `test-results/figures/<part>.json` holding {"summary": "authz 0/3840 leaks"};
a part without its file says "not measured". The exit status is non-zero when a fault
scenario fails.

The parts can be reused, e.g. by a test: with bench/ on sys.path (its modules import one
another by name, as `python bench/proof.py` sees them), `with running_stage(tmp) as stage:`
gives the running stack and `proof_faults.conflicting_updates(stage)` one scenario's Fault.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project (for Django) and this folder (for the harness's modules, when imported from
# elsewhere, e.g. a test reusing a scenario).
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from proof_faults import SCENARIOS, Fault, Stage  # noqa: E402 - needs the path above
from proof_stack import (  # noqa: E402
    PYTHON,
    Processes,
    ProofError,
    celery_worker,
    gunicorn,
    manage,
    recreate_database,
    say,
)

FIGURES = ROOT / "test-results" / "figures"
# Parts of the summary line measured by `make test`, in the order they are printed.
TEST_PARTS = {"authz": "authz", "bad-inputs": "bad inputs", "audit": "audit"}
HEALTHZ = "/healthz"
# A page's p95 may be at most this many times the p95 of /healthz in the same run.
P95_GOAL = 10
# Signing in hashes a password on purpose (slow by design): shown, but not a page.
NOT_PAGES = ("login",)


# Set-up ------------------------------------------------------------------------------------


def prepare(base_env: dict[str, str], scratch: Path) -> dict[str, str]:
    """The environment of every process of the proof, on a freshly built scratch database."""
    name = os.environ.get("PROOF_DATABASE", "parity_proof")
    started = time.monotonic()
    url = recreate_database(base_env["DATABASE_URL"], name)
    env = prepare_env(base_env, url, scratch)
    manage(env, "migrate", "--no-input", "--verbosity", "0")
    manage(env, "seed_demo")
    say(f"database {name}: migrated and seeded in {time.monotonic() - started:.0f}s")
    return env


# Seconds spent preparing what the proof runs against (the large organisation is built
# once per machine, then copied), printed apart from the proof's own time.
SETUP: dict[str, float] = {}


def prepare_large(base_env: dict[str, str], scratch: Path) -> dict[str, str]:
    """The environment of the load run: a scratch copy of the large demo organisation that
    `make bench` builds and keeps (built here, once, when it is missing), so the load meets
    10,000 accounts and 100,000 engagements and the copy can be written to freely."""
    import run as bench

    name = os.environ.get("PROOF_LOAD_DATABASE", "parity_proof_large")
    started = time.monotonic()
    source = bench.ensure_database(base_env["DATABASE_URL"], bench.LARGE_DB, rebuild=False)
    bench.ensure_scorecard(source, bench.LARGE_DB)
    SETUP["the large organisation"] = time.monotonic() - started
    url = recreate_database(base_env["DATABASE_URL"], name, template=bench.LARGE_DB)
    say(f"database {name}: copied from {bench.LARGE_DB} in {time.monotonic() - started:.0f}s")
    return prepare_env(base_env, url, scratch)


def prepare_env(base_env: dict[str, str], url: str, scratch: Path) -> dict[str, str]:
    env = {
        **base_env,
        "DATABASE_URL": url,
        "CELERY_QUEUE": os.environ.get("PROOF_QUEUE", "parity_proof"),
        "MEDIA_ROOT": str(scratch / "media-web"),
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tcp.settings"
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
        return
    # A second stage in this process (the load after the faults): the settings are read
    # once, so point the connection at the stage's database by hand.
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = urllib.parse.urlsplit(
        env["DATABASE_URL"]
    ).path.lstrip("/")


def purge_queue(env: dict[str, str]) -> None:
    """Jobs a killed earlier run left on the proof's own queue would muddle the counts."""
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    client.delete(env["CELERY_QUEUE"])
    client.close()


def api_token() -> str:
    from django.core.management import call_command

    out = io.StringIO()
    with redirect_stdout(out):
        call_command("create_api_token", "leader", "--name", "make proof")
    found = re.search(r"prt_\S+", out.getvalue())
    if found is None:
        raise ProofError("create_api_token printed no token")
    return found[0]


def load_plan(token: str) -> dict[str, object]:
    """What the locust users work on, read from the demo organisation."""
    from django.urls import reverse
    from django.utils import timezone
    from proof_faults import quarters_back

    from engagements.models import Account, Milestone
    from tcp.models import Role, User

    # One account per account-manager browser, taken from several account managers in
    # turn: two browsers on one profile would be two people editing it at once, which the
    # app rightly refuses as a conflict rather than a load it carries.
    managers = User.objects.filter(roles__contains=[Role.ACCOUNT_MANAGER], is_active=True)
    desks = {
        person.username: [
            str(a.uuid) for a in Account.objects.editable_by(person).order_by("name")[:12]
        ]
        # A few people (each signs in once), with desks enough for 50 browsers.
        for person in managers.order_by("username")[:4]
    }
    desks_am: list[dict[str, str]] = []
    taken: set[str] = set()
    for n in range(max((len(d) for d in desks.values()), default=0)):
        for username, desk in desks.items():
            if n < len(desk) and desk[n] not in taken:
                taken.add(desk[n])
                desks_am.append({"username": username, "account": desk[n]})
    dm = User.objects.get(username="dm.dana")
    milestones = Milestone.objects.filter(
        engagement__delivery_manager=dm, planned_on__lte=timezone.localdate()
    ).select_related("engagement")
    attendance = [
        reverse("engagements:milestone_attendance", args=[m.engagement.uuid, m.pk])
        for m in milestones.order_by("-planned_on")[:20]
    ]
    some = Account.objects.order_by("id")
    first = some.first()
    if not attendance or not desks_am or first is None:
        raise ProofError("the demo organisation has no milestones or accounts to work on")
    return {
        "am": desks_am,
        "dm": {"username": dm.username, "attendance": attendance},
        "leader": "leader",
        "kpi": "win_rate",
        "token": token,
        "qbr": {
            "accounts": [str(a.uuid) for a in some[:30]],
            "quarter": quarters_back(1)[0].isoformat(),
        },
        "crm": {"industry": first.industry, "region": first.region},
    }


@contextmanager
def running_stage(scratch: Path, *, large: bool = False) -> Iterator[Stage]:
    """What every scenario runs against: the scratch database built and seeded (or, with
    `large`, copied from the large organisation), Django set up in this process on it,
    gunicorn serving it and an API token of sales leadership. Every process started is
    stopped on the way out."""
    procs = Processes(logs=scratch)
    try:
        env = (prepare_large if large else prepare)(dict(os.environ), scratch)
        setup_django(env)
        purge_queue(env)
        if not large:  # the large copy keeps the snapshots `make bench` computed
            from scorecard.services import scorecard_recompute_all

            scorecard_recompute_all()  # the scorecard's pages show figures from the start
        token = api_token()
        base = gunicorn(procs, env)
        say(f"gunicorn on {base}; logs in {scratch}")
        yield Stage(base=base, env=env, procs=procs, scratch=scratch, token=token)
    finally:
        procs.stop_all()


# Faults ------------------------------------------------------------------------------------


def run_faults(stage: Stage, names: Sequence[str]) -> list[Fault]:
    results: list[Fault] = []
    for scenario in SCENARIOS:
        if names and scenario.__name__ not in names:
            continue
        say(f"fault: {scenario.__name__}")
        started = time.monotonic()
        try:
            result = scenario(stage)
        except Exception as error:
            result = Fault(
                name=scenario.__name__,
                survived=False,
                figures=[("error", f"{type(error).__name__}: {error}"[:300])],
                seconds=time.monotonic() - started,
            )
        say(f"fault: {scenario.__name__} {'survived' if result.survived else 'FAILED'}")
        results.append(result)
    return results


def print_faults(results: Iterable[Fault]) -> None:
    print("\nFaults (real processes on 127.0.0.1)")
    for fault in results:
        verdict = "survived" if fault.survived else "FAILED"
        print(
            f"\n  {fault.name}: {verdict}, {fault.lost} lost, "
            f"{fault.duplicated} duplicated ({fault.seconds:.0f}s)"
        )
        for label, value in fault.figures:
            print(f"    {label:<30} {value}")


# Load --------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    count: int
    errors: int
    p50: float
    p95: float
    p99: float
    mean: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank, as locust reports it."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(name: str, samples: Sequence[tuple[float, bool]]) -> Row:
    times = [t for t, _ in samples]
    return Row(
        name=name,
        count=len(samples),
        errors=sum(1 for _, ok in samples if not ok),
        p50=percentile(times, 0.50),
        p95=percentile(times, 0.95),
        p99=percentile(times, 0.99),
        mean=sum(times) / len(times) if times else 0.0,
    )


@dataclass
class LoadRun:
    users: int
    seconds: float
    steps: list[Row]
    journeys: list[Row]
    healthz: Row
    pages: Row  # every page and partial together (not /healthz, not login)
    errors: int


def journey_of(name: str) -> str:
    return name.split(" · ")[0]


def run_locust(base: str, plan: Path, users: int, seconds: int, scratch: Path) -> LoadRun:
    samples_path = scratch / f"samples-{users}.json"
    env = {**os.environ, "PROOF_PLAN": str(plan), "PROOF_SAMPLES": str(samples_path)}
    command = [PYTHON, "-m", "locust", "-f", str(ROOT / "bench" / "proof_load.py")]
    command += ["--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    command += ["--host", base, "--only-summary", "--loglevel", "WARNING"]
    command += ["--csv", str(scratch / f"locust-{users}")]
    with (scratch / f"locust-{users}.log").open("wb") as log:
        subprocess.run(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if not samples_path.exists():
        raise ProofError(f"locust wrote no samples; see {scratch / f'locust-{users}.log'}")
    raw = [
        (str(name), float(ms), bool(ok), float(at))
        for name, ms, ok, at in json.loads(samples_path.read_text())
    ]
    # Measured once everyone has signed in: the logins of all users at once are a burst
    # of password hashing that no steady state has.
    logins = [at for name, _, _, at in raw if journey_of(name) == "login"]
    since = max(logins) if logins else 0.0
    measured = [s for s in raw if s[3] >= since or journey_of(s[0]) == "login"]
    by_step: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for name, ms, ok, _ in measured:
        by_step[name].append((ms, ok))
    by_journey: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    pages: list[tuple[float, bool]] = []
    for name, values in by_step.items():
        by_journey[journey_of(name)].extend(values)
        if name != HEALTHZ and journey_of(name) not in NOT_PAGES:
            pages.extend(values)
    ends = [at for *_, at in measured if at >= since]
    return LoadRun(
        users=users,
        seconds=(max(ends) - since) if ends and since else float(seconds),
        steps=[summarise(n, v) for n, v in sorted(by_step.items()) if n != HEALTHZ],
        journeys=[summarise(n, v) for n, v in sorted(by_journey.items()) if n != HEALTHZ],
        healthz=summarise(HEALTHZ, by_step.get(HEALTHZ, [])),
        pages=summarise("all pages", pages),
        errors=sum(1 for s in raw if not s[2]),
    )


def within_goal(row: Row, healthz: Row) -> bool:
    return row.errors == 0 and row.p95 <= P95_GOAL * max(healthz.p95, 1.0)


def print_load(runs: Sequence[LoadRun]) -> None:
    print(
        f"\nLoad (locust against gunicorn, 2 sync workers; goal: 0 errors and each page's p95 "
        f"at most {P95_GOAL}× the p95 of /healthz in the same run)"
    )
    print(
        "  'speed vs /healthz' is the mean time of /healthz over the page's: the share of "
        "/healthz's throughput a worker reaches on that page."
    )
    header = (
        f"  {'journey · step':<40} {'n':>6} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'p95/hz':>7} {'speed vs /healthz':>18}  goal"
    )
    for run in runs:
        hz = run.healthz
        print(
            f"\n  {run.users} users, {run.seconds:.0f}s measured after every sign-in; "
            f"/healthz p50 {hz.p50:.0f} ms, p95 {hz.p95:.0f} ms, p99 {hz.p99:.0f} ms "
            f"({hz.count} requests, {hz.errors} errors)"
        )
        print(header)
        journeys = {r.name: r for r in run.journeys}
        for journey in sorted(journeys):
            rows = [journeys[journey]]
            rows += [s for s in run.steps if journey_of(s.name) == journey]
            for n, row in enumerate(rows):
                label = f"{journey} (all)" if n == 0 else f"  {row.name.split(' · ', 1)[1]}"
                page = journey not in NOT_PAGES
                goal = ("ok" if within_goal(row, hz) else "MISSED") if page else "-"
                ratio = row.p95 / max(hz.p95, 1.0)
                speed = hz.mean / row.mean if row.mean else 0.0
                print(
                    f"  {label:<40} {row.count:>6} {row.errors:>4} {row.p50:>8.0f} "
                    f"{row.p95:>8.0f} {row.p99:>8.0f} {ratio:>6.1f}× {speed:>17.2f}×  {goal}"
                )
        pages = run.pages
        print(
            f"  {'all pages and partials':<40} {pages.count:>6} {pages.errors:>4} "
            f"{pages.p50:>8.0f} {pages.p95:>8.0f} {pages.p99:>8.0f} "
            f"{pages.p95 / max(hz.p95, 1.0):>6.1f}×"
        )
        print(f"  errors in the whole run (sign-ins included): {run.errors}")


# Summary -----------------------------------------------------------------------------------


def test_part(key: str, label: str) -> str:
    path = FIGURES / f"{key}.json"
    try:
        return str(json.loads(path.read_text())["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{label} not measured"


def summary_line(faults: Sequence[Fault] | None, runs: Sequence[LoadRun] | None) -> str:
    parts = [test_part(k, v) for k, v in list(TEST_PARTS.items())[:2]]
    if faults:
        survived = sum(1 for f in faults if f.survived)
        lost = sum(f.lost for f in faults)
        duplicated = sum(f.duplicated for f in faults)
        parts.append(
            f"faults {survived}/{len(faults)} survived, {lost} lost, {duplicated} duplicated"
        )
    else:
        parts.append("faults not measured")
    parts.append(test_part("audit", TEST_PARTS["audit"]))
    if runs:
        top = max(runs, key=lambda r: r.users)
        errors = sum(r.errors for r in runs)
        parts.append(f"load {top.users} users p95 {top.pages.p95:.0f} ms, {errors} errors")
    else:
        parts.append("load not measured")
    return " | ".join(parts)


# Main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/proof.py", description=__doc__.split("\n")[0])
    parser.add_argument("--users", default="25,50", help="locust user counts, e.g. 25,50")
    parser.add_argument("--seconds", type=int, default=60, help="length of each load run")
    parser.add_argument("--no-load", action="store_true", help="the fault scenarios only")
    parser.add_argument("--no-faults", action="store_true", help="the load only")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=[s.__name__ for s in SCENARIOS],
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and media folder")
    args = parser.parse_args(argv)
    for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        if not os.environ.get(variable):
            print(f"proof | {variable} is not set: run `make proof`", file=sys.stderr)
            return 2

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="parity-proof-"))
    faults: list[Fault] | None = None
    runs: list[LoadRun] = []
    try:
        if not args.no_faults:
            with running_stage(scratch) as stage:
                faults = run_faults(stage, args.fault)
        if not args.no_load:
            with running_stage(scratch, large=True) as stage:
                plan = scratch / "plan.json"
                plan.write_text(json.dumps(load_plan(stage.token)))
                worker = celery_worker(stage.procs, stage.env, "worker-load")
                for users in (int(u) for u in args.users.split(",")):
                    say(f"load: {users} users for {args.seconds}s")
                    runs.append(run_locust(stage.base, plan, users, args.seconds, scratch))
                stage.procs.stop(worker)
    except ProofError as error:
        print(f"proof | {error} (logs in {scratch})", file=sys.stderr)
        return 2
    if faults is not None:
        print_faults(faults)
    if runs:
        print_load(runs)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    took = time.monotonic() - started
    setup = sum(SETUP.values())
    print(
        f"\nmake proof took {took:.0f}s: {took - setup:.0f}s of faults and load, "
        f"{setup:.0f}s preparing {', '.join(SETUP) or 'nothing'} "
        "(built once per machine, then copied)"
    )
    print(summary_line(faults, runs))
    failed = faults is not None and not all(f.survived for f in faults)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
