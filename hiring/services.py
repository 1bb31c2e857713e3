"""Hiring workflows. Pages, the back office and the demo call these, so each rule (who may
see a candidate, independent panel scoring, a hire that starts certification) lives once."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    StdDev,
    Subquery,
    Sum,
)
from django.urls import reverse
from django.utils import timezone

from hiring.models import (
    AUDITION_CRITERIA,
    AUDITION_MAX,
    DELIVERABLE_MAX,
    INTERVIEW_MAX,
    NEXT_STAGE,
    AuditionScore,
    Candidate,
    Category,
    DeliverableReview,
    DiscProfile,
    InterviewRating,
    JobProfile,
    Measure,
    Opening,
    PlannedQuestion,
    ProfileAttribute,
    Question,
    Stage,
    may_manage_hiring,
)
from hiring.starter import (
    STARTER_ATTRIBUTES,
    STARTER_INTERDEPENDENCE,
    STARTER_OBJECTIVES,
    STARTER_PROFILE_TITLE,
    STARTER_QUESTIONS,
)
from tcp.models import AuditLogEntry, Role, User
from tcp.services import (
    audit_record,
    changed_fields,
    field_values,
    notification_send,
    record_create,
    record_delete,
    record_save,
    record_update,
    user_set_roles,
)

# Candidate documents: what a reviewer can open safely, nothing a browser would run.
DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
DOCUMENT_EXTENSIONS = ("pdf", "docx", "odt", "txt")
DOCUMENT_FIELDS = ("cv", "writing_sample")
PERSONAL_FIELDS = ("first_name", "last_name", "email", "phone")
# Keys of the candidate's history entries that erasure removes: personal fields and the
# reasons people wrote.
ERASED_CHANGES = (*PERSONAL_FIELDS, "reason")
TWO = Decimal("0.01")


def _require_manager(actor: User | None) -> User:
    if actor is None or not may_manage_hiring(actor):
        raise PermissionDenied("Only hiring managers and administrators do this.")
    return actor


def _open(candidate: Candidate) -> None:
    if candidate.is_closed:
        raise ValidationError(f"{candidate} is {candidate.get_stage_display().lower()}.")


def _lock(candidate: Candidate) -> Candidate:
    return Candidate.objects.select_for_update().get(pk=candidate.pk)


# The question bank -----------------------------------------------------------------------


@transaction.atomic
def question_bank_install(*, actor: User | None = None) -> int:
    """Add the starter questions the bank lacks (matched by key); returns how many were
    added. Running it again adds nothing and leaves edited questions alone."""
    rows = [
        Question(
            key=q.key,
            text=q.text,
            measures=list(q.measures),
            look_for=q.look_for,
            follow_ups=q.follow_ups,
        )
        for q in STARTER_QUESTIONS
    ]
    before = Question.objects.filter(key__isnull=False).count()
    Question.objects.bulk_create(rows, ignore_conflicts=True)
    added = Question.objects.filter(key__isnull=False).count() - before
    if added:
        audit_record(
            actor=actor,
            action="question_bank.install",
            obj=Question.objects.get(key=STARTER_QUESTIONS[0].key),
            changes={"added": added},
        )
    return added


@transaction.atomic
def profile_create_starter(*, actor: User | None = None) -> JobProfile:
    """A job profile for a technical seller with weighted attributes in the four
    categories, planning every starter question."""
    question_bank_install(actor=actor)
    profile = JobProfile.objects.create(
        title=STARTER_PROFILE_TITLE,
        objectives=STARTER_OBJECTIVES,
        interdependence_note=STARTER_INTERDEPENDENCE,
    )
    ProfileAttribute.objects.bulk_create(
        ProfileAttribute(profile=profile, category=c, description=d, weight=w)
        for c, d, w in STARTER_ATTRIBUTES
    )
    keys = [q.key for q in STARTER_QUESTIONS]
    by_key = dict(Question.objects.filter(key__in=keys).values_list("key", "pk"))
    PlannedQuestion.objects.bulk_create(
        PlannedQuestion(profile=profile, question_id=by_key[k], position=i)
        for i, k in enumerate(keys)
    )
    audit_record(
        actor=actor, action="job_profile.create", obj=profile, changes={"title": profile.title}
    )
    return profile


def category_weights(profile: JobProfile) -> dict[str, int]:
    """Each category's weight: the sum of its attributes' weights (0 when it has none)."""
    sums = dict(
        profile.attributes.order_by()
        .values("category")
        .annotate(total=Sum("weight"))
        .values_list("category", "total")
    )
    return {c: int(sums.get(c) or 0) for c in Category.values}


# Job profiles and interview plans --------------------------------------------------------

PROFILE_FIELDS = ("title", "objectives", "interdependence_note")
ATTRIBUTE_FIELDS = ("category", "description", "weight")
QUESTION_FIELDS = ("text", "measures", "look_for", "follow_ups")


def _only(data: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: data[name] for name in names if name in data}


def job_profile_create(*, actor: User, data: Mapping[str, Any]) -> JobProfile:
    """A new job profile from its title, objectives and interdependence note; attributes
    and the interview plan are added on its page."""
    _require_manager(actor)
    return record_create(
        obj=JobProfile(), actor=actor, data=_only(data, PROFILE_FIELDS), action="job_profile.create"
    )


def job_profile_update(
    *, profile: JobProfile, actor: User, data: Mapping[str, Any], version: int | None = None
) -> JobProfile:
    """Change the profile's text; a save that started from an older version is refused
    (EditConflict), so two managers editing at once do not overwrite each other."""
    _require_manager(actor)
    return record_update(
        obj=profile,
        actor=actor,
        data=_only(data, PROFILE_FIELDS),
        action="job_profile.update",
        expected_version=version,
    )


def profile_attribute_save(
    *,
    profile: JobProfile,
    actor: User,
    data: Mapping[str, Any],
    attribute: ProfileAttribute | None = None,
    version: int | None = None,
) -> ProfileAttribute:
    """Add an attribute (category, description, weight 1-10) or change one; recorded in
    the profile's history."""
    _require_manager(actor)
    item = attribute or ProfileAttribute(profile=profile)
    if item.profile_id != profile.pk:
        raise ValidationError("This attribute belongs to another profile.")
    return record_save(
        item=item,
        actor=actor,
        data=_only(data, ATTRIBUTE_FIELDS),
        noun="profile_attribute",
        audit_on=profile,
        version=version,
    )


