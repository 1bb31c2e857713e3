"""Load-test Parity's main pages against a large organisation: `make bench`.

Run through `python -m tcp.devstack exec -- python bench/run.py [--quick] [--rebuild]`, which
sets DATABASE_URL, REDIS_URL and SECRET_KEY. The harness

1. builds two databases on the same PostgreSQL server, once, and keeps them between runs:
   `parity_bench` (seed_demo --scale large) and `parity_bench_small` (the default small scale);
2. counts the SQL queries each page makes, in-process with Django's test client, against both,
   so a count that grows with the data (an N+1) shows up as large != small;
3. serves the large database with gunicorn (2 sync workers, as in production), logs in as the
   demo `leader` through the real login form, and drives each page with wrk;
4. prints requests/s, p50/p99 latency and each page's throughput relative to /healthz, which is
   the floor cost of a request through the same stack (one query and one broker ping).
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
GOAL_RATIO = 0.35
RESULT_MARKER = "BENCH-RESULT "

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
        say(f"{name}: cached ({counts[0]:,} accounts, {counts[1]:,} engagements)")
        return url
    reason = "--rebuild" if rebuild else ("incomplete" if exists else "missing")
    say(f"{name}: building the {scale} organisation ({reason}); this happens once")
    started = time.monotonic()
    recreate_database(base_url, name)
    manage(url, "migrate", "--no-input", "--verbosity", "0")
    manage(url, "seed_demo", "--scale", scale)
    say(f"{name}: built in {time.monotonic() - started:.1f}s")
    return url


# Query counts (runs in a subprocess per database, see count_queries_main) ----------------


@dataclass
class Target:
    label: str  # the row's name in the table, the same for both databases
    path: str  # the URL path in this database
    note: str = ""


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
    targets = [
        Target("/healthz", "/healthz"),
        Target(ACCOUNT_LIST, ACCOUNT_LIST),
        Target(
            "/accounts/<uuid>/",
            f"/accounts/{account.uuid}/",
            f"{account.name} ({account.external_id}, {account.n} engagements)",
        ),
        Target(
            "/engagements/<uuid>/",
            f"/engagements/{engagement.uuid}/",
            f"{engagement.name} ({engagement.external_id}, {engagement.n} stage changes)",
        ),
    ]

    client = Client()
    client.force_login(User.objects.get(username=USERNAME))
    queries: dict[str, int] = {}
    for target in targets:
        # The first request fills per-process caches (content types, templates); the second
        # is what a warm worker does under load, so that is the one counted.
        client.get(target.path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(target.path)
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


def count_queries(url: str) -> DatabaseReport:
    env = {
        **os.environ,
        "DATABASE_URL": url,
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


def http_status(url: str, cookie: str = "") -> int:
    """Status of a GET without following redirects: a 302 to /login/ must not pass as a 200."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
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
    url: str, cookie: str, *, threads: int, connections: int, seconds: int, script: Path
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    # wrk's default 2s timeout would turn a slow page into "errors" instead of a slow p99.
    command += ["--timeout", "30s", "-s", str(script), "-H", f"Cookie: {cookie}", url]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"wrk failed (exit {result.returncode}): {result.stderr.strip()}")
    # On SIGINT wrk stops early and still reports, exit 0: a short run is an interrupted one.
    ran = re.search(r"requests in (\S+),", result.stdout)
    if ran and to_ms(ran.group(1)) < 900 * seconds:
        raise BenchError(f"wrk stopped after {ran.group(1)} of {seconds}s (interrupted?)")
    return parse_wrk(result.stdout)


# Report ---------------------------------------------------------------------------------


def print_table(
    targets: list[Target],
    results: dict[str, WrkResult],
    large: DatabaseReport,
    small: DatabaseReport,
) -> None:
    floor = results["/healthz"].requests_per_second
    width = max(len(t.label) for t in targets) + 2
    print()
    print(
        f"{'endpoint':<{width}}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'queries (large/small)':>24}{'vs /healthz':>13}{'goal':>6}{'errors':>8}"
    )
    for target in targets:
        result = results[target.label]
        ratio = result.requests_per_second / floor if floor else 0.0
        is_floor = target.label == "/healthz"
        goal = "" if is_floor else ("✓" if ratio >= GOAL_RATIO else "✗")
        counts = f"{large.queries[target.label]} / {small.queries[target.label]}"
        print(
            f"{target.label:<{width}}{result.requests_per_second:>9.1f}{result.p50_ms:>9.1f}"
            f"{result.p99_ms:>9.1f}{counts:>24}{ratio:>12.0%} {goal:>5}{result.errors:>8}"
        )
    print()
    print(f"goal: each page at least {GOAL_RATIO:.0%} of /healthz throughput (informational)")
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


def bench(args: argparse.Namespace) -> int:
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        raise BenchError("DATABASE_URL is not set; run through `make bench`")
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed (apt-get install wrk)")
    seconds = 3 if args.quick else args.duration

    large_url = ensure_database(base_url, LARGE_DB, rebuild=args.rebuild)
    small_url = ensure_database(base_url, SMALL_DB, rebuild=args.rebuild)

    say("counting queries per page (Django test client, warm, logged in as leader)")
    large = count_queries(large_url)
    small = count_queries(small_url)
    targets = large.targets

    with tempfile.TemporaryDirectory(prefix="parity-bench-") as tmp:
        script = Path(tmp) / "status.lua"
        script.write_text(WRK_STATUS_SCRIPT)
        with gunicorn(large_url, args.workers, Path(tmp) / "gunicorn.log") as base:
            cookie = login(base)
            for target in targets:
                status = http_status(base + target.path, cookie)
                if status != 200:
                    raise BenchError(f"GET {target.path} answered {status}, expected 200")
            results: dict[str, WrkResult] = {}
            for target in targets:
                options = {"threads": args.threads, "connections": args.connections}
                # Warm both workers (templates, connections) before the measured run.
                run_wrk(base + target.path, cookie, **options, seconds=1, script=script)
                say(f"wrk {seconds}s {target.label}")
                results[target.label] = run_wrk(
                    base + target.path, cookie, **options, seconds=seconds, script=script
                )

    print()
    print(
        f"gunicorn {args.workers} sync workers · wrk {args.threads} threads, "
        f"{args.connections} connections, {seconds}s per endpoint · "
        f"large: {large.accounts:,} accounts, {large.engagements:,} engagements · "
        f"small: {small.accounts:,} accounts, {small.engagements:,} engagements"
    )
    print_table(targets, results, large, small)
    return 1 if any(r.errors for r in results.values()) else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3s per endpoint")
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
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
