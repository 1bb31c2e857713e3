"""Load-test Parity's main pages against a large organisation: `make bench`.

Run through `python -m tcp.devstack exec -- python bench/run.py [--quick] [--rebuild]`, which
sets DATABASE_URL, REDIS_URL and SECRET_KEY. The harness

1. builds two databases on the same PostgreSQL server, once, and keeps them between runs:
   `parity_bench` (seed_demo --scale large) and `parity_bench_small` (the default small scale);
2. counts the SQL queries each page makes, in-process with Django's test client, against both,
   so a count that grows with the data (an N+1) shows up as large != small;
3. serves the large database with gunicorn (2 sync workers, as in production), logs in as the
   demo `leader` through the real login form, makes an API token for the same person with
   `manage.py create_api_token`, and drives each endpoint with wrk in interleaved rounds, so a
   change in the machine's load during the run touches every row alike;
4. prints requests/s, p50/p99 latency and each endpoint's throughput relative to /healthz, which
   is the floor cost of a request through the same stack (one query and one broker ping),
   against that row's goal;
5. runs the other bench scripts beside this one (bench/scorecard.py, bench/api.py,
   bench/documents.py, when present) with DATABASE_URL set to the large database, and adds
   each line they print as `BENCH-ROW {json}` to a second section of the same table. A script
   that fails has its error printed; the rest of the bench goes on.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

LARGE_DB = "parity_bench"
SMALL_DB = "parity_bench_small"
# Rows a finished build holds (engagements.demo.SCALES); fewer means the build never finished.
EXPECTED = {LARGE_DB: ("large", 10_000, 100_000), SMALL_DB: ("small", 120, 400)}

USERNAME = "leader"
PASSWORD = "parity-demo"  # noqa: S105 - the documented demo login (engagements.demo)
ACCOUNT_LIST = "/accounts/?industry=healthcare&sort=name"
API_ENGAGEMENTS = "/api/v1/engagements/?limit=100"
# A KPI every organisation has, whatever its data: the win rate.
KPI_KEY = "win_rate"
# Throughput each row must reach, as a share of /healthz in the same run.
PAGE_GOAL = 0.35
SCORECARD_GOAL = 0.40
API_GOAL = 0.25
RESULT_MARKER = "BENCH-RESULT "
ROW_MARKER = "BENCH-ROW "
# Written by the issues that own them; each prints BENCH-ROW lines. Missing ones are skipped.
SUB_SCRIPTS = ("scorecard.py", "api.py", "documents.py")
SUB_SCRIPT_TIMEOUT = 30 * 60
# The token is still counted against its limit on every request (the same Redis round trip);
# the limit is only raised so that wrk measures the API's speed rather than its refusals.
API_RATE_LIMIT = "100000000/minute"

# wrk only reports "Non-2xx or 3xx" responses, so a lost session (302 to /login/) would pass
# unnoticed and look fast. This script counts every status other than 200 across all threads.
WRK_STATUS_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) not_ok = 0 end
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("not_ok") end
  io.write(string.format("Non-200 responses: %d\\n", n))
end
"""


class BenchError(Exception):
    """A step failed; the message says which and why."""


def say(message: str) -> None:
    print(f"bench | {message}", flush=True)


# Databases ------------------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    """The same server and credentials as `url`, another database."""
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


def libpq_url(url: str) -> str:
    """dj-database-url accepts schemes (pgsql, postgis) that libpq does not."""
    return urllib.parse.urlsplit(url)._replace(scheme="postgresql").geturl()


@contextmanager
def maintenance_connection(url: str) -> Iterator[Any]:
    import psycopg

    # CREATE/DROP DATABASE cannot run inside a transaction, hence autocommit.
    last_error: Exception | None = None
    for name in ("postgres", "template1"):
        try:
            conn = psycopg.connect(libpq_url(database_url(url, name)), autocommit=True)
        except psycopg.OperationalError as error:
            last_error = error
            continue
        try:
            yield conn
        finally:
            conn.close()
        return
    raise BenchError(f"cannot reach the PostgreSQL server of DATABASE_URL: {last_error}")


def database_exists(url: str, name: str) -> bool:
    with maintenance_connection(url) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        return row is not None