def profile_attribute_delete(*, attribute: ProfileAttribute, actor: User) -> None:
    _require_manager(actor)
    record_delete(
        obj=attribute, actor=actor, action="profile_attribute.delete", audit_on=attribute.profile
    )


@transaction.atomic
def plan_question_add(*, profile: JobProfile, question: Question, actor: User) -> PlannedQuestion:
    """Put a bank question at the end of the profile's interview plan."""
    _require_manager(actor)
    JobProfile.objects.select_for_update().filter(pk=profile.pk).get()
    if PlannedQuestion.objects.filter(profile=profile, question=question).exists():
        raise ValidationError({"question": "This question is in the plan already."})
    last = PlannedQuestion.objects.filter(profile=profile).aggregate(top=Max("position"))["top"]
    planned = PlannedQuestion.objects.create(
        profile=profile, question=question, position=0 if last is None else last + 1
    )
    audit_record(
        actor=actor, action="interview_plan.add", obj=profile, changes={"question": str(question)}
    )
    return planned


@transaction.atomic
def plan_question_remove(*, planned: PlannedQuestion, actor: User) -> None:
    """Take a question out of the plan. Ratings candidates already got for it stay and
    still count in their scores: the interview happened."""
    _require_manager(actor)
    audit_record(
        actor=actor,
        action="interview_plan.remove",
        obj=planned.profile,
        changes={"question": str(planned.question)},
    )
    planned.delete()


@transaction.atomic
def plan_question_move(*, planned: PlannedQuestion, up: bool, actor: User) -> None:
    """Ask the question one place earlier (`up`) or later in the interview; at either end
    of the plan it stays where it is."""
    _require_manager(actor)
    JobProfile.objects.select_for_update().filter(pk=planned.profile_id).get()
    order = list(PlannedQuestion.objects.filter(profile_id=planned.profile_id))
    at = next(i for i, p in enumerate(order) if p.pk == planned.pk)
    to = at - 1 if up else at + 1
    if not 0 <= to < len(order):
        return
    order[at], order[to] = order[to], order[at]
    for position, row in enumerate(order):
        row.position = position
    PlannedQuestion.objects.bulk_update(order, ["position"])
    audit_record(
        actor=actor,
        action="interview_plan.move",
        obj=planned.profile,
        changes={"question": str(planned.question), "position": [at + 1, to + 1]},
    )


