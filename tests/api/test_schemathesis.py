"""Schemathesis (the installed CLI) against the live API on 127.0.0.1, with every check: the
schema must be true for every request it allows and every answer the API gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tcp.api_auth import TokenRateThrottle
from tcp.models import User
from tcp.services import api_token_create
from tests.figures import figure_add

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Enough examples per operation to reach each field and each error path, few enough that the
# run takes a few minutes on two cores. A fixed seed keeps a failure reproducible.
MAX_EXAMPLES = 10
SEED = 20261202
# Every role of the demo organisation, each with its own token: what one may not see is a 404
# and what it may not do a refusal, and neither may break the schema or the server. Sales
# leadership reaches every record, so it gets every phase; the others the generated
# (fuzzing) phase with fewer examples, which keeps the suite within minutes.
EVERY_PHASE = "examples,coverage,fuzzing,stateful"
PEOPLE = {
    "leader": (MAX_EXAMPLES, EVERY_PHASE),
    "am.alex": (3, "fuzzing"),
    "dm.dana": (3, "fuzzing"),
    "tm.tariq": (3, "fuzzing"),
    "hm.harper": (3, "fuzzing"),
    "admin": (3, "fuzzing"),
}


@pytest.mark.parametrize(
    ("username", "examples", "phases"), [(u, *p) for u, p in PEOPLE.items()], ids=list(PEOPLE)
)
@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_every_check_finds_nothing(
    live_server: Any,
    artifacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    examples: int,
    phases: str,
) -> None:
    call_command("seed_demo", verbosity=0)
    # The rate limit is tested on its own; here it would only slow the run down.
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1000000/minute"})
    person = User.objects.get(username=username)
    _, raw = api_token_create(user=person, name="schemathesis", actor=None)
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{live_server.url}/api/schema/",
            "--checks",
            "all",
            "--max-examples",
            str(examples),
            "--phases",
            phases,
            "--seed",
            str(SEED),
            # No example database carried between runs: the seed alone decides what is sent.
            "--generation-database",
            "none",
            "--workers",
            "2",
            # Generous: the server shares two cores with the rest of the suite.
            "--request-timeout",
            "30",
            "--header",
            f"Authorization: Bearer {raw}",
            "--no-color",
            "--report",
            "har",
            "--report-har-path",
            str(artifacts_dir / "requests.har"),
        ],
        # Schemathesis keeps its probe cache in the working folder: the test's, not the repo.
        cwd=artifacts_dir,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    (artifacts_dir / "schemathesis.txt").write_text(run.stdout + run.stderr)
    entries = json.loads((artifacts_dir / "requests.har").read_text())["log"]["entries"]
    server_errors = sum(1 for e in entries if e["response"]["status"] >= 500)
    figure_add("bad-inputs", tried=len(entries), server_errors=server_errors)
    print(f"schemathesis sent {len(entries)} requests as {username}")
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert server_errors == 0
    assert len(entries) > (1000 if phases == EVERY_PHASE else 100)
