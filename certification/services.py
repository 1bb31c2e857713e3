"""Certification workflows. Pages, the back office, the daily job and the other apps' hooks
(role changes, the commercial-lead gate, the 1:1 agenda, the engagement page) all call these,
so each rule lives here once."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from certification.curriculum import DEFAULT_MODULES, DEFAULT_NAME, DEFAULT_SUMMARY
from certification.models import (
    CURRICULUM_MONTHS,
    MAX_SCORE,
    AddMonths,
    ClosedReason,
    Curriculum,
    Enrollment,
    EnrollmentQuerySet,
    Module,
    ModuleResult,
    Reminder,
    Status,
    Track,
    add_months,
    status_expression,
    unpassed_modules,
)
from engagements.models import Engagement
from engagements.services import Blocker
from tcp.models import COMMERCIAL_ROLES, Role, User
from tcp.services import audit_record, notification_send

# A reminder covers the modules due within this many days (and any already late)...
REMINDER_WINDOW_DAYS = 14
# ...and goes to a person at most once in this many days.
REMINDER_INTERVAL_DAYS = 7
# The largest evidence file an assessor may attach.
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
# Documents and pictures an assessor can open safely; nothing a browser would run.
EVIDENCE_EXTENSIONS = ("pdf", "png", "jpg", "jpeg", "docx", "xlsx", "pptx", "txt")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


# Who may assess --------------------------------------------------------------------------


def may_assess(user: User) -> bool:
    """Assessors: administrators and sales leadership. Leadership sat the curriculum first
    and answers for the standard; nobody assesses themselves (checked per result)."""
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or user.has_role(Role.SALES_LEADERSHIP))
    )


def _check_assessor(assessor: User | None, enrollment: Enrollment) -> User:
    if assessor is None or not may_assess(assessor):
        raise PermissionDenied("Only administrators and sales leadership record assessments.")
    if assessor.pk == enrollment.person_id:
        raise PermissionDenied("Nobody assesses their own certification.")
    return assessor


# Curricula -------------------------------------------------------------------------------


def next_version_number() -> int:
    return (Curriculum.objects.aggregate(v=Max("version"))["v"] or 0) + 1


@transaction.atomic
def curriculum_install_default(*, actor: User | None = None) -> Curriculum:
    """The current curriculum, installing the first version (curriculum.DEFAULT_MODULES) when
    none is published. Two callers at once end with one installed version."""
    current = Curriculum.objects.current()
    if current is not None:
        return current
    try:
        with transaction.atomic():
            curriculum = Curriculum.objects.create(
                name=DEFAULT_NAME,
                version=next_version_number(),
                summary=DEFAULT_SUMMARY,
                published_at=timezone.now(),
            )
            Module.objects.bulk_create(
                Module(curriculum=curriculum, **text._asdict()) for text in DEFAULT_MODULES
            )
    except IntegrityError:
        # Someone installed it in the same moment: theirs stands.
        current = Curriculum.objects.current()
        if current is None:
            raise
        return current
    audit_record(
        actor=actor,
        action="curriculum.publish",
        obj=curriculum,
        changes={"version": curriculum.version, "modules": len(DEFAULT_MODULES)},
    )
    return curriculum


def curriculum_current() -> Curriculum:
    """The version new enrolments join (installed on first use)."""
    return Curriculum.objects.current() or curriculum_install_default()


@transaction.atomic
def curriculum_new_version(*, curriculum: Curriculum, actor: User | None) -> Curriculum:
    """A draft copy of `curriculum` with the same modules, numbered after the latest version,
    for administrators to edit and then publish. Running enrolments keep their own version."""
    try:
        with transaction.atomic():
            draft = Curriculum.objects.create(
                name=curriculum.name, version=next_version_number(), summary=curriculum.summary
            )
    except IntegrityError as clash:
        raise ValidationError(
            "Someone else started a new version at the same moment. Reload and try again."
        ) from clash
    Module.objects.bulk_create(
        Module(
            curriculum=draft,
            track=m.track,
            month=m.month,
            title=m.title,
            description=m.description,
            pass_mark=m.pass_mark,
        )
        for m in curriculum.modules.all()
    )
    audit_record(
        actor=actor,
        action="curriculum.version",
        obj=draft,
        changes={"from version": curriculum.version, "version": draft.version},
    )
    return draft


@transaction.atomic
def curriculum_publish(*, curriculum: Curriculum, actor: User | None) -> Curriculum:
    """Publish a draft: from now on new enrolments join it.

    Preconditions: a draft (a published version is frozen) with at least one module in
    every track; otherwise ValidationError and nothing changes.
    """
    locked = Curriculum.objects.select_for_update().get(pk=curriculum.pk)
    if locked.is_published:
        raise ValidationError(f"Version {locked.version} is already published.")
    tracks = set(locked.modules.values_list("track", flat=True))
    missing = [label for value, label in Track.choices if value not in tracks]
    if missing:
        raise ValidationError(
            f"Add at least one module for {', '.join(missing)} before publishing: every "
            "commercial person learns all three tracks."
        )
    locked.published_at = timezone.now()
    locked.save(update_fields=["published_at"])
    audit_record(
        actor=actor,
        action="curriculum.publish",
        obj=locked,
        changes={"version": locked.version, "modules": locked.modules.count()},
    )
    curriculum.published_at = locked.published_at
    return curriculum


# Enrolments ------------------------------------------------------------------------------


def _open_enrollment(person: User) -> Enrollment | None:
    return Enrollment.objects.filter(person=person, closed_on__isnull=True).first()


@transaction.atomic
def enrollment_open(*, person: User, actor: User | None, on: dt.date) -> Enrollment:
    """Enrol `person` in the current curriculum from `on`, due CURRICULUM_MONTHS calendar
    months later.

    Precondition: the person is active and holds a commercial role (ValidationError). When
    they already have an open enrolment, including one a concurrent transaction committed a
    moment ago, that one is returned and nothing is written: the database keeps one open
    enrolment per person.
    """
    if not (person.is_active and person.is_commercial):
        raise ValidationError(f"{person} does not hold a commercial role, so is not enrolled.")
    existing = _open_enrollment(person)
    if existing is not None:
        return existing
    enrollment = Enrollment(
        person=person,
        curriculum=curriculum_current(),
        started_on=on,
        due_on=add_months(on, CURRICULUM_MONTHS),
        status=Status.ON_TRACK,
        status_since=on,
    )
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError:
        existing = _open_enrollment(person)
        if existing is None:
            raise
        return existing
    audit_record(
        actor=actor,
        action="enrollment.open",
        obj=enrollment,
        changes={
            "curriculum": str(enrollment.curriculum),
            "started_on": enrollment.started_on,
            "due_on": enrollment.due_on,
        },
    )
    return enrollment


@transaction.atomic
def enrollment_close(
    *, enrollment: Enrollment, actor: User | None, on: dt.date, reason: str
) -> Enrollment:
    """Close an open enrolment on `on` (not before it started). Closing a closed one does
    nothing."""
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.closed_on is not None:
        return locked
    locked.closed_on = max(on, locked.started_on)
    locked.closed_reason = reason
    locked.save(update_fields=["closed_on", "closed_reason"])
    audit_record(
        actor=actor,
        action="enrollment.close",
        obj=locked,
        changes={"closed_on": locked.closed_on, "reason": ClosedReason(reason).label},
    )
    return locked


def enrollment_sync(
    *, person: User, actor: User | None, on: dt.date | None = None
) -> Enrollment | None:
    """Bring a person's enrolment in line with who they are now: someone active in a
    commercial role has an open enrolment (opened on `on`, today by default); anyone else
    has none (theirs is closed on `on`). Returns the open enrolment, if any.

    Safe to call any number of times, and from concurrent transactions.
    """
    on = on or timezone.localdate()
    if person.is_active and person.is_commercial:
        return enrollment_open(person=person, actor=actor, on=on)
    current = _open_enrollment(person)
    if current is not None:
        reason = ClosedReason.ROLE if person.is_active else ClosedReason.LEFT
        enrollment_close(enrollment=current, actor=actor, on=on, reason=reason)
    return None


def on_person_change(person: User, actor: User | None) -> None:
    """tcp's hook after someone's roles or active flag change."""
    enrollment_sync(person=person, actor=actor)


# Results ---------------------------------------------------------------------------------


def _certified_on(enrollment: Enrollment) -> dt.date | None:
    """The day the last module was first passed, once every module is passed."""
    firsts = list(
        ModuleResult.objects.filter(enrollment=enrollment, passed=True)
        .values("module")
        .annotate(first=Min("assessed_on"))
        .values_list("first", flat=True)
    )
    total = Module.objects.filter(curriculum_id=enrollment.curriculum_id).count()
    return max(firsts) if total and len(firsts) == total else None


def _refresh(enrollment: Enrollment, today: dt.date) -> dict[str, Any]:
    """Recompute certified_on and the marked status after the results changed."""
    changes: dict[str, Any] = {}
    certified_on = _certified_on(enrollment)
    if certified_on != enrollment.certified_on:
        changes["certified_on"] = [enrollment.certified_on, certified_on]
        enrollment.certified_on = certified_on
        enrollment.save(update_fields=["certified_on"])
    _mark(enrollment.pk, today)
    return changes


def _check_result(
    *,
    enrollment: Enrollment,
    module: Module,
    score: Any,
    assessed_on: dt.date | None,
    today: dt.date,
) -> None:
    errors: dict[str, str] = {}
    person = enrollment.person
    if module.curriculum_id != enrollment.curriculum_id:
        errors["module"] = (
            f"“{module.title}” is not in {person}'s curriculum ({enrollment.curriculum})."
        )
    else:
        earlier = (
            ModuleResult.objects.filter(enrollment=enrollment, module=module, passed=True)
            .order_by("assessed_on")
            .first()
        )
        if earlier is not None:
            errors["module"] = (
                f"{person} passed “{module.title}” on {_day(earlier.assessed_on)} already."
            )
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= MAX_SCORE:
        errors["score"] = f"Give a whole number from 0 to {MAX_SCORE}."
    if assessed_on is None:
        errors["assessed_on"] = "Give the day of the assessment."
    elif assessed_on > today:
        errors["assessed_on"] = "The assessment cannot be dated in the future."
    elif assessed_on < enrollment.started_on:
        errors["assessed_on"] = (
            f"{person} was enrolled on {_day(enrollment.started_on)}; "
            "the assessment cannot be earlier."
        )
    elif ModuleResult.objects.filter(
        enrollment=enrollment, module=module, assessed_on=assessed_on
    ).exists():
        errors["assessed_on"] = f"“{module.title}” already has a result on {_day(assessed_on)}."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def module_result_record(
    *,
    enrollment: Enrollment,
    module: Module,
    score: int,
    assessed_on: dt.date,
    assessor: User | None,
    evidence_note: str = "",
    evidence_file: UploadedFile | None = None,
) -> ModuleResult:
    """Record one assessment of `module` for the person enrolled.

    Preconditions, checked before anything is written:
    - `assessor` may assess (may_assess) and is not the person assessed: PermissionDenied;
    - the enrolment is open: ValidationError;
    - `module` is in the enrolment's curriculum version and not passed yet, `score` is a
      whole number from 0 to MAX_SCORE, and `assessed_on` lies between the enrolment's start
      and today with no other result for the module that day: ValidationError naming the
      field ("module", "score", "assessed_on", "evidence_file").
    A score at or above the module's pass mark passes it. Passing the last module makes the
    person certified on that day.
    """
    locked = Enrollment.objects.select_for_update().select_related("person").get(pk=enrollment.pk)
    _check_assessor(assessor, locked)
    if locked.closed_on is not None:
        raise ValidationError(
            f"{locked.person}'s enrolment closed on {_day(locked.closed_on)}; "
            "results can no longer be recorded on it."
        )
    today = timezone.localdate()
    _check_result(
        enrollment=locked, module=module, score=score, assessed_on=assessed_on, today=today
    )
    if (
        evidence_file is not None
        and evidence_file.size
        and evidence_file.size > (EVIDENCE_MAX_BYTES)
    ):
        raise ValidationError({"evidence_file": "Attach a file of 10 MB or less."})
    if evidence_file is not None:
        extension = os.path.splitext(evidence_file.name or "")[1].lower().lstrip(".")
        if extension not in EVIDENCE_EXTENSIONS:
            raise ValidationError(
                {
                    "evidence_file": "Attach a document or a picture: "
                    + ", ".join(e.upper() for e in EVIDENCE_EXTENSIONS)
                    + "."
                }
            )
    result = ModuleResult(
        enrollment=locked,
        module=module,
        score=score,
        passed=score >= module.pass_mark,
        assessed_on=assessed_on,
        assessor=assessor,
        evidence_note=evidence_note.strip(),
    )
    if evidence_file is not None:
        result.evidence_file = evidence_file
    try:
        with transaction.atomic():
            result.save()
    except IntegrityError as clash:
        # Recorded by someone else between the check and the save.
        raise ValidationError(
            {"assessed_on": f"“{module.title}” already has a result on {_day(assessed_on)}."}
        ) from clash
    changes = _refresh(locked, today)
    audit_record(
        actor=assessor,
        action="result.record",
        obj=locked,
        changes={
            "module": str(module),
            "score": score,
            "result": "passed" if result.passed else "not passed",
            "assessed_on": assessed_on,
            **changes,
        },
    )
    verdict = "passed" if result.passed else f"not passed (the pass mark is {module.pass_mark})"
    notification_send(
        recipients=[locked.person],
        message=f"{assessor} recorded your assessment in “{module.title}”: {score}/{MAX_SCORE}, "
        f"{verdict}.",
        link=reverse("certification:mine"),
        dedupe_key=f"certification-result:{result.pk}",
    )
    enrollment.certified_on = locked.certified_on
    return result


@transaction.atomic
def module_result_delete(*, result: ModuleResult, actor: User | None) -> None:
    """Remove a result recorded by mistake (same rights as recording one; the enrolment is
    open). Certification and status follow the remaining results."""
    locked = (
        Enrollment.objects.select_for_update().select_related("person").get(pk=result.enrollment_id)
    )
    _check_assessor(actor, locked)
    if locked.closed_on is not None:
        raise ValidationError(f"{locked.person}'s enrolment is closed; its results stay.")
    module = result.module
    described = {
        "module": str(module),
        "score": result.score,
        "result": "passed" if result.passed else "not passed",
        "assessed_on": result.assessed_on,
    }
    if result.evidence_file:
        # Only once the row is gone for good: a rollback must not leave it without its file.
        storage, name = result.evidence_file.storage, str(result.evidence_file.name)
        transaction.on_commit(partial(storage.delete, name))
    result.delete()
    changes = _refresh(locked, timezone.localdate())
    audit_record(actor=actor, action="result.delete", obj=locked, changes={**described, **changes})


# Progress of one enrolment (its page, the 1:1 agenda, reminders) ---------------------------


@dataclass
class ModuleProgress:
    module: Module
    due_on: dt.date
    passed: ModuleResult | None = None
    attempts: list[ModuleResult] = field(default_factory=list)
    state: str = "upcoming"  # passed / late / due_soon / upcoming

    @property
    def state_label(self) -> str:
        return {
            "passed": "Passed",
            "late": "Late",
            "due_soon": "Due soon",
            "upcoming": "Upcoming",
        }[self.state]


@dataclass
class TrackProgress:
    track: str
    label: str
    modules: list[ModuleProgress]

    @property
    def passed(self) -> int:
        return sum(1 for m in self.modules if m.passed)

    @property
    def total(self) -> int:
        return len(self.modules)

    @property
    def pct(self) -> int:
        return round(self.passed * 100 / self.total) if self.total else 0


@dataclass
class Progress:
    enrollment: Enrollment
    status: str
    tracks: list[TrackProgress]
    on: dt.date

    @property
    def modules(self) -> list[ModuleProgress]:
        return sorted(
            (m for t in self.tracks for m in t.modules),
            key=lambda m: (m.due_on, m.module.track, m.module.title),
        )

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.tracks)

    @property
    def total(self) -> int:
        return sum(t.total for t in self.tracks)

    @property
    def pct(self) -> int:
        return round(self.passed * 100 / self.total) if self.total else 0

    @property
    def late(self) -> list[ModuleProgress]:
        return [m for m in self.modules if m.state == "late"]

    @property
    def next_due(self) -> ModuleProgress | None:
        """The first module not passed yet, by its due date."""
        return next((m for m in self.modules if not m.passed), None)

    @property
    def status_label(self) -> str:
        return Status(self.status).label


def enrollment_progress(enrollment: Enrollment, on: dt.date | None = None) -> Progress:
    """Module by module and track by track, as of `on` (today): three queries."""
    on = on or timezone.localdate()
    soon = on + dt.timedelta(days=REMINDER_WINDOW_DAYS)
    results = list(
        enrollment.results.filter(assessed_on__lte=on)
        .select_related("assessor")
        .order_by("assessed_on", "id")
    )
    rows = []
    for module in Module.objects.filter(curriculum_id=enrollment.curriculum_id):
        row = ModuleProgress(module=module, due_on=module.due_for(enrollment.started_on))
        row.attempts = [r for r in results if r.module_id == module.pk]
        row.passed = next((r for r in row.attempts if r.passed), None)
        if row.passed:
            row.state = "passed"
        elif row.due_on < on:
            row.state = "late"
        elif row.due_on <= soon:
            row.state = "due_soon"
        rows.append(row)
    tracks = [
        TrackProgress(value, label, [r for r in rows if r.module.track == value])
        for value, label in Track.choices
    ]
    return Progress(
        enrollment=enrollment,
        status=enrollment.status_on(on),
        tracks=[t for t in tracks if t.modules],
        on=on,
    )


# Statuses and reminders (the daily job) ----------------------------------------------------


def _mark(enrollment_id: int, on: dt.date) -> bool:
    """Store one enrolment's status on `on` if it changed; audit the change once."""
    enrollment = (
        Enrollment.objects.select_related("person", "curriculum")
        .annotate(standing=status_expression(on))
        .filter(pk=enrollment_id)
        .first()
    )
    standing = str(getattr(enrollment, "standing", ""))
    if enrollment is None or enrollment.status == standing:
        return False
    # Conditional: of two runs at once only one moves it, so the change is audited once.
    moved = Enrollment.objects.filter(pk=enrollment_id, status=enrollment.status).update(
        status=standing, status_since=on
    )
    if moved:
        audit_record(
            actor=None,
            action="enrollment.status",
            obj=enrollment,
            changes={"status": [Status(enrollment.status).label, Status(standing).label]},
        )
    return bool(moved)