@transaction.atomic
def question_create(
    *, actor: User, data: Mapping[str, Any], plan_on: JobProfile | None = None
) -> Question:
    """Add a question to the bank (what it measures, the answer to look for, follow-ups)
    and, with `plan_on`, to that profile's interview plan."""
    _require_manager(actor)
    values = _only(data, QUESTION_FIELDS)
    measures = list(dict.fromkeys(values.get("measures") or []))
    if not measures or any(m not in Measure.values for m in measures):
        raise ValidationError({"measures": "Say what the question measures."})
    values["measures"] = measures
    question = record_create(obj=Question(), actor=actor, data=values, action="question.create")
    if plan_on is not None:
        plan_question_add(profile=plan_on, question=question, actor=actor)
    return question


def bank_questions(*, profile: JobProfile, query: str = "", measure: str = "") -> QuerySet:
    """The bank's questions not yet in the profile's plan, matching every word of `query`
    (in the question or what to look for) and, when given, measuring `measure`."""
    rows = Question.objects.exclude(
        pk__in=PlannedQuestion.objects.filter(profile=profile).values("question_id")
    )
    for word in query.split():
        rows = rows.filter(Q(text__icontains=word) | Q(look_for__icontains=word))
    if measure:
        rows = rows.filter(measures__contains=[measure])
    return rows.order_by("pk")


# Openings and candidates -----------------------------------------------------------------


@transaction.atomic
def opening_create(
    *,
    title: str,
    profile: JobProfile,
    role: str,
    hiring_manager: User,
    panel: Iterable[User],
    actor: User,
) -> Opening:
    _require_manager(actor)
    if role not in Role.values or role in (Role.ADMINISTRATOR, Role.HIRING_MANAGER):
        raise ValidationError({"role": "Choose the selling role this opening fills."})
    opening = Opening(
        title=title.strip(), profile=profile, role=role, hiring_manager=hiring_manager
    )
    opening.full_clean()
    opening.save()
    members = list(panel)
    opening.panel.set(members)
    audit_record(
        actor=actor,
        action="opening.create",
        obj=opening,
        changes={"title": opening.title, "panel": sorted(str(m) for m in members)},
    )
    link = reverse("hiring:opening", args=[opening.uuid])
    transaction.on_commit(
        partial(
            notification_send,
            recipients=members,
            message=f"You are on the audition panel for {opening.title}.",
            link=link,
            dedupe_key=f"hiring-panel-{opening.pk}",
        )
    )
    return opening


@transaction.atomic
def opening_panel_set(
    *, opening: Opening, panel: Iterable[User], hiring_manager: User | None, actor: User
) -> Opening:
    """Name the opening's hiring manager and exactly these audition panel members. Scores
    a removed member already gave stay with the candidates; newcomers are told after commit."""
    _require_manager(actor)
    locked = Opening.objects.select_for_update().get(pk=opening.pk)
    members = {m.pk: m for m in panel}
    inactive = [m for m in members.values() if not m.is_active]
    if inactive:
        raise ValidationError({"panel": f"{inactive[0]} no longer works here."})
    if hiring_manager is not None and not may_manage_hiring(hiring_manager):
        raise ValidationError({"hiring_manager": f"{hiring_manager} is not a hiring manager."})
    before = set(locked.panel.values_list("pk", flat=True))
    added = [m for pk, m in members.items() if pk not in before]
    removed = list(User.objects.filter(pk__in=before - members.keys()))
    changes: dict[str, Any] = {}
    if added:
        changes["added"] = sorted(str(m) for m in added)
    if removed:
        changes["removed"] = sorted(str(m) for m in removed)
    if locked.hiring_manager_id != (hiring_manager.pk if hiring_manager else None):
        changes["hiring_manager"] = [str(locked.hiring_manager or ""), str(hiring_manager or "")]
        locked.hiring_manager = hiring_manager
        locked.save(update_fields=["hiring_manager"])
    locked.panel.set(members.values())
    if changes:
        audit_record(actor=actor, action="opening.panel", obj=locked, changes=changes)
    if added:
        transaction.on_commit(
            partial(
                notification_send,
                recipients=added,
                message=f"You are on the audition panel for {locked.title}.",
                link=reverse("hiring:opening", args=[locked.uuid]),
                dedupe_key=f"hiring-panel-{locked.pk}",
            )
        )
    opening.hiring_manager = locked.hiring_manager
    return opening


