"""Every table with a CSV download also downloads as an XLSX workbook whose figures are
numbers a spreadsheet can add up."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from scorecard.views import XLSX
from tcp.models import OrganisationSettings, User
from tests.conftest import client_for
from tests.scorecard.test_impact import table_one  # noqa: F401 - the fixture
from tests.scorecard.test_pages import LAST_QUARTER, _build

pytestmark = pytest.mark.django_db


def _rows(response: Any) -> list[tuple[object, ...]]:
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def test_the_scorecard_downloads_as_a_workbook_with_its_figures_as_numbers(
    leadership: User, organisation: OrganisationSettings
) -> None:
    _build(2)  # two completed in the last quarter: one late, one on time
    rows = _rows(client_for(leadership).get("/scorecard/", {"format": "xlsx"}))
    assert rows[0] == (
        "perspective",
        "kpi",
        "value",
        "numerator",
        "denominator",
        "target",
        "status",
    )
    adherence = next(row for row in rows if row[1] == "Timeline adherence")
    assert adherence[0] == "Internal"
    assert adherence[2:5] == (50, 1, 2)
    assert all(isinstance(cell, int | float) for cell in adherence[2:5])
    empty = next(row for row in rows if row[1] == "PoC success")
    assert empty[2] is None  # no data is an empty cell, not 0


@pytest.mark.parametrize(
    ("table", "header", "expected"),
    [
        ("trend", ("period", "value", "numerator", "denominator"), (LAST_QUARTER.label, 50, 1, 2)),
        ("breakdown", ("industry", "value", "numerator", "denominator"), ("Retail", 100, 1, 1)),
        (
            "engagements",
            ("engagement", "account", "commercial lead", "in numerator"),
            None,
        ),
    ],
)
def test_each_kpi_table_downloads_as_a_workbook(
    leadership: User,
    organisation: OrganisationSettings,
    table: str,
    header: tuple[str, ...],
    expected: tuple[object, ...] | None,
) -> None:
    _build(2)
    response = client_for(leadership).get(
        "/scorecard/kpi/timeline_adherence/",
        {"format": "xlsx", "table": table, "breakdown": "industry"},
    )
    rows = _rows(response)
    assert rows[0] == header
    if expected is not None:
        assert expected in rows
    else:
        assert sorted(str(row[3]) for row in rows[1:]) == ["no", "yes"]


def test_the_tcp_impact_table_downloads_as_a_workbook_with_table_one(
    table_one: User,  # noqa: F811
) -> None:
    rows = _rows(
        client_for(table_one).get(
            "/scorecard/impact/",
            {
                "format": "xlsx",
                "pre_start": "2017-01-01",
                "pre_end": "2017-12-31",
                "post_start": "2025-01-01",
                "post_end": "2025-12-31",
            },
        )
    )
    assert rows[0][:4] == ("kpi", "before", "after", "change")
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Deal scope accuracy"][1:] == ("61%", "89%", "+28 pts", 61, 89)
    assert by_name["Timeline adherence"][4:] == (54, 81)
    assert by_name["Client retention (>3 years)"][4:] == (43, 74)
    assert by_name["Revenue per account (indexed)"][4:] == (1, 2.3)


def test_an_unknown_format_shows_the_page(
    leadership: User, organisation: OrganisationSettings
) -> None:
    response = client_for(leadership).get("/scorecard/", {"format": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
