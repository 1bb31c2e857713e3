from __future__ import annotations

import pytest
from celery import Celery
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_when_database_and_broker_answer() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    # A broker address where nothing listens: the same failure as a stopped Redis.
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:9/0", set_as_current=False)
    unreachable.conf.broker_connection_timeout = 1
    monkeypatch.setattr("tcp.views.celery_app", unreachable)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"
    assert response.json()["database"] == "ok"


def test_healthz_needs_no_login_and_only_get() -> None:
    assert Client().post("/healthz").status_code == 405


def test_healthz_makes_one_database_query(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        Client().get("/healthz")
