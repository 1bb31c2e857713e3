"""The hiring API: audition scores read by those who may see the candidate, the panel's
independence rule as on the page, and a panel member submitting their own score."""

from __future__ import annotations

from typing import Any

import pytest

from hiring import services
from hiring.models import AuditionScore, Opening, Stage
from tcp.models import User
from tests.api.conftest import api_client_for
from tests.hiring.conftest import SCORES, add_candidate

pytestmark = pytest.mark.django_db


def _url(candidate: Any) -> str:
    return f"/api/v1/hiring-candidates/{candidate.uuid}/audition-scores/"


def test_a_panel_member_reads_no_scores_until_submitting_their_own(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    first, second = panelists
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    services.audition_score_submit(
        candidate=candidate, panelist=first, scores=SCORES, would_buy=True, notes="First's note"
    )
    api = api_client_for(second)
    refused = api.get(_url(candidate))
    assert refused.status_code == 403
    assert refused.json()["type"] == "forbidden"
    assert "First's note" not in refused.content.decode()
    # The page applies the same rule function: second sees nothing there either.
    assert not services.audition_scores_visible(candidate=candidate, user=second)

    response = api.post(
        _url(candidate),
        {**dict.fromkeys(SCORES, 1), "would_buy": False, "notes": "Too quiet"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["candidate"] == str(candidate.uuid)
    assert body["candidate_stage"] == "audition"
    assert body["summary"] == {
        "count": 2,
        "mean": "7.00",
        "lowest": 4,
        "highest": 10,
        "spread": "3.00",
        "would_buy": 1,
    }
    technical = next(c for c in body["criteria"] if c["criterion"] == "technical_clarity")
    assert technical == {
        "criterion": "technical_clarity",
        "label": "Technical clarity",
        "mean": "1.50",
        "lowest": 1,
        "highest": 2,
    }
    assert [(s["panelist"], s["total"], s["notes"]) for s in body["scores"]] == [
        ("panel1", 10, "First's note"),
        ("panel2", 4, "Too quiet"),
    ]
    assert api.get(_url(candidate)).json() == body


def test_the_hiring_manager_reads_the_scores_at_once_but_cannot_score(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    api = api_client_for(manager)
    empty = api.get(_url(candidate)).json()
    assert empty["summary"]["count"] == 0
    assert empty["summary"]["mean"] is None
    assert empty["scores"] == []
    response = api.post(_url(candidate), {**SCORES, "would_buy": True}, format="json")
    assert response.status_code == 403
    assert not AuditionScore.objects.exists()


def test_outsiders_and_sales_leadership_get_404_from_the_api(
    opening: Opening, manager: User, outsider: User, leadership: User
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    for user in (outsider, leadership):
        api = api_client_for(user)
        assert api.get(_url(candidate)).status_code == 404
        response = api.post(_url(candidate), {**SCORES, "would_buy": True}, format="json")
        assert response.status_code == 404
        assert response.json()["type"] == "not_found"
    malformed = api_client_for(manager).post(
        "/api/v1/hiring-candidates/not-a-uuid/audition-scores/",
        {**SCORES, "would_buy": True},
        format="json",
    )
    assert malformed.status_code == 404
    assert malformed.json()["type"] == "not_found"
    assert not AuditionScore.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SCORES, "technical_clarity": 4, "would_buy": True}, "technical_clarity"),
        ({**SCORES, "technical_clarity": "two", "would_buy": True}, "technical_clarity"),
        ({**SCORES}, "would_buy"),
        ({**SCORES, "would_buy": True, "total": 12}, "total"),
    ],
)
def test_bad_scores_get_a_400_naming_the_field_and_save_nothing(
    opening: Opening, manager: User, panelists: list[User], body: dict, field: str
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    response = api_client_for(panelists[0]).post(_url(candidate), body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "invalid"
    assert field in error["fields"]
    assert not AuditionScore.objects.exists()


def test_a_score_is_final_and_only_taken_at_the_audition(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    early = add_candidate(opening, manager, name="Early", stage=Stage.INTERVIEW)
    api = api_client_for(panelists[0])
    # Well formed but refused by a rule: a 422, as for every service refusal.
    response = api.post(_url(early), {**SCORES, "would_buy": True}, format="json")
    assert response.status_code == 422
    assert "audition" in response.json()["message"]
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    assert (
        api.post(_url(candidate), {**SCORES, "would_buy": True}, format="json").status_code == 201
    )
    again = api.post(
        _url(candidate), {**dict.fromkeys(SCORES, 3), "would_buy": True}, format="json"
    )
    assert again.status_code == 422
    assert "already submitted" in again.json()["message"]
    assert AuditionScore.objects.get().total == 10


def test_a_submission_sent_twice_with_one_idempotency_key_is_recorded_once(
    opening: Opening, manager: User, panelists: list[User]
) -> None:
    candidate = add_candidate(opening, manager, stage=Stage.AUDITION)
    api = api_client_for(panelists[0])
    body = {**SCORES, "would_buy": True}
    first = api.post(_url(candidate), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(_url(candidate), body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert AuditionScore.objects.count() == 1


def test_the_schema_describes_the_audition_endpoints_and_their_errors(
    manager: User,
) -> None:
    schema = api_client_for(manager).get("/api/schema/?format=json").json()
    path = schema["paths"]["/api/v1/hiring-candidates/{uuid}/audition-scores/"]
    assert set(path) == {"get", "post"}
    assert set(path["get"]["responses"]) == {"200", "400", "401", "403", "404", "429"}
    assert set(path["post"]["responses"]) >= {"201", "400", "403", "404", "422"}
    assert "409" not in path["post"]["responses"]
    error = {"$ref": "#/components/schemas/Error"}
    assert path["get"]["responses"]["403"]["content"]["application/json"]["schema"] == error
    assert "ETag" not in path["post"]["responses"]["201"].get("headers", {})
    created = path["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/AuditionScores"}
    body = path["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert request["additionalProperties"] is False
    assert request["properties"]["technical_clarity"] == {
        "type": "integer",
        "maximum": 3,
        "minimum": 1,
        "description": "1 weak, 2 sound, 3 strong.",
    }
    assert "Idempotency-Key" in [p["name"] for p in path["post"]["parameters"]]
    summary = schema["components"]["schemas"]["AuditionSummary"]["properties"]
    assert summary["spread"]["nullable"] is True
    # Figures are decimal strings, as in the scorecard API.
    assert (summary["mean"]["type"], summary["mean"]["format"]) == ("string", "decimal")