@transaction.atomic
def opening_set_open(*, opening: Opening, is_open: bool, actor: User) -> Opening:
    """Close the opening (it takes no new candidates) or open it again. Closing waits until
    every candidate has an outcome (hired, rejected or withdrawn), so nobody is left in a
    pipeline that no longer runs. Doing what is already done changes and records nothing."""
    _require_manager(actor)
    locked = Opening.objects.select_for_update().get(pk=opening.pk)
    if locked.is_open != is_open:
        if not is_open:
            waiting = locked.waiting_count()
            if waiting:
                people = "candidate is" if waiting == 1 else "candidates are"
                raise ValidationError(
                    f"{waiting} {people} still in the pipeline: hire, reject or withdraw "
                    "them before closing the opening."
                )
        locked.is_open = is_open
        locked.save(update_fields=["is_open"])
        action = "opening.reopen" if is_open else "opening.close"
        audit_record(
            actor=actor, action=action, obj=locked, changes={"open": [not is_open, is_open]}
        )
    opening.is_open = locked.is_open
    return opening


# How each accepted kind of file begins: a program renamed to cv.pdf is still refused.
# DOCX and ODT are zip archives; a text file is UTF-8 without NUL bytes.
DOCUMENT_SIGNATURES = {"pdf": b"%PDF-", "docx": b"PK\x03\x04", "odt": b"PK\x03\x04"}


def _looks_like(extension: str, head: bytes) -> bool:
    if extension in DOCUMENT_SIGNATURES:
        return head.startswith(DOCUMENT_SIGNATURES[extension])
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The sample may end inside a character; only an error before its last bytes counts.
        return error.start >= len(head) - 3
    return True


def _check_document(name: str, file: UploadedFile | None) -> None:
    if file is None:
        return
    kinds = ", ".join(e.upper() for e in DOCUMENT_EXTENSIONS)
    extension = os.path.splitext(file.name or "")[1].lower().lstrip(".")
    if extension not in DOCUMENT_EXTENSIONS:
        raise ValidationError({name: f"Attach a {kinds} file."})
    if file.size is None or file.size > DOCUMENT_MAX_BYTES:
        raise ValidationError({name: "Attach a file of 5 MB or less."})
    file.seek(0)
    head = file.read(2048)
    file.seek(0)
    if not _looks_like(extension, head):
        raise ValidationError(
            {
                name: f"This file is not the {extension.upper()} its name says: "
                f"attach a {kinds} file."
            }
        )


@transaction.atomic
def candidate_add(
    *,
    opening: Opening,
    first_name: str,
    last_name: str,
    email: str = "",
    phone: str = "",
    cv: UploadedFile | None = None,
    writing_sample: UploadedFile | None = None,
    actor: User,
) -> Candidate:
    """A new candidate in screening. Documents must be PDF, Word, OpenDocument or text
    files of 5 MB or less (ValidationError naming the field; nothing is saved)."""
    _require_manager(actor)
    if not opening.is_open:
        raise ValidationError("This opening is closed.")
    _check_document("cv", cv)
    _check_document("writing_sample", writing_sample)
    candidate = Candidate(
        opening=opening,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
    )
    candidate.full_clean(exclude=list(DOCUMENT_FIELDS))
    candidate.save()
    for name, file in (("cv", cv), ("writing_sample", writing_sample)):
        if file is not None:
            getattr(candidate, name).save(file.name, file, save=False)
    if cv or writing_sample:
        candidate.save(
            update_fields=[
                n for n, f in zip(DOCUMENT_FIELDS, (cv, writing_sample), strict=True) if f
            ]
        )
    audit_record(
        actor=actor,
        action="candidate.create",
        obj=candidate,
        changes={
            "opening": opening.title,
            "documents": [n for n in DOCUMENT_FIELDS if getattr(candidate, n)],
        },
    )
    return candidate


