"""Template syntax never reaches the page: Django's {# … #} comment ends on its own line, so
one spread over two lines is printed, not hidden."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tcp.models import User
from tests.conftest import client_for

TEMPLATES = sorted(
    path
    for path in Path(settings.BASE_DIR).glob("*/templates/**/*.html")
    if ".venv" not in path.parts
) + sorted(Path(settings.BASE_DIR, "templates").glob("**/*.html"))


def test_the_project_has_templates_to_check() -> None:
    assert len(TEMPLATES) > 50


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_no_template_comment_spans_two_lines(path: Path) -> None:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        opened = line.rfind("{#")
        assert opened == -1 or "#}" in line[opened:], f"line {number}: use {{% comment %}}"


@pytest.mark.django_db
def test_a_signed_in_page_shows_no_template_syntax(leadership: User) -> None:
    page = client_for(leadership).get("/").content.decode()
    assert "{#" not in page
    assert "#}" not in page
    assert "{%" not in page