@transaction.atomic
def statuses_mark(*, on: dt.date) -> int:
    """Store every open enrolment's status on `on` where it changed; returns how many."""
    changed = (
        Enrollment.objects.active()
        .annotate(standing=status_expression(on))
        .exclude(status=F("standing"))
        .values_list("pk", flat=True)
    )
    return sum(_mark(pk, on) for pk in list(changed))


def _reminder_text(enrollment: Enrollment, on: dt.date) -> tuple[str, str]:
    progress = enrollment_progress(enrollment, on)
    person = enrollment.person
    soon = on + dt.timedelta(days=REMINDER_WINDOW_DAYS)
    todo = [m for m in progress.modules if not m.passed and m.due_on <= soon]
    overdue = progress.status == Status.OVERDUE
    if overdue:
        subject = f"Your certification is overdue (it was due on {_day(enrollment.due_on)})"
        todo = [m for m in progress.modules if not m.passed]
    elif len(todo) == 1:
        subject = f"Certification: “{todo[0].module.title}” is due by {_day(todo[0].due_on)}"
    else:
        subject = f"Certification: {len(todo)} modules due by {_day(max(m.due_on for m in todo))}"
    lines = [
        f"Hello {person.first_name or person},",
        "",
        f"You have passed {progress.passed} of {progress.total} modules of the technical "
        f"certification, which is due by {_day(enrollment.due_on)}.",
    ]
    if overdue:
        lines.append("Until it is complete you cannot be made commercial lead of a new engagement.")
    lines += ["", "Still to pass:"]
    for m in todo:
        late = " (late)" if m.due_on < on else ""
        lines.append(f"- {m.module}: due {_day(m.due_on)}{late}")
    lines += [
        "",
        "Ask an assessor to book your assessment. Your progress is on the Certification page "
        f"in Parity ({reverse('certification:mine')}).",
    ]
    return subject[:200], "\n".join(lines)


