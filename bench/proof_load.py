"""The load scenario of `make proof`: Parity's real journeys, as a locust file.

bench/proof.py runs it headless against gunicorn, e.g.
`locust -f bench/proof_load.py --headless -u 50 -r 50 -t 60s --host http://127.0.0.1:8123`,
with PROOF_PLAN naming a JSON file of what to work on (accounts, milestones, an API token:
bench/proof.py writes it from the demo organisation) and PROOF_SAMPLES the file each
request's time is written to at the end, so the harness can take percentiles per journey.

Every request's name is "<journey> · <step>"; /healthz runs in the same run as the floor
the pages are compared with.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from gevent.lock import Semaphore
from locust import HttpUser, between, events, task
from requests.cookies import RequestsCookieJar

PLAN: dict[str, Any] = json.loads(Path(os.environ["PROOF_PLAN"]).read_text())
PASSWORD = "parity-demo"  # noqa: S105 - the documented demo login (engagements.demo)
# (name, milliseconds, succeeded, when it ended)
SAMPLES: list[tuple[str, float, bool, float]] = []
# One account (or milestone) per user where there are enough, so that two people rarely
# edit the same record at once; the shared counter hands them out in turn.
SEATS = itertools.count()
# Account managers' browsers take (account manager, account) desks in turn.
DESKS = itertools.count()
SIGNED_IN: dict[str, RequestsCookieJar] = {}
SIGN_IN_LOCKS: dict[str, Semaphore] = {}


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any = None, **_: Any) -> None:
    SAMPLES.append((name, response_time, exception is None, time.time()))


@events.user_error.add_listener
def _record_task_error(user_instance: Any, exception: Exception, **_: Any) -> None:
    """A journey that raised (a page not as expected) is an error too, under its own name."""
    name = f"{type(user_instance).__name__} · raised {type(exception).__name__}"
    SAMPLES.append((name, 0.0, False, time.time()))


@events.quitting.add_listener
def _write_samples(**_: Any) -> None:
    Path(os.environ["PROOF_SAMPLES"]).write_text(json.dumps(SAMPLES))


class FormFields(HTMLParser):
    """The fields a browser would submit from the first form whose action is `action`:
    hidden and text inputs, checked radios and boxes, textareas and selected options."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.done = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and a.get("action") == self.action:
            self.inside = True
        if not self.inside or ("name" not in a and tag != "option"):
            return
        name = a.get("name", "")
        kind = a.get("type", "text")
        if tag == "input" and kind not in ("submit", "button", "radio", "checkbox", "file"):
            self.fields.append((name, a.get("value", "")))
        elif tag == "input" and kind in ("radio", "checkbox") and "checked" in a:
            self.fields.append((name, a.get("value", "on")))
        elif tag == "textarea":
            self._textarea = name
            self.fields.append((name, ""))
        elif tag == "select":
            self._select, self._first_option, self._chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self.fields.append((self._select, value))
                self._chosen = True

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if not self._chosen and self._first_option is not None:
                self.fields.append((self._select, self._first_option))
            self._select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def fill(fields: dict[str, str], **values: str) -> dict[str, str]:
    """New values for the fields named `<prefix>-<name>` (forms carry a prefix per row)."""
    return {
        key: values[key.rsplit("-", 1)[-1]] for key in fields if key.rsplit("-", 1)[-1] in values
    }


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    parser = FormFields(action)
    parser.feed(html)
    return parser.fields


class Person(HttpUser):
    """A browser of someone signed in through the real login form, with its CSRF token.

    The browsers of one person share the session of one sign-in: the run measures the
    journeys, not dozens of password hashes at the same moment (signing in is slow on
    purpose, and is still timed, as "login").
    """

    abstract = True
    username = ""
    # A person reads what they opened before the next click.
    wait_time = between(2, 6)

    def on_start(self) -> None:
        with SIGN_IN_LOCKS.setdefault(self.username, Semaphore()):
            if self.username not in SIGNED_IN:
                self.sign_in()
                SIGNED_IN[self.username] = self.client.cookies.copy()
        # Copied cookie by cookie, domain included, so a later Set-Cookie replaces them.
        self.client.cookies.update(SIGNED_IN[self.username])
        self.seat = next(SEATS)

    def sign_in(self) -> None:
        page = self.client.get("/login/", name="login · form")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        with self.client.post(
            "/login/",
            data={
                "csrfmiddlewaretoken": token[1] if token else "",
                "username": self.username,
                "password": PASSWORD,
            },
            allow_redirects=False,
            name="login · sign in",
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"login as {self.username} answered {answer.status_code}")

    def htmx_post(self, path: str, data: dict[str, str], name: str) -> str:
        """POST as htmx does; returns the partial it answered."""
        headers = {
            "HX-Request": "true",
            "X-CSRFToken": self.client.cookies.get("csrftoken", ""),
            "Referer": f"{self.host}{path}",
        }
        with self.client.post(
            path, data=data, headers=headers, name=name, catch_response=True
        ) as answer:
            refused = answer.headers.get("HX-Reswap") == "none" or "has-error" in answer.text
            if answer.status_code != 200 or refused or "Not saved" in answer.text:
                answer.failure(f"not saved ({answer.status_code})")
            return answer.text