def row_counts(url: str) -> tuple[int, int] | None:
    """(accounts, engagements) in the database at `url`, or None before migrations ran."""
    import psycopg

    try:
        with psycopg.connect(libpq_url(url)) as conn:
            accounts = conn.execute("SELECT count(*) FROM engagements_account").fetchone()
            engagements = conn.execute("SELECT count(*) FROM engagements_engagement").fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return int(accounts[0]) if accounts else 0, int(engagements[0]) if engagements else 0


def recreate_database(url: str, name: str) -> None:
    from psycopg import sql

    with maintenance_connection(url) as conn:
        # FORCE ends sessions still attached, e.g. a gunicorn left over from a killed run.
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=False)
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed (exit {result.returncode})")


def ensure_database(base_url: str, name: str, *, rebuild: bool) -> str:
    """Return the URL of database `name`, building it only when it is missing or incomplete."""
    scale, min_accounts, min_engagements = EXPECTED[name]
    url = database_url(base_url, name)
    exists = database_exists(base_url, name)
    counts = row_counts(url) if exists else None
    if counts and counts[0] >= min_accounts and counts[1] >= min_engagements and not rebuild:
        # A cached database may predate a new migration; applying it is cheap, a stale
        # schema would make every page fail.
        manage(url, "migrate", "--no-input", "--verbosity", "0")
        vacuum(url)
        say(f"{name}: cached ({counts[0]:,} accounts, {counts[1]:,} engagements)")
        return url
    reason = "--rebuild" if rebuild else ("incomplete" if exists else "missing")
    say(f"{name}: building the {scale} organisation ({reason}); this happens once")
    started = time.monotonic()
    recreate_database(base_url, name)
    manage(url, "migrate", "--no-input", "--verbosity", "0")
    manage(url, "seed_demo", "--scale", scale)
    vacuum(url)
    say(f"{name}: built in {time.monotonic() - started:.1f}s")
    return url


def vacuum(url: str) -> None:
    """After a bulk load, as autovacuum would do soon after: fresh planner statistics, and
    a visibility map so that counts can be answered from an index alone."""
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def ensure_scorecard(url: str, name: str) -> None:
    """The scorecard pages read KPI snapshots, which the workers compute; a bench database
    has no workers, so it computes them once here (cached with the database)."""
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM scorecard_kpisnapshot)").fetchone()
    if row and row[0]:
        return
    say(f"{name}: computing the scorecard's KPI snapshots; this happens once")
    started = time.monotonic()
    manage(
        url,
        "shell",
        "-c",
        "from scorecard.services import scorecard_recompute_all; scorecard_recompute_all()",
    )
    vacuum(url)
    say(f"{name}: snapshots computed in {time.monotonic() - started:.1f}s")