@transaction.atomic
def reminders_queue(*, on: dt.date) -> list[int]:
    """Claim and write the reminders due on `on`; the e-mails go out after commit.

    A reminder goes to each active person with an e-mail address whose open enrolment is
    not certified and is overdue, or has a module not passed that is late or due within
    REMINDER_WINDOW_DAYS days; at most once in REMINDER_INTERVAL_DAYS days per person. Each
    claim is a conditional update of the enrolment, so running this twice, or twice at once,
    queues each reminder once. Returns the new reminders' ids.
    """
    from certification.tasks import reminder_send as send_task

    since = on - dt.timedelta(days=REMINDER_INTERVAL_DAYS)
    window_end = on + dt.timedelta(days=REMINDER_WINDOW_DAYS + 1)
    not_lately = Q(reminded_on__isnull=True) | Q(reminded_on__lte=since)
    recent = Reminder.objects.filter(enrollment__person=OuterRef("person"), queued_on__gt=since)
    candidates = (
        Enrollment.objects.active()
        .filter(not_lately, person__is_active=True, started_on__lte=on)
        .exclude(person__email="")
        .exclude(certified_on__lte=on)
        .exclude(Exists(recent))
        .filter(Q(due_on__lt=on) | Exists(unpassed_modules(due_before=window_end, on=on)))
        .select_related("person", "curriculum")
        .order_by("pk")
    )
    queued = []
    for enrollment in candidates:
        claimed = (
            Enrollment.objects.filter(pk=enrollment.pk).filter(not_lately).update(reminded_on=on)
        )
        if not claimed:
            continue
        subject, body = _reminder_text(enrollment, on)
        reminder = Reminder.objects.create(
            enrollment=enrollment, queued_on=on, subject=subject, body=body
        )
        transaction.on_commit(partial(send_task.delay, reminder.pk))
        queued.append(reminder.pk)
    return queued


