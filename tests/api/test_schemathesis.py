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

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Enough examples per operation to reach each field and each error path, few enough that the
# run takes a few minutes on two cores. A fixed seed keeps a failure reproducible.
MAX_EXAMPLES = 10
SEED = 20261202


@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_every_check_finds_nothing(
    live_server: Any, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_command("seed_demo", verbosity=0)
    # The rate limit is tested on its own; here it would only slow the run down.
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1000000/minute"})
    leader = User.objects.get(username="leader")
    _, raw = api_token_create(user=leader, name="schemathesis", actor=None)
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
            str(MAX_EXAMPLES),
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
    requests = len(json.loads((artifacts_dir / "requests.har").read_text())["log"]["entries"])
    print(f"schemathesis sent {requests} requests")
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert requests > 1000
