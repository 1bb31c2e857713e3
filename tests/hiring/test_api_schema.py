"""Schemathesis (the installed CLI) against the live hiring API, with every check and one
real candidate: every answer the API gives, refusals included, must be the one the schema
describes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hiring import services
from hiring.models import AuditionScore, Candidate, Stage
from tcp.api_auth import TokenRateThrottle
from tcp.models import Role
from tcp.services import api_token_create
from tests.factories import UserFactory

HERE = Path(__file__).resolve().parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SEED = 20261202


@pytest.mark.django_db(transaction=True)
def test_the_hiring_api_answers_as_its_schema_says(
    live_server: Any, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1000000/minute"})
    manager = UserFactory.create(username="harper", roles=[Role.HIRING_MANAGER])
    panelist = UserFactory.create(username="priya", roles=[Role.DELIVERY_MANAGER])
    opening = services.opening_create(
        title="Technical seller",
        profile=services.profile_create_starter(actor=manager),
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
        panel=[panelist],
        actor=manager,
    )
    candidate = services.candidate_add(
        opening=opening, first_name="Ada", last_name="Lovelace", actor=manager
    )
    Candidate.objects.filter(pk=candidate.pk).update(stage=Stage.AUDITION)
    _, raw = api_token_create(user=panelist, name="schemathesis", actor=None)
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{live_server.url}/api/schema/",
            "--include-path-regex",
            "/hiring-",
            "--checks",
            "all",
            "--max-examples",
            "40",
            "--seed",
            str(SEED),
            "--header",
            f"Authorization: Bearer {raw}",
            "--no-color",
            "--report",
            "har",
            "--report-har-path",
            str(artifacts_dir / "requests.har"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "HIRING_CANDIDATE": str(candidate.uuid)},
    )
    (artifacts_dir / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    entries = json.loads((artifacts_dir / "requests.har").read_text())["log"]["entries"]
    statuses = {e["response"]["status"] for e in entries}
    # It reached the scoring and the reading, not only the refusals.
    assert {200, 201, 422} <= statuses, statuses
    assert AuditionScore.objects.filter(candidate=candidate, panelist=panelist).count() == 1