def reminder_send(*, reminder_id: int) -> bool:
    """Send one queued reminder unless it has gone already; True when this call sent it.

    The row stays locked while the message goes out and is marked sent in the same
    transaction: a duplicate task skips it, and a crash before the commit leaves it to be
    sent again.
    """
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("enrollment__person")
            .filter(pk=reminder_id, sent_at__isnull=True)
            .first()
        )
        if reminder is None:
            return False
        person = reminder.enrollment.person
        if person.email and person.is_active:
            send_mail(reminder.subject, reminder.body, None, [person.email])
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["sent_at"])
    return True


def certification_daily(*, on: dt.date | None = None) -> dict[str, int]:
    """The daily job: enrol active commercial staff who have no open enrolment (people who
    came in without the role service, such as a bulk import), close the enrolments of
    people who left or lost the role, mark statuses and queue reminders. Safe to run twice:
    the second run finds nothing to do."""
    on = on or timezone.localdate()
    open_ones = Enrollment.objects.filter(person=OuterRef("pk"), closed_on__isnull=True)
    opened = 0
    for person in User.objects.commercial().filter(is_active=True).exclude(Exists(open_ones)):
        enrollment_open(person=person, actor=None, on=on)
        opened += 1
    closed = 0
    leaving = (
        Enrollment.objects.active()
        .filter(Q(person__is_active=False) | ~Q(person__roles__overlap=sorted(COMMERCIAL_ROLES)))
        .select_related("person")
    )
    for enrollment in leaving:
        reason = ClosedReason.LEFT if not enrollment.person.is_active else ClosedReason.ROLE
        enrollment_close(enrollment=enrollment, actor=None, on=on, reason=reason)
        closed += 1
    marked = statuses_mark(on=on)
    reminded = len(reminders_queue(on=on))
    return {"opened": opened, "closed": closed, "marked": marked, "reminded": reminded}