@transaction.atomic
def candidate_attach(
    *, candidate: Candidate, field: str, file: UploadedFile, actor: User
) -> Candidate:
    """Replace one of the candidate's documents; the old file is removed after commit."""
    _require_manager(actor)
    if field not in DOCUMENT_FIELDS:
        raise ValidationError({"field": "Choose the CV or the writing sample."})
    locked = _lock(candidate)
    if locked.erased_at:
        raise ValidationError("This candidate's personal data was erased.")
    _check_document(field, file)
    old = getattr(locked, field)
    old_name = old.name if old else ""
    getattr(locked, field).save(file.name, file, save=False)
    locked.save(update_fields=[field])
    if old_name:
        storage = old.storage
        transaction.on_commit(partial(storage.delete, old_name))
    audit_record(actor=actor, action="candidate.document", obj=locked, changes={"document": field})
    setattr(candidate, field, getattr(locked, field))
    return candidate


@transaction.atomic
def candidate_advance(
    *, candidate: Candidate, stage: str, actor: User, reason: str = ""
) -> Candidate:
    """Move an open candidate one step along the pipeline, or end it with a rejection or
    withdrawal (a rejection records who decided and why). Hiring is candidate_hire."""
    _require_manager(actor)
    locked = _lock(candidate)
    _open(locked)
    old = locked.stage
    if stage in (Stage.REJECTED, Stage.WITHDRAWN):
        if stage == Stage.REJECTED and not reason.strip():
            raise ValidationError({"reason": "Say why the candidate is not going further."})
        locked.decided_by, locked.decided_at = actor, timezone.now()
        locked.decision_reason = reason.strip()
    elif NEXT_STAGE.get(Stage(old)) != stage:
        raise ValidationError(
            {"stage": f"From {locked.get_stage_display().lower()} the next step is not that."}
        )
    locked.stage = stage
    locked.save(update_fields=["stage", "decided_by", "decided_at", "decision_reason"])
    changes: dict[str, Any] = {"stage": [Stage(old).label, Stage(stage).label]}
    if reason.strip():
        changes["reason"] = reason.strip()
    audit_record(actor=actor, action="candidate.stage", obj=locked, changes=changes)
    for name in ("stage", "decided_by_id", "decided_at", "decision_reason"):
        setattr(candidate, name, getattr(locked, name))
    return candidate


# The interview ---------------------------------------------------------------------------


@transaction.atomic
def interview_record(
    *,
    candidate: Candidate,
    ratings: Mapping[int, tuple[int, str]],
    interviewer: User,
) -> int:
    """Record `ratings` ({question id: (1-5, notes)}) for questions in the opening's
    interview plan, replacing earlier ratings of the same questions. Returns how many."""
    _require_manager(interviewer)
    locked = _lock(candidate)
    _open(locked)
    planned = set(
        PlannedQuestion.objects.filter(profile_id=locked.opening.profile_id).values_list(
            "question_id", flat=True
        )
    )
    errors: dict[str, str] = {}
    for pk, (rating, _) in ratings.items():
        if pk not in planned:
            errors[f"q{pk}"] = "This question is not in the interview plan."
        elif not 1 <= rating <= INTERVIEW_MAX:
            errors[f"q{pk}"] = f"Rate from 1 to {INTERVIEW_MAX}."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    InterviewRating.objects.bulk_create(
        [
            InterviewRating(
                candidate=locked,
                question_id=pk,
                rating=rating,
                notes=notes.strip(),
                interviewer=interviewer,
                rated_at=now,
            )
            for pk, (rating, notes) in ratings.items()
        ],
        update_conflicts=True,
        unique_fields=["candidate", "question"],
        update_fields=["rating", "notes", "interviewer", "rated_at"],
    )
    audit_record(
        actor=interviewer,
        action="interview.record",
        obj=locked,
        changes={"ratings": len(ratings)},
    )
    return len(ratings)


def _category_average(category: str) -> Subquery:
    return Subquery(
        InterviewRating.objects.filter(
            candidate=OuterRef("pk"), question__measures__contains=[category]
        )
        .order_by()
        .values("candidate")
        .annotate(avg=Avg("rating"))
        .values("avg")
    )


def with_interview_scores(candidates: QuerySet[Candidate]) -> QuerySet[Candidate]:
    """Each candidate's mean interview rating per category (`interview_<category>`, None
    when no rated question measures it), computed in the database."""
    return candidates.annotate(**{f"interview_{c}": _category_average(c) for c in Category.values})


@dataclass(frozen=True)
class Rollup:
    """Interview scores per category (mean rating, 1-5) and the overall score weighted by
    the profile's category weights, over the categories that were rated."""

    by_category: dict[str, Decimal | None]
    weights: dict[str, int]
    overall: Decimal | None