def api_token(url: str) -> str:
    """A fresh token for the bench user, made the way an administrator makes one."""
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    command = [
        PYTHON,
        str(ROOT / "manage.py"),
        "create_api_token",
        USERNAME,
        "--name",
        "make bench",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    token = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not token:
        raise BenchError(f"create_api_token failed: {result.stderr.strip() or result.stdout}")
    return token


# Query counts (runs in a subprocess per database, see count_queries_main) ----------------


@dataclass
class Target:
    label: str  # the row's name in the table, the same for both databases
    path: str  # the URL path in this database
    note: str = ""
    goal: float | None = None  # share of /healthz throughput; None for /healthz itself
    api: bool = False  # sent with the API token instead of the session cookie
    anonymous: bool = False  # sent with neither, as a load balancer's health check is
    # Sent with Cache-Control: no-cache, as a Shift-reload is: the page is drawn afresh
    # instead of served from the page cache (tcp.pagecache), which is what it costs after
    # every write.
    drawn: bool = False


@dataclass
class DatabaseReport:
    accounts: int
    engagements: int
    targets: list[Target]
    queries: dict[str, int]


def count_queries_main() -> int:
    """In-process: pick the pages' objects and count each page's queries. Prints JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tcp.settings")
    import django

    django.setup()

    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from engagements.models import Account, Engagement
    from tcp.models import User

    # The busiest account and its engagement with the longest stage history: deterministic,
    # the same rule in both databases, and the heaviest detail pages a user can open.
    account = Account.objects.annotate(n=Count("engagements")).order_by("-n", "external_id").first()
    if account is None:
        raise BenchError("the database holds no accounts")
    engagement = (
        Engagement.objects.filter(account=account)
        .annotate(n=Count("stage_changes"))
        .order_by("-n", "external_id")
        .first()
    )
    if engagement is None:
        raise BenchError(f"account {account} has no engagements")
    pages = [
        Target(ACCOUNT_LIST, ACCOUNT_LIST, goal=PAGE_GOAL),
        Target(
            "/accounts/<uuid>/",
            f"/accounts/{account.uuid}/",
            f"{account.name} ({account.external_id}, {account.n} engagements)",
            goal=PAGE_GOAL,
        ),
        Target(
            "/engagements/<uuid>/",
            f"/engagements/{engagement.uuid}/",
            f"{engagement.name} ({engagement.external_id}, {engagement.n} stage changes)",
            goal=PAGE_GOAL,
        ),
        Target("/scorecard/", "/scorecard/", goal=SCORECARD_GOAL),
        Target(f"/scorecard/kpi/{KPI_KEY}/", f"/scorecard/kpi/{KPI_KEY}/", goal=SCORECARD_GOAL),
    ]
    targets = [
        Target("/healthz", "/healthz", anonymous=True),
        *pages,
        Target(API_ENGAGEMENTS, API_ENGAGEMENTS, "Authorization: Bearer", goal=API_GOAL, api=True),
        *(Target(f"{t.label} drawn", t.path, drawn=True) for t in pages),
        Target(f"{API_ENGAGEMENTS} drawn", API_ENGAGEMENTS, api=True, drawn=True),
    ]

    # Every page and list counted as drawn: what it costs after a write, not when it is
    # served again from the page cache (one query, the data generation's).
    client = Client(headers={"Cache-Control": "no-cache"})
    client.force_login(User.objects.get(username=USERNAME))
    # A machine client: no session, only the token.
    api_client = Client(
        headers={
            "Authorization": f"Bearer {os.environ['BENCH_API_TOKEN']}",
            "Cache-Control": "no-cache",
        }
    )
    queries: dict[str, int] = {}
    for target in targets:
        # The first request fills per-process caches (content types, templates); the second
        # is what a warm worker does under load, so that is the one counted.
        use = Client() if target.anonymous else api_client if target.api else client
        use.get(target.path)
        with CaptureQueriesContext(connection) as captured:
            response = use.get(target.path)
        if response.status_code != 200:
            raise BenchError(f"{target.path} answered {response.status_code} in the test client")
        queries[target.label] = len(captured)

    report = {
        "accounts": Account.objects.count(),
        "engagements": Engagement.objects.count(),
        "targets": [t.__dict__ for t in targets],
        "queries": queries,
    }
    print(RESULT_MARKER + json.dumps(report), flush=True)
    return 0


def count_queries(url: str, token: str) -> DatabaseReport:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BENCH_API_TOKEN": token,
        "API_RATE_LIMIT": API_RATE_LIMIT,
        # The test client sends Host: testserver.
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
    }
    result = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "--count-queries"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if result.returncode != 0 or not lines:
        sys.stderr.write(result.stdout + result.stderr)
        raise BenchError(f"counting queries failed (exit {result.returncode})")
    data = json.loads(lines[-1][len(RESULT_MARKER) :])
    return DatabaseReport(
        accounts=data["accounts"],
        engagements=data["engagements"],
        targets=[Target(**t) for t in data["targets"]],
        queries=data["queries"],
    )


# Server and session ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    """Status of a GET without following redirects: a 302 to /login/ must not pass as a 200."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with opener.open(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def gunicorn(url: str, workers: int, log: Path) -> Iterator[str]:
    """Serve the database at `url`; yield the base URL once /healthz answers 200."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DB_CONN_MAX_AGE": "600",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": API_RATE_LIMIT,
    }
    command = [PYTHON, "-m", "gunicorn", "tcp.wsgi:application"]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        # Its own session, so Ctrl-C reaches only this script, which then stops it in order.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited ({process.returncode}):\n{tail(log)}")
            try:
                if http_status(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise BenchError(f"/healthz did not answer 200 within 60s:\n{tail(log)}")
            time.sleep(0.25)
        say(f"gunicorn ({workers} sync workers) serving {LARGE_DB} at {base}")
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def login(base: str) -> str:
    """Sign in through the real form; return the Cookie header wrk should send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{base}/login/"
    with opener.open(login_url, timeout=30) as response:
        page = response.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise BenchError("no csrfmiddlewaretoken on /login/")
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": match.group(1), "username": USERNAME, "password": PASSWORD}
    ).encode()
    request = urllib.request.Request(login_url, data=form, headers={"Referer": login_url})  # noqa: S310
    with opener.open(request, timeout=30) as response:
        landed = urllib.parse.urlsplit(response.geturl()).path
    cookies = {cookie.name: cookie.value for cookie in jar}
    if "sessionid" not in cookies or landed.startswith("/login/"):
        raise BenchError(f"login as {USERNAME} failed (ended on {landed})")
    return "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))