# Reads for the pages and the scorecard ----------------------------------------------------


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1")) if whole else Decimal(0)


def certification_coverage(*, on: dt.date) -> dict[str, Any]:
    """How far the commercial staff were certified on day `on`, counted in one SQL query.

    The commercial staff on `on` are the people with an enrolment running that day (everyone
    is enrolled the day they get a commercial role, and it closes when they lose it or
    leave). Returns the day, the counts "staff", "certified", "on_track", "behind" and
    "overdue", and each count's share of the staff as "<count>_pct" (a Decimal percentage to
    one place; 0 without staff).
    """
    standing = status_expression(on)
    counts = (
        Enrollment.objects.active_on(on)
        .annotate(standing=standing)
        .aggregate(
            staff=Count("pk"),
            **{
                status.value: Count("pk", filter=Q(standing=status.value))
                for status in (Status.CERTIFIED, Status.ON_TRACK, Status.BEHIND, Status.OVERDUE)
            },
        )
    )
    staff = counts["staff"]
    summary: dict[str, Any] = {"on": on, **counts}
    for key in ("certified", "on_track", "behind", "overdue"):
        summary[f"{key}_pct"] = _pct(counts[key], staff)
    return summary


def coverage_history(*, until: dt.date) -> list[dict[str, Any]]:
    """Coverage at the end of each year since the first enrolment, then on `until`."""
    first = Enrollment.objects.aggregate(first=Min("started_on"))["first"]
    if first is None:
        return []
    days = [dt.date(year, 12, 31) for year in range(first.year, until.year)]
    return [certification_coverage(on=day) for day in [*days, until]]


