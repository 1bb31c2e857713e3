"""The mandatory technical curriculum: its versions and modules, each commercial person's
enrolment in one version, the results an assessor records, and the reminders sent.

A person's status is computed from their results and the calendar, in SQL
(`EnrollmentQuerySet.with_status`): certified once every module is passed, overdue after the
due date, behind when a module's month has passed without a pass, on track otherwise. The
`status` column only keeps what the daily job last marked, so changes can be noticed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from tcp.models import User

# The curriculum takes nine months; a module is due at the end of its month (1-9).
CURRICULUM_MONTHS = 9
MAX_SCORE = 100


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole calendar months. When the target month is shorter, the result is
    its last day (31 May + 9 months = 28 or 29 February), as PostgreSQL computes it."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class AddMonths(Func):
    """SQL twin of add_months: `date + make_interval(months => n)`, as a date."""

    arity = 2
    output_field = models.DateField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, tuple[Any, ...]]:
        day, months = self.get_source_expressions()
        day_sql, day_params = compiler.compile(day)
        months_sql, months_params = compiler.compile(months)
        return (
            f"CAST(({day_sql}) + make_interval(months => CAST({months_sql} AS integer)) AS date)",
            (*day_params, *months_params),
        )


class Track(models.TextChoices):
    QUALITY_ASSURANCE = "qa", "Quality Assurance"
    PROJECT_MANAGEMENT = "pm", "Project Management"
    BUSINESS_ANALYSIS = "ba", "Business Analysis"


class Status(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    BEHIND = "behind", "Behind"
    OVERDUE = "overdue", "Overdue"
    CERTIFIED = "certified", "Certified"


# Worst first: how lists sort by status and which badge reads as a warning.
STATUS_RANK = {Status.OVERDUE: 0, Status.BEHIND: 1, Status.ON_TRACK: 2, Status.CERTIFIED: 3}


# Curricula ---------------------------------------------------------------------------------


class CurriculumQuerySet(models.QuerySet["Curriculum"]):
    def published(self) -> CurriculumQuerySet:
        return self.filter(published_at__isnull=False)

    def current(self) -> Curriculum | None:
        """The version new enrolments join: the latest published one."""
        return self.published().order_by("-version").first()


class Curriculum(models.Model):
    """One version of the curriculum. Published versions are frozen: people enrolled in a
    version keep exactly its modules, and a change means a new version."""

    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    summary = models.TextField(blank=True)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty while a draft. New enrolments join the latest."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CurriculumQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "curricula"

    def __str__(self) -> str:
        return f"{self.name} (version {self.version})"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Module(models.Model):
    curriculum = models.ForeignKey(Curriculum, on_delete=models.CASCADE, related_name="modules")
    track = models.CharField(max_length=2, choices=Track.choices)
    month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(CURRICULUM_MONTHS)],
        help_text=f"The month of the curriculum (1-{CURRICULUM_MONTHS}) by whose end it is due.",
    )
    title = models.CharField(max_length=120)
    description = models.TextField()
    pass_mark = models.PositiveSmallIntegerField(
        default=70,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SCORE)],
        help_text=f"The lowest assessment score, out of {MAX_SCORE}, that passes.",
    )

    class Meta:
        ordering = ["month", "track", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["curriculum", "title"], name="certification_module_title_once"
            ),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=CURRICULUM_MONTHS),
                name="certification_module_month_in_curriculum",
            ),
            models.CheckConstraint(
                condition=Q(pass_mark__gte=1, pass_mark__lte=MAX_SCORE),
                name="certification_pass_mark_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_track_display()}: {self.title}"

    def due_for(self, started_on: dt.date) -> dt.date:
        return add_months(started_on, self.month)


# Enrolments --------------------------------------------------------------------------------


class ClosedReason(models.TextChoices):
    LEFT = "left", "Left the company"
    ROLE = "role", "No longer in a commercial role"


def _passed_by(on: dt.date) -> models.QuerySet[ModuleResult]:
    return ModuleResult.objects.filter(passed=True, assessed_on__lte=on)


class EnrollmentQuerySet(models.QuerySet["Enrollment"]):
    def active(self) -> EnrollmentQuerySet:
        return self.filter(closed_on__isnull=True)

    def active_on(self, on: dt.date) -> EnrollmentQuerySet:
        """Running on day `on`: started, and not yet closed (closed on `on` is over)."""
        return self.filter(Q(closed_on__isnull=True) | Q(closed_on__gt=on), started_on__lte=on)

    def visible_to(self, user: User) -> EnrollmentQuerySet:
        """Leadership and administrators see everyone's; a manager their reports'; anyone
        their own."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.sees_everything:
            return self
        return self.filter(Q(person=user) | Q(person__manager=user))

    def with_status(self, on: dt.date) -> EnrollmentQuerySet:
        """Each enrolment's standing on day `on`: `passed` (modules passed by then),
        `modules` (in its curriculum) and `standing` (a Status value), all in SQL."""
        passed = (
            _passed_by(on)
            .filter(enrollment=OuterRef("pk"))
            .order_by()
            .values("enrollment")
            .annotate(n=Count("module", distinct=True))
            .values("n")
        )
        modules = (
            Module.objects.filter(curriculum=OuterRef("curriculum"))
            .order_by()
            .values("curriculum")
            .annotate(n=Count("id"))
            .values("n")
        )
        return self.annotate(
            passed=Coalesce(Subquery(passed, output_field=IntegerField()), 0),
            modules=Coalesce(Subquery(modules, output_field=IntegerField()), 0),
            standing=status_expression(on),
        )

    def with_status_rank(self) -> EnrollmentQuerySet:
        """`standing_rank`: worst first (needs with_status)."""
        return self.annotate(
            standing_rank=Case(
                *(When(standing=status, then=Value(rank)) for status, rank in STATUS_RANK.items()),
                output_field=IntegerField(),
            )
        )