def rollup(values: Mapping[str, Any], weights: Mapping[str, int]) -> Rollup:
    by_category: dict[str, Decimal | None] = {}
    total = Decimal(0)
    weight_sum = 0
    for c in Category.values:
        raw = values.get(f"interview_{c}")
        score = None if raw is None else Decimal(raw).quantize(TWO, ROUND_HALF_UP)
        by_category[c] = score
        if raw is not None and weights.get(c):
            total += Decimal(raw) * weights[c]
            weight_sum += weights[c]
    overall = (total / weight_sum).quantize(TWO, ROUND_HALF_UP) if weight_sum else None
    return Rollup(by_category, dict(weights), overall)


def interview_rollup(candidate: Candidate) -> Rollup:
    values = (
        with_interview_scores(Candidate.objects.filter(pk=candidate.pk))
        .values(*(f"interview_{c}" for c in Category.values))
        .get()
    )
    return rollup(values, category_weights(candidate.opening.profile))


# The audition ----------------------------------------------------------------------------


def may_score_audition(user: User, candidate: Candidate) -> bool:
    return candidate.opening.panel.filter(pk=user.pk).exists()


def audition_scores_hidden(*, opening: Opening, user: User) -> QuerySet[Candidate]:
    """The opening's candidates whose panel scores `user` may not read yet: for a member
    of the opening's panel, those they have not scored themselves, so nobody anchors on a
    colleague's marks; for anyone else who may see the candidates, none. The pages and the
    API all ask this (through audition_scores_visible for one candidate)."""
    if not opening.panel.filter(pk=user.pk).exists():
        return Candidate.objects.none()
    return opening.candidates.exclude(
        Exists(AuditionScore.objects.filter(candidate=OuterRef("pk"), panelist=user))
    )


def audition_scores_visible(*, candidate: Candidate, user: User) -> bool:
    """Whether `user` may read the panel's scores of this candidate (audition_scores_hidden)."""
    hidden = audition_scores_hidden(opening=candidate.opening, user=user)
    return not hidden.filter(pk=candidate.pk).exists()


@transaction.atomic
def audition_score_submit(
    *,
    candidate: Candidate,
    panelist: User,
    scores: Mapping[str, int],
    would_buy: bool,
    notes: str = "",
) -> AuditionScore:
    """Record a panel member's scores (1-3 per criterion) once: submitted scores are
    final, so later ones cannot drift towards the rest of the panel."""
    locked = _lock(candidate)
    _open(locked)
    if not may_score_audition(panelist, locked):
        raise PermissionDenied("Only the opening's panel scores its auditions.")
    if locked.stage != Stage.AUDITION:
        raise ValidationError("Auditions are scored while the candidate is at the audition.")
    if AuditionScore.objects.filter(candidate=locked, panelist=panelist).exists():
        raise ValidationError("You have already submitted your scores for this audition.")
    errors = {
        name: f"Score from 1 to {AUDITION_MAX}."
        for name, _ in AUDITION_CRITERIA
        if not isinstance(scores.get(name), int) or not 1 <= scores[name] <= AUDITION_MAX
    }
    if errors:
        raise ValidationError(errors)
    score = AuditionScore.objects.create(
        candidate=locked,
        panelist=panelist,
        would_buy=would_buy,
        notes=notes.strip(),
        **{name: scores[name] for name, _ in AUDITION_CRITERIA},
    )
    # Only that a score arrived: the figures would tell a panel member reading the
    # timeline what their colleagues gave.
    audit_record(actor=panelist, action="audition.score", obj=locked, changes={})
    return score


def _audition_total() -> Any:
    return sum(
        (F(f"audition_scores__{name}") for name, _ in AUDITION_CRITERIA[1:]),
        F(f"audition_scores__{AUDITION_CRITERIA[0][0]}"),
    )


def with_audition_summary(candidates: QuerySet[Candidate]) -> QuerySet[Candidate]:
    """Per candidate: panel scores received, the mean, lowest and highest total (4-12)
    and their standard deviation, and how many would buy from the candidate."""
    total = _audition_total()
    return candidates.annotate(
        audition_count=Count("audition_scores"),
        audition_mean=Avg(total),
        audition_low=Min(total),
        audition_high=Max(total),
        audition_spread=StdDev(total),
        audition_would_buy=Count("audition_scores", filter=Q(audition_scores__would_buy=True)),
    )