def next_due_annotations(on: dt.date) -> dict[str, Subquery]:
    """`next_module` and `next_due`: the outer enrolment's first module not passed by `on`."""
    unpassed = (
        unpassed_modules(due_before=dt.date.max, on=on)
        .annotate(due_on=AddMonths(OuterRef("started_on"), F("month")))
        .order_by("month", "track", "title")
    )
    return {
        "next_module": Subquery(unpassed.values("title")[:1]),
        "next_due": Subquery(unpassed.values("due_on")[:1]),
    }


def team_enrollments(*, viewer: User, on: dt.date) -> QuerySet[Enrollment]:
    """The open enrolments of active people `viewer` leads (everyone's for leadership and
    administrators), each with its standing on `on`, worst first by default."""
    enrollments = Enrollment.objects.active().filter(person__is_active=True)
    if not viewer.sees_everything:
        enrollments = enrollments.filter(person__manager=viewer)
    return (
        enrollments.with_status(on)
        .with_status_rank()
        .annotate(**next_due_annotations(on))
        .select_related("person", "person__manager")
    )


def leadership_rows(*, on: dt.date) -> QuerySet[User]:
    """Everyone active who manages someone or sits in sales leadership, in one query, with:
    `first_certified` (the first day they were ever certified), `standing` (their open
    enrolment's status on `on`, None when not enrolled), `team` (active reports enrolled),
    `team_certified` (of those, certified by `on`), `team_enrolled_from` (the first day any
    report of theirs was enrolled) and `went_first`: certified by that day (None without a
    team enrolment, or not certified yet while the team has not started)."""
    reports = User.objects.filter(manager=OuterRef("pk"), is_active=True)
    own = Enrollment.objects.filter(person=OuterRef("pk"))
    team_enrollments = Enrollment.objects.filter(person__manager=OuterRef("pk"))

    def count(queryset: QuerySet[Any], group: str) -> Coalesce:
        grouped = queryset.order_by().values(group).annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(grouped, output_field=IntegerField()), 0)

    return (
        User.objects.filter(is_active=True)
        .filter(Q(Exists(reports)) | Q(roles__contains=[Role.SALES_LEADERSHIP]))
        .annotate(
            first_certified=Subquery(
                own.filter(certified_on__isnull=False)
                .order_by("certified_on")
                .values("certified_on")[:1]
            ),
            standing=Subquery(
                own.filter(closed_on__isnull=True)
                .annotate(standing=status_expression(on))
                .values("standing")[:1]
            ),
            team=count(
                team_enrollments.filter(closed_on__isnull=True, person__is_active=True),
                "person__manager",
            ),
            team_certified=count(
                team_enrollments.filter(
                    closed_on__isnull=True, person__is_active=True, certified_on__lte=on
                ),
                "person__manager",
            ),
            team_enrolled_from=Subquery(
                team_enrollments.order_by()
                .values("person__manager")
                .annotate(first=Min("started_on"))
                .values("first")
            ),
        )
        .annotate(
            went_first=Case(
                When(team_enrolled_from__isnull=True, then=Value(None)),
                When(first_certified__lte=F("team_enrolled_from"), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(null=True),
            )
        )
    )


# What other apps show --------------------------------------------------------------------


def _late_titles(enrollment: Enrollment, on: dt.date) -> list[str]:
    passed = ModuleResult.objects.filter(
        enrollment=enrollment, module=OuterRef("pk"), passed=True, assessed_on__lte=on
    )
    return list(
        Module.objects.filter(curriculum_id=enrollment.curriculum_id)
        .exclude(Exists(passed))
        .values_list("title", flat=True)
    )


def lead_guard(lead: User, on: dt.date) -> list[Blocker]:
    """engagements' commercial-lead gate: nobody overdue on `on` leads a new engagement."""
    enrollment = (
        Enrollment.objects.active_on(on)
        .filter(person=lead)
        .annotate(standing=status_expression(on))
        .filter(standing=Status.OVERDUE)
        .first()
    )
    if enrollment is None:
        return []
    titles = _late_titles(enrollment, on)
    # No link to fix it: the person's certification page is theirs, their manager's and
    # leadership's, not necessarily the page of whoever opens the engagement.
    return [
        Blocker(
            f"{lead}'s certification is overdue (it was due on {_day(enrollment.due_on)}), so "
            f"they cannot lead a new engagement until they pass: {', '.join(titles)}."
        )
    ]


def engagement_notice(engagement: Engagement) -> list[str]:
    """A flag on a running engagement whose commercial lead is overdue today (one query)."""
    if engagement.is_closed:
        return []
    today = timezone.localdate()
    due_on = (
        Enrollment.objects.active()
        .filter(person_id=engagement.commercial_lead_id)
        .annotate(standing=status_expression(today))
        .filter(standing=Status.OVERDUE)
        .values_list("due_on", flat=True)
        .first()
    )
    if due_on is None:
        return []
    return [
        f"{engagement.commercial_lead}, the commercial lead, is overdue with the technical "
        f"certification (due on {_day(due_on)}). They keep this engagement, but cannot lead a "
        "new one until they are certified."
    ]


def agenda_section(seller: User) -> dict[str, Any]:
    """The 1:1 agenda's certification section: where the seller stands and what is next."""
    section: dict[str, Any] = {"key": "certification", "title": "Certification", "lines": []}
    enrollment = _open_enrollment(seller)
    if enrollment is None:
        section["lines"] = [
            "Not enrolled: the certification is for people in a commercial role."
            if not seller.is_commercial
            else "Not enrolled yet: the daily check enrols everyone in a commercial role."
        ]
        return section
    progress = enrollment_progress(enrollment)
    lines = []
    if progress.status == Status.CERTIFIED:
        assert enrollment.certified_on is not None
        lines.append(f"Certified on {_day(enrollment.certified_on)}.")
    else:
        lines.append(
            f"{progress.status_label}: {progress.passed} of {progress.total} modules passed; "
            f"due by {_day(enrollment.due_on)}."
        )
        if progress.late:
            late = ", ".join(f"{m.module.title} (due {_day(m.due_on)})" for m in progress.late)
            lines.append(f"Late: {late}.")
        upcoming = next((m for m in progress.modules if m.state in ("due_soon", "upcoming")), None)
        if upcoming is not None:
            lines.append(f"Next: {upcoming.module.title}, due {_day(upcoming.due_on)}.")
    section["lines"] = lines
    return section


def people_to_assess(*, assessor: User, query: str = "") -> EnrollmentQuerySet:
    """Open enrolments of active people other than `assessor`, for the assessor's list."""
    enrollments = (
        Enrollment.objects.active()
        .filter(person__is_active=True)
        .exclude(person=assessor)
        .exclude(certified_on__isnull=False)
    )
    for word in query.split():
        enrollments = enrollments.filter(
            Q(person__first_name__icontains=word)
            | Q(person__last_name__icontains=word)
            | Q(person__username__icontains=word)
        )
    return enrollments