class AccountManager(Person):
    """Edits the client intelligence profile of an account during discovery, in place."""

    weight = 4

    def on_start(self) -> None:
        desk = PLAN["am"][next(DESKS) % len(PLAN["am"])]
        self.username, self.account = desk["username"], desk["account"]
        super().on_start()

    @task
    def edit_discovery(self) -> None:
        base = f"/accounts/{self.account}/intelligence/"
        page = self.client.get(base, name="discovery · profile page").text
        stamp = time.strftime("%H:%M:%S")
        # The fields as the page has them (prefixes, the version it was read at), with
        # what the person typed.
        profile = dict(form_fields(page, base))
        profile.update(
            fill(profile, business_context=f"Growth plan reviewed with the client at {stamp}.")
        )
        self.htmx_post(base, profile, "discovery · save profile (htmx)")
        adding = dict(form_fields(page, f"{base}targets/"))
        adding.update(
            fill(
                adding,
                metric="Orders processed per day",
                baseline=str(random.randint(100, 900)),
                target="1200",
                unit="orders/day",
                horizon_year="2029",
            )
        )
        added = self.htmx_post(f"{base}targets/", adding, "discovery · add growth target (htmx)")
        # Taken out again, so that the profile is the same size at the end of the run.
        found = re.search(r'hx-post="([^"]*/targets/\d+/delete/)"', added)
        if found:
            self.htmx_post(found[1], {}, "discovery · remove growth target (htmx)")


class DeliveryManager(Person):
    """Opens their milestones and records who attended one, through the real form."""

    weight = 2
    username = PLAN["dm"]["username"]

    @task
    def record_attendance(self) -> None:
        self.client.get("/milestones/", name="attendance · my milestones")
        forms = PLAN["dm"]["attendance"]
        path = forms[(self.seat + random.randrange(len(forms))) % len(forms)]
        with self.client.get(path, name="attendance · form", catch_response=True) as page:
            fields = form_fields(page.text, path)
            if not any(name == "csrfmiddlewaretoken" for name, _ in fields):
                page.failure(f"no attendance form (ended at {page.url}, {page.status_code})")
                return
        with self.client.post(
            path,
            data=fields,
            headers={"Referer": f"{self.host}{path}"},
            allow_redirects=False,
            name="attendance · record",
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"attendance not recorded ({answer.status_code})")


class Leadership(Person):
    """Reads the scorecard, a KPI, the TCP impact and an account's documents."""

    weight = 2
    username = PLAN["leader"]

    @task(3)
    def scorecard(self) -> None:
        self.client.get("/scorecard/", name="scorecard · scorecard")

    @task(2)
    def kpi(self) -> None:
        self.client.get(f"/scorecard/kpi/{PLAN['kpi']}/", name="scorecard · KPI page")

    @task(1)
    def impact(self) -> None:
        self.client.get("/scorecard/impact/", name="scorecard · TCP impact")

    @task(1)
    def documents(self) -> None:
        account = random.choice(PLAN["qbr"]["accounts"])
        self.client.get(f"/accounts/{account}/documents/", name="documents · account page")


class Api(HttpUser):
    abstract = True
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.client.headers.update(
            {"Authorization": f"Bearer {PLAN['token']}", "Accept": "application/json"}
        )


class Crm(Api):
    """Pushes its accounts in bulk and pulls what changed since its last cursor."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        self.cursor = ""
        self.crm = f"crm-{next(SEATS)}"

    @task
    def sync(self) -> None:
        rows = [
            {
                "external_id": f"{self.crm}-{n:03}",
                "name": f"Account {n} of {self.crm}",
                "notes": f"Synced {time.time():.0f}",
                **PLAN["crm"],
            }
            for n in range(50)
        ]
        with self.client.post(
            "/api/v1/accounts/bulk/", json=rows, name="CRM · bulk upsert 50", catch_response=True
        ) as answer:
            if answer.status_code != 200 or answer.json().get("errors"):
                answer.failure(f"bulk refused ({answer.status_code})")
        query = f"cursor={self.cursor}" if self.cursor else "limit=200"
        answer = self.client.get(f"/api/v1/engagements/?{query}", name="CRM · incremental pull")
        if answer.ok:
            self.cursor = answer.json().get("cursor") or self.cursor


class Documents(Api):
    """A system asking for an account's QBR through the API, then polling it."""

    weight = 1
    wait_time = between(5, 10)

    @task
    def qbr(self) -> None:
        account = random.choice(PLAN["qbr"]["accounts"])
        with self.client.post(
            "/api/v1/documents/",
            json={"kind": "qbr", "account": account, "quarter": PLAN["qbr"]["quarter"]},
            name="documents · request QBR",
            catch_response=True,
        ) as answer:
            if answer.status_code != 202:
                answer.failure(f"QBR refused ({answer.status_code})")
                return
            document = answer.json()["id"]
        self.client.get(f"/api/v1/documents/{document}/", name="documents · poll")


class Probe(HttpUser):
    """The floor: /healthz (one query and one broker ping) under the same load."""

    # Two of them whatever the number of users, so every run has its yardstick.
    fixed_count = 2
    wait_time = between(0.5, 1)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="/healthz")