def audition_summary(candidate: Candidate) -> dict[str, Any]:
    summary: dict[str, Any] = (
        with_audition_summary(Candidate.objects.filter(pk=candidate.pk))
        .values(  # type: ignore[misc]
            "audition_count",
            "audition_mean",
            "audition_low",
            "audition_high",
            "audition_spread",
            "audition_would_buy",
        )
        .get()
    )
    criteria = AuditionScore.objects.filter(candidate=candidate).aggregate(
        **{f"{name}_avg": Avg(name) for name, _ in AUDITION_CRITERIA},
        **{f"{name}_low": Min(name) for name, _ in AUDITION_CRITERIA},
        **{f"{name}_high": Max(name) for name, _ in AUDITION_CRITERIA},
    )
    summary["criteria"] = [
        (label, criteria[f"{name}_avg"], criteria[f"{name}_low"], criteria[f"{name}_high"])
        for name, label in AUDITION_CRITERIA
    ]
    return summary


# Deliverable review and DiSC -------------------------------------------------------------


@transaction.atomic
def deliverable_review_record(
    *, candidate: Candidate, rating: int, notes: str, reviewer: User
) -> DeliverableReview:
    _require_manager(reviewer)
    locked = _lock(candidate)
    _open(locked)
    if not 1 <= rating <= DELIVERABLE_MAX:
        raise ValidationError({"rating": f"Rate from 1 to {DELIVERABLE_MAX}."})
    # A second review replaces the first: the history keeps the rating it replaced.
    before = DeliverableReview.objects.filter(candidate=locked).values_list("rating", flat=True)
    old = before.first()
    review, _ = DeliverableReview.objects.update_or_create(
        candidate=locked,
        defaults={
            "rating": rating,
            "notes": notes.strip(),
            "reviewer": reviewer,
            "reviewed_at": timezone.now(),
        },
    )
    audit_record(
        actor=reviewer,
        action="deliverable.review",
        obj=locked,
        changes={"rating": rating if old is None else [old, rating]},
    )
    return review


@transaction.atomic
def disc_record(*, candidate: Candidate, scores: Mapping[str, int], actor: User) -> DiscProfile:
    _require_manager(actor)
    locked = _lock(candidate)
    _open(locked)
    # A new profile replaces the old one (the same row, so the page can record it again):
    # the history keeps the scores it replaced.
    disc = DiscProfile.objects.filter(candidate=locked).first()
    changes: dict[str, Any] = dict(scores)
    if disc is None:
        disc = DiscProfile(candidate=locked)
    else:
        changes = changed_fields(field_values(disc, scores.keys()), scores)
    for name, value in scores.items():
        setattr(disc, name, value)
    disc.recorded_at = timezone.now()
    disc.full_clean(exclude=["candidate"])
    disc.save()
    audit_record(actor=actor, action="disc.record", obj=locked, changes=changes)
    return disc


# Decision --------------------------------------------------------------------------------


