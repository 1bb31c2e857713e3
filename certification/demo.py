"""The demo organisation's certification history, in bulk.

Certification started in January 2017 with the head of sales, who was certified that autumn
before anyone else was enrolled. The rest of sales leadership and the teams followed in
monthly cohorts from the next month to the end of 2018, so the whole commercial staff was
certified by the end of 2019. A few people enrolled in the last year are on track, behind or
overdue today. The overdue ones lead running engagements opened before they fell overdue,
which the engagement pages flag: the history keeps to the rule that stops them leading a new
one.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from django.db.models import F
from django.db.models.functions import Coalesce

from certification.models import (
    CURRICULUM_MONTHS,
    Enrollment,
    Module,
    ModuleResult,
    add_months,
    status_expression,
)
from certification.services import curriculum_current
from engagements.models import CLOSED_STAGES, Account, Engagement
from tcp.models import Role, User

if TYPE_CHECKING:
    from engagements.demo import DemoBuilder

LEADERSHIP_START = dt.date(2017, 1, 9)
LAST_COHORT = dt.date(2018, 12, 1)
# The people overdue today were enrolled this many days ago (nine months is 273-276 days).
OVERDUE_DAYS = (285, 340)
# Named demo logins whose desks show finished certifications.
CERTIFIED_PERSONAS = {"leader", "hm.harper", "am.alex", "tm.tariq"}

EVIDENCE = [
    "Written paper and a debrief with the assessor.",
    "Case study on a live account, reviewed with the assessor.",
    "Role-play with the assessor as the client's CTO.",
    "Short presentation to the assessor, then questions.",
]


class _History:
    def __init__(self, rng: random.Random, today: dt.date, modules: list[Module]) -> None:
        self.rng, self.today, self.modules = rng, today, modules
        self.results: list[tuple[int, ModuleResult]] = []

    def sit(
        self,
        index: int,
        start: dt.date,
        module: Module,
        assessor: User,
        *,
        late_days: int = 0,
        retake: bool = False,
    ) -> dt.date | None:
        """Results of one module: a pass in its month (or `late_days` after it), after a
        failed first attempt when `retake`. Returns the day it was passed, None if that day
        has not come yet."""
        rng = self.rng
        month_start = add_months(start, module.month - 1)
        due = add_months(start, module.month)
        window = max((due - month_start).days - 2, 1)
        passed_on = month_start + dt.timedelta(days=rng.randint(window // 2, window))
        passed_on += dt.timedelta(days=late_days)
        if passed_on > self.today:
            return None
        note = rng.choice(EVIDENCE)
        if retake:
            failed_on = passed_on - dt.timedelta(days=rng.randint(10, 20))
            if failed_on >= start:
                self.results.append(
                    (
                        index,
                        ModuleResult(
                            module=module,
                            score=rng.randint(40, module.pass_mark - 1),
                            passed=False,
                            assessed_on=failed_on,
                            assessor=assessor,
                            evidence_note="First attempt; retake booked.",
                        ),
                    )
                )
        self.results.append(
            (
                index,
                ModuleResult(
                    module=module,
                    score=rng.randint(module.pass_mark, 98),
                    passed=True,
                    assessed_on=passed_on,
                    assessor=assessor,
                    evidence_note=note,
                ),
            )
        )
        return passed_on

    def complete(self, index: int, start: dt.date, assessor: User) -> dt.date:
        """Every module passed; one in six people passes one module late, one in five
        retakes one. Returns the day of the last pass (certified)."""
        rng = self.rng
        late = rng.choice(self.modules) if rng.random() < 1 / 6 else None
        retake = rng.choice(self.modules) if rng.random() < 1 / 5 else None
        days = []
        for module in self.modules:
            late_days = rng.randint(5, 30) if module is late else 0
            day = self.sit(
                index, start, module, assessor, late_days=late_days, retake=module is retake
            )
            assert day is not None
            days.append(day)
        return max(days)


def build(builder: DemoBuilder, accounts: list[Account], engagements: list[Engagement]) -> None:
    """Enrol the demo's commercial staff and write their results (bulk inserts only; demo
    staff are created without the role service, so nothing else enrols them)."""
    rng = random.Random(2017)
    today = builder.today
    curriculum = curriculum_current()
    modules = list(Module.objects.filter(curriculum=curriculum).order_by("month", "track", "id"))
    people = list(User.objects.commercial().filter(is_active=True).order_by("pk"))
    if not people or not modules:
        return
    admin = User.objects.filter(roles__contains=[Role.ADMINISTRATOR]).order_by("pk").first()
    leader = User.objects.filter(username="leader").first() or people[0]
    leaders = [p for p in people if p.has_role(Role.SALES_LEADERSHIP)]
    others = [p for p in people if not p.has_role(Role.SALES_LEADERSHIP)]

    # The few enrolled in the last year. The overdue ones lead running engagements, all
    # opened before they fell overdue: flagged, not reassigned.
    last_led: dict[int, dt.date] = {}
    running: set[int] = set()
    led: dict[int, int] = {}
    for e in engagements:
        led[e.commercial_lead_id] = led.get(e.commercial_lead_id, 0) + 1
        if e.opened_on > last_led.get(e.commercial_lead_id, dt.date.min):
            last_led[e.commercial_lead_id] = e.opened_on
        if e.stage not in CLOSED_STAGES:
            running.add(e.commercial_lead_id)
    pool = [p for p in others if p.username not in CERTIFIED_PERSONAS]
    per_bucket = max(2, round(len(people) * 0.03))
    overdue_window = (
        today - dt.timedelta(days=OVERDUE_DAYS[1]),
        today - dt.timedelta(days=OVERDUE_DAYS[0]),
    )

    def overdue_from(person: User) -> dt.date | None:
        """The earliest start that leaves the person overdue today but not on the day they
        opened their latest engagement; None when there is none."""
        led = last_led.get(person.pk)
        earliest = (
            max(overdue_window[0], add_months(led, -CURRICULUM_MONTHS))
            if led
            else (overdue_window[0])
        )
        return earliest if earliest <= overdue_window[1] else None

    overdue = sorted(
        (p for p in pool if overdue_from(p) is not None),
        key=lambda p: (p.pk not in running, p.pk),
    )[:per_bucket]
    # Newer to a commercial role: those who have led the fewest engagements.
    rest = sorted((p for p in pool if p not in overdue), key=lambda p: (led.get(p.pk, 0), p.pk))
    behind, on_track = rest[:per_bucket], rest[per_bucket : 2 * per_bucket]
    recent = {p.pk for p in [*overdue, *behind, *on_track]}
    rollout = [p for p in others if p.pk not in recent]

    history = _History(rng, today, modules)
    enrollments: list[Enrollment] = []

    def enrol(person: User, start: dt.date) -> int:
        enrollments.append(
            Enrollment(
                person=person,
                curriculum=curriculum,
                started_on=start,
                due_on=add_months(start, CURRICULUM_MONTHS),
                created_at=builder.now,
            )
        )
        return len(enrollments) - 1

    # The head of sales first: enrolled in January 2017, certified that autumn before
    # anyone else was enrolled.
    head = leader if leader in leaders else leaders[0] if leaders else None
    certified_head = LEADERSHIP_START
    if head is not None:
        index = enrol(head, LEADERSHIP_START)
        for module in modules:
            history.sit(index, LEADERSHIP_START, module, admin or people[-1])
        certified_head = max(r.assessed_on for i, r in history.results if i == index)
        enrollments[index].certified_on = certified_head
    # Then everyone else in monthly cohorts, the rest of sales leadership in the first.
    first_cohort = add_months(certified_head.replace(day=1), 1)
    cohorts = []
    month = first_cohort
    while month <= max(LAST_COHORT, first_cohort):
        cohorts.append(month)
        month = add_months(month, 1)
    for n, person in enumerate(p for p in leaders if p != head):
        start = first_cohort + dt.timedelta(days=n)
        index = enrol(person, start)
        enrollments[index].certified_on = history.complete(index, start, head or leader)
    for n, person in enumerate(rollout):
        start = cohorts[n * len(cohorts) // len(rollout)] + dt.timedelta(days=rng.randint(0, 9))
        index = enrol(person, start)
        enrollments[index].certified_on = history.complete(index, start, leader)
    # And the few enrolled lately.
    starts = {}
    for person in overdue:
        earliest = overdue_from(person) or overdue_window[0]
        starts[person.pk] = earliest + dt.timedelta(
            days=rng.randint(0, (overdue_window[1] - earliest).days)
        )
    for person in behind:
        starts[person.pk] = today - dt.timedelta(days=rng.randint(125, 215))
    for person in on_track:
        starts[person.pk] = today - dt.timedelta(days=rng.randint(35, 110))
    for group, missing in ((overdue, 3), (behind, 1), (on_track, 0)):
        for person in group:
            start = starts[person.pk]
            index = enrol(person, start)
            past_due = [m for m in modules if add_months(start, m.month) < today]
            skipped = set(past_due[-missing:]) if missing else set()
            for module in past_due:
                if module not in skipped:
                    history.sit(index, start, module, leader)

    Enrollment.objects.bulk_create(enrollments, batch_size=2000)
    rows = []
    for index, result in history.results:
        result.enrollment = enrollments[index]
        result.recorded_at = builder.now
        rows.append(result)
    ModuleResult.objects.bulk_create(rows, batch_size=5000)
    # The statuses the daily job would have marked, in one statement.
    Enrollment.objects.filter(pk__in=[e.pk for e in enrollments]).update(
        status=status_expression(today),
        status_since=Coalesce(F("certified_on"), F("started_on")),
    )