# Load -----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    not_ok: int  # responses other than 200, 3xx included
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.not_ok + sum(self.socket_errors.values())


TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if not match:
        raise BenchError(f"unexpected wrk time {value!r}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise BenchError(f"wrk output lacks {pattern!r}:\n{output}")
        return match.group(1)

    socket_errors: dict[str, int] = {}
    match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if match:
        kinds = ("connect", "read", "write", "timeout")
        socket_errors = {k: int(v) for k, v in zip(kinds, match.groups(), strict=True) if int(v)}
    non_2xx_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    not_ok = int(number(r"^Non-200 responses: (\d+)"))
    return WrkResult(
        requests_per_second=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=to_ms(number(r"^\s+50%\s+(\S+)")),
        p99_ms=to_ms(number(r"^\s+99%\s+(\S+)")),
        requests=int(number(r"^\s+(\d+) requests in")),
        not_ok=max(not_ok, int(non_2xx_3xx.group(1)) if non_2xx_3xx else 0),
        socket_errors=socket_errors,
    )


def run_wrk(
    url: str, headers: dict[str, str], *, threads: int, connections: int, seconds: int, script: Path
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    # wrk's default 2s timeout would turn a slow page into "errors" instead of a slow p99.
    command += ["--timeout", "30s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"wrk failed (exit {result.returncode}): {result.stderr.strip()}")
    # On SIGINT wrk stops early and still reports, exit 0: a short run is an interrupted one.
    ran = re.search(r"requests in (\S+),", result.stdout)
    if ran and to_ms(ran.group(1)) < 900 * seconds:
        raise BenchError(f"wrk stopped after {ran.group(1)} of {seconds}s (interrupted?)")
    return parse_wrk(result.stdout)


def combine(rounds: list[WrkResult], seconds: float) -> WrkResult:
    """One row from several rounds: throughput over the whole time, the median p50 and the
    worst p99 (a slow round must show)."""
    p50s = sorted(r.p50_ms for r in rounds)
    socket_errors: dict[str, int] = {}
    for r in rounds:
        for kind, n in r.socket_errors.items():
            socket_errors[kind] = socket_errors.get(kind, 0) + n
    requests = sum(r.requests for r in rounds)
    return WrkResult(
        requests_per_second=requests / seconds if seconds else 0.0,
        p50_ms=p50s[len(p50s) // 2],
        p99_ms=max(r.p99_ms for r in rounds),
        requests=requests,
        not_ok=sum(r.not_ok for r in rounds),
        socket_errors=socket_errors,
    )


# Other bench scripts ----------------------------------------------------------------------


@dataclass
class ExtraRow:
    """A line another bench script printed: `BENCH-ROW {json}`."""

    script: str
    label: str
    value: str
    baseline: str
    ratio: float | None
    goal: float | None
    ok: bool | None
    note: str = ""


def _figure(row: dict[str, Any], key: str) -> str:
    if row.get(f"{key}_s") is not None:
        return f"{float(row[f'{key}_s']):.3f} s"
    value = row.get(key)
    if value is None:
        return ""
    return f"{value:,.1f}" if isinstance(value, int | float) else str(value)


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def parse_rows(script: str, output: str) -> tuple[list[ExtraRow], list[str]]:
    """The BENCH-ROW lines of a script's output, and a complaint for each one unreadable."""
    rows: list[ExtraRow] = []
    problems: list[str] = []
    for line in output.splitlines():
        if not line.startswith(ROW_MARKER):
            continue
        try:
            data = json.loads(line[len(ROW_MARKER) :])
            if not isinstance(data, dict) or "label" not in data:
                raise ValueError("not an object with a label")
        except ValueError as error:
            problems.append(f"{script}: unreadable row ({error}): {line[:200]}")
            continue
        ok = data.get("ok")
        rows.append(
            ExtraRow(
                script=script,
                label=str(data["label"]),
                value=_figure(data, "value"),
                baseline=_figure(data, "baseline"),
                ratio=_number(data.get("ratio")),
                goal=_number(data.get("goal")),
                ok=ok if isinstance(ok, bool) else None,
                note=str(data.get("note") or ""),
            )
        )
    return rows, problems


def run_sub_scripts(large_url: str) -> tuple[list[ExtraRow], list[str]]:
    """Run each other bench script against the large database; collect its rows. A script
    that fails is reported, not fatal."""
    rows: list[ExtraRow] = []
    failures: list[str] = []
    env = {**os.environ, "DATABASE_URL": large_url}
    for name in SUB_SCRIPTS:
        path = ROOT / "bench" / name
        if not path.exists():
            continue
        say(f"running bench/{name}")
        started = time.monotonic()
        try:
            result = subprocess.run(
                [PYTHON, str(path)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=SUB_SCRIPT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            output = error.stdout if isinstance(error.stdout, str) else ""
            found, problems = parse_rows(name, output)
            rows += found
            failures += [*problems, f"bench/{name}: no result within {SUB_SCRIPT_TIMEOUT}s"]
            continue
        found, problems = parse_rows(name, result.stdout)
        rows += found
        failures += problems
        if result.returncode != 0:
            detail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            failures.append(f"bench/{name} failed (exit {result.returncode}):\n{detail}")
        elif not found:
            failures.append(f"bench/{name} printed no {ROW_MARKER.strip()} lines")
        say(f"bench/{name}: {len(found)} rows in {time.monotonic() - started:.0f}s")
    return rows, failures


# Report ---------------------------------------------------------------------------------


def mark(ok: bool | None) -> str:
    return "" if ok is None else ("✓" if ok else "✗")


def print_table(
    targets: list[Target],
    results: dict[str, WrkResult],
    large: DatabaseReport,
    small: DatabaseReport,
    extra: list[ExtraRow],
) -> None:
    floor = results["/healthz"].requests_per_second
    width = max(len(t.label) for t in targets) + 2
    print()
    print(
        f"{'endpoint':<{width}}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'queries L/S':>13}{'ratio':>8}{'goal':>7}{'ok':>4}{'errors':>8}"
    )
    for target in targets:
        result = results[target.label]
        ratio = result.requests_per_second / floor if floor else 0.0
        goal = f"{target.goal:.0%}" if target.goal is not None else ""
        ok = None if target.goal is None else ratio >= target.goal
        counts = f"{large.queries[target.label]} / {small.queries[target.label]}"
        print(
            f"{target.label:<{width}}{result.requests_per_second:>9.1f}{result.p50_ms:>9.1f}"
            f"{result.p99_ms:>9.1f}{counts:>13}{ratio:>8.0%}{goal:>7}{mark(ok):>4}"
            f"{result.errors:>8}"
        )
    if extra:
        width = max(len(r.label) for r in extra) + 2
        print()
        print(
            f"{'other benchmarks':<{width}}{'value':>14}{'baseline':>14}"
            f"{'ratio':>8}{'goal':>7}{'ok':>4}"
        )
        for row in extra:
            shown_ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
            shown_goal = f"{row.goal:g}" if row.goal is not None else ""
            print(
                f"{row.label:<{width}}{row.value:>14}{row.baseline:>14}"
                f"{shown_ratio:>8}{shown_goal:>7}"
                f"{mark(row.ok):>4}  {row.note}"
            )
    print()
    met = sum(
        1
        for t in targets
        if t.goal is not None and floor and results[t.label].requests_per_second / floor >= t.goal
    )
    goals = sum(1 for t in targets if t.goal is not None)
    extra_met = sum(1 for r in extra if r.ok)
    extra_goals = sum(1 for r in extra if r.ok is not None)
    print(
        f"goals met: {met}/{goals} endpoints (ratio = req/s ÷ /healthz req/s in the same rounds)"
        + (f", {extra_met}/{extra_goals} other benchmarks" if extra else "")
    )
    for target in targets:
        if target.note:
            print(f"{target.label}: {target.path}  {target.note}")
    for target in targets:
        result = results[target.label]
        if result.errors:
            detail = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items())
            print(
                f"ERRORS {target.label}: {result.not_ok} non-200 of {result.requests} responses"
                + (f"; socket errors: {detail}" if detail else "")
            )


def request_headers(target: Target, cookie: str, token: str) -> dict[str, str]:
    if target.anonymous:
        return {}
    fresh = {"Cache-Control": "no-cache"} if target.drawn else {}
    if target.api:
        return {"Authorization": f"Bearer {token}", **fresh}
    return {"Cookie": cookie, **fresh}


def bench(args: argparse.Namespace) -> int:
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        raise BenchError("DATABASE_URL is not set; run through `make bench`")
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed (apt-get install wrk)")
    seconds = 3 if args.quick else args.duration
    rounds = max(1, min(args.rounds, seconds))
    per_round = max(1, round(seconds / rounds))

    large_url = ensure_database(base_url, LARGE_DB, rebuild=args.rebuild)
    small_url = ensure_database(base_url, SMALL_DB, rebuild=args.rebuild)
    ensure_scorecard(large_url, LARGE_DB)
    ensure_scorecard(small_url, SMALL_DB)
    large_token = api_token(large_url)

    say(f"counting queries per endpoint (Django test client, warm, as {USERNAME})")
    large = count_queries(large_url, large_token)
    small = count_queries(small_url, api_token(small_url))
    targets = large.targets

    with tempfile.TemporaryDirectory(prefix="parity-bench-") as tmp:
        script = Path(tmp) / "status.lua"
        script.write_text(WRK_STATUS_SCRIPT)
        with gunicorn(large_url, args.workers, Path(tmp) / "gunicorn.log") as base:
            cookie = login(base)
            headers = {t.label: request_headers(t, cookie, large_token) for t in targets}
            for target in targets:
                status = http_status(base + target.path, headers[target.label])
                if status != 200:
                    raise BenchError(f"GET {target.path} answered {status}, expected 200")
            options = {"threads": args.threads, "connections": args.connections}
            for target in targets:
                # Warm both workers (templates, connections) before the measured rounds.
                run_wrk(
                    base + target.path, headers[target.label], **options, seconds=1, script=script
                )
            measured: dict[str, list[WrkResult]] = {t.label: [] for t in targets}
            for n in range(1, rounds + 1):
                say(f"round {n}/{rounds}: wrk {per_round}s on each of {len(targets)} endpoints")
                for target in targets:
                    measured[target.label].append(
                        run_wrk(
                            base + target.path,
                            headers[target.label],
                            **options,
                            seconds=per_round,
                            script=script,
                        )
                    )
            results = {label: combine(r, per_round * len(r)) for label, r in measured.items()}

    extra, failures = run_sub_scripts(large_url) if not args.no_extra else ([], [])

    print()
    print(
        f"gunicorn {args.workers} sync workers · wrk {args.threads} threads, "
        f"{args.connections} connections, {rounds} rounds of {per_round}s per endpoint · "
        f"large: {large.accounts:,} accounts, {large.engagements:,} engagements · "
        f"small: {small.accounts:,} accounts, {small.engagements:,} engagements"
    )
    print_table(targets, results, large, small, extra)
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures or any(r.errors for r in results.values()) else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3s per endpoint")
    parser.add_argument("--duration", type=int, default=12, help="seconds per endpoint")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds the duration is split into"
    )
    parser.add_argument(
        "--no-extra", action="store_true", help="skip the other bench scripts in bench/"
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--rebuild", action="store_true", help="rebuild both bench databases")
    parser.add_argument(
        "--count-queries", action="store_true", help="internal: count queries against DATABASE_URL"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    # `kill` should stop gunicorn too: turn SIGTERM into an exception so cleanup runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        return count_queries_main() if args.count_queries else bench(args)
    except BenchError as error:
        print(f"bench | FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench | interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