@transaction.atomic
def candidate_hire(
    *,
    candidate: Candidate,
    username: str,
    reason: str,
    actor: User,
    manager: User | None = None,
) -> User:
    """Hire a candidate at the decision stage: record who decided and why, and create the
    person's user with the opening's role, reporting to `manager` (by default the
    opening's hiring manager), which enrols them in certification (through
    tcp.services.user_set_roles). All in one transaction: if any part fails, nothing of
    the hire remains."""
    _require_manager(actor)
    locked = _lock(candidate)
    _open(locked)
    errors: dict[str, str] = {}
    if locked.stage != Stage.DECISION:
        errors["stage"] = "Only a candidate at the decision stage can be hired."
    username = username.strip()
    if not username:
        errors["username"] = "Choose a username for the new colleague."
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = "Someone already has this username."
    if not reason.strip():
        errors["reason"] = "Say why this candidate is the one."
    manager = manager or locked.opening.hiring_manager
    if manager is not None and not manager.is_active:
        errors["manager"] = f"{manager} no longer works here: choose who the person reports to."
    if errors:
        raise ValidationError(errors)
    user = User(
        username=username,
        first_name=locked.first_name,
        last_name=locked.last_name,
        email=locked.email,
        job_title=locked.opening.title,
        manager=manager,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user_set_roles(user=user, roles=[locked.opening.role], actor=actor)
    old = locked.stage
    locked.stage = Stage.HIRED
    locked.hired_user = user
    locked.decided_by, locked.decided_at = actor, timezone.now()
    locked.decision_reason = reason.strip()
    locked.save(
        update_fields=["stage", "hired_user", "decided_by", "decided_at", "decision_reason"]
    )
    audit_record(
        actor=actor,
        action="candidate.hire",
        obj=locked,
        changes={
            "stage": [Stage(old).label, Stage.HIRED.label],
            "reason": locked.decision_reason,
            "user": user.username,
            "manager": str(manager or ""),
        },
    )
    for name in ("stage", "hired_user_id", "decided_by_id", "decided_at", "decision_reason"):
        setattr(candidate, name, getattr(locked, name))
    return user


@transaction.atomic
def candidate_erase(*, candidate: Candidate, actor: User) -> Candidate:
    """Forget a rejected or withdrawn candidate on request: personal fields, documents,
    and the notes and reasons written about them go, and their name leaves the timeline;
    the scores stay, anonymous, for statistics."""
    _require_manager(actor)
    locked = _lock(candidate)
    if locked.stage not in (Stage.REJECTED, Stage.WITHDRAWN):
        raise ValidationError("Only a rejected or withdrawn candidate's data can be erased.")
    if locked.erased_at:
        return locked
    files = [
        (getattr(locked, n).storage, getattr(locked, n).name)
        for n in DOCUMENT_FIELDS
        if getattr(locked, n)
    ]
    for name in PERSONAL_FIELDS:
        setattr(locked, name, "")
    for name in DOCUMENT_FIELDS:
        setattr(locked, name, "")
    locked.erased_at = timezone.now()
    # What people wrote about the candidate goes too: notes and reasons can name them or
    # say what they told the panel. The figures stay.
    locked.decision_reason = ""
    locked.save(update_fields=[*PERSONAL_FIELDS, *DOCUMENT_FIELDS, "decision_reason", "erased_at"])
    InterviewRating.objects.filter(candidate=locked).update(notes="")
    AuditionScore.objects.filter(candidate=locked).update(notes="")
    DeliverableReview.objects.filter(candidate=locked).update(notes="")
    entries = AuditLogEntry.objects.filter(
        object_type=Candidate._meta.label_lower, object_id=str(locked.pk)
    )
    entries.update(object_repr=str(locked))
    for entry in entries.filter(changes__has_any_keys=list(ERASED_CHANGES)):
        entry.changes = {k: v for k, v in entry.changes.items() if k not in ERASED_CHANGES}
        entry.save(update_fields=["changes"])
    audit_record(actor=actor, action="candidate.erase", obj=locked, changes={})
    for storage, name in files:
        transaction.on_commit(partial(storage.delete, name))
    for name in (*PERSONAL_FIELDS, *DOCUMENT_FIELDS, "decision_reason", "erased_at"):
        setattr(candidate, name, getattr(locked, name))
    return candidate


# Comparison ------------------------------------------------------------------------------


def comparison_queryset(opening: Opening) -> QuerySet[Candidate]:
    """The opening's candidates with their interview scores, audition summary, deliverable
    rating and DiSC profile, in a fixed number of queries however many there are."""
    return with_audition_summary(with_interview_scores(opening.candidates.all())).select_related(
        "deliverable_review", "disc"
    )


ACTIONS = {
    "question_bank.install": "installed the starter questions",
    # Recorded under this name before the profile pages existed.
    "profile.create": "created the job profile",
    "job_profile.create": "created the job profile",
    "opening.create": "opened the role",
    "candidate.create": "added the candidate",
    "candidate.document": "attached a document",
    "candidate.stage": "moved the candidate on",
    "candidate.hire": "hired the candidate",
    "candidate.erase": "erased the candidate's personal data",
    "interview.record": "recorded interview ratings",
    "audition.score": "submitted audition scores",
    "deliverable.review": "reviewed the writing sample",
    "disc.record": "recorded the DiSC profile",
    "job_profile.update": "changed the job profile",
    "profile_attribute.create": "added an attribute",
    "profile_attribute.update": "changed an attribute",
    "profile_attribute.delete": "removed an attribute",
    "interview_plan.add": "added a question to the interview plan",
    "interview_plan.remove": "took a question out of the interview plan",
    "interview_plan.move": "moved a question in the interview plan",
    "question.create": "added a question to the bank",
    "opening.panel": "changed the hiring manager or the audition panel",
}