def unpassed_modules(*, due_before: dt.date, on: dt.date) -> models.QuerySet[Module]:
    """The outer enrolment's modules due before `due_before` and not passed by `on` (a module
    is due at the end of its month, counted from the enrolment's start)."""
    passed = _passed_by(on).filter(enrollment=OuterRef(OuterRef("pk")), module=OuterRef("pk"))
    return (
        Module.objects.filter(curriculum=OuterRef("curriculum"))
        .alias(due=AddMonths(OuterRef("started_on"), F("month")))
        .filter(due__lt=due_before)
        .exclude(Exists(passed))
    )


def status_expression(on: dt.date) -> Case:
    """An enrolment's Status on day `on`. Certified wins; then overdue (the day after the
    due date); then behind (the day after a module's month ends unpassed)."""
    return Case(
        When(certified_on__lte=on, then=Value(Status.CERTIFIED)),
        When(due_on__lt=on, then=Value(Status.OVERDUE)),
        When(Exists(unpassed_modules(due_before=on, on=on)), then=Value(Status.BEHIND)),
        default=Value(Status.ON_TRACK),
        output_field=models.CharField(),
    )


class Enrollment(models.Model):
    """A person's place in one curriculum version, from the day they got a commercial role.

    Closed when they leave or lose the role; a person has at most one open enrolment.
    `certified_on` is the day their last module was passed (kept by the result services).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    curriculum = models.ForeignKey(Curriculum, on_delete=models.PROTECT, related_name="enrollments")
    started_on = models.DateField()
    due_on = models.DateField()
    certified_on = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    closed_reason = models.CharField(max_length=8, choices=ClosedReason.choices, blank=True)
    # What the daily job last marked, and since when, so a change of status is noticed once.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ON_TRACK)
    status_since = models.DateField(null=True, blank=True)
    # The day the last reminder was queued: at most one a week.
    reminded_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(closed_on__isnull=True),
                name="certification_one_active_enrollment",
            ),
            models.CheckConstraint(
                condition=Q(due_on__gt=F("started_on")), name="certification_due_after_start"
            ),
            models.CheckConstraint(
                condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("started_on")),
                name="certification_closed_after_start",
            ),
            models.CheckConstraint(
                condition=Q(certified_on__isnull=True) | Q(certified_on__gte=F("started_on")),
                name="certification_certified_after_start",
            ),
        ]
        indexes = [models.Index(fields=["due_on"], name="certification_due_idx")]

    def __str__(self) -> str:
        return f"{self.person} · {self.curriculum}"

    def get_absolute_url(self) -> str:
        return reverse("certification:enrollment", args=[self.uuid])

    @property
    def is_active(self) -> bool:
        return self.closed_on is None

    def status_on(self, on: dt.date) -> str:
        """This enrolment's Status on `on` (one query)."""
        row = Enrollment.objects.annotate(standing=status_expression(on)).filter(pk=self.pk)
        return str(getattr(row.first(), "standing", Status.ON_TRACK))


class ModuleResult(models.Model):
    """One assessment of one module: the score, whether it passed the module's mark, when,
    by whom and the evidence. A failed module can be sat again on a later day."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="results")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="results")
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(MAX_SCORE)]
    )
    passed = models.BooleanField()
    assessed_on = models.DateField()
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    evidence_note = models.TextField(blank=True)
    evidence_file = models.FileField(upload_to="certification/evidence/%Y/%m/", blank=True)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["assessed_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=0, score__lte=MAX_SCORE), name="certification_score_range"
            ),
            models.UniqueConstraint(
                fields=["enrollment", "module", "assessed_on"],
                name="certification_one_sitting_a_day",
            ),
        ]
        indexes = [
            models.Index(
                fields=["enrollment", "module"],
                condition=Q(passed=True),
                name="certification_passed_idx",
            )
        ]

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "not passed"
        return f"{self.module.title}: {self.score}/{MAX_SCORE}, {verdict}"


class Reminder(models.Model):
    """An e-mail reminder, written when the daily job claims it and sent by a task."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="reminders")
    queued_on = models.DateField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "queued_on"], name="certification_one_reminder_a_day"
            )
        ]

    def __str__(self) -> str:
        return self.subject
