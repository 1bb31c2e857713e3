"""Hiring technical sellers: the job profile, the question bank, candidates moving through
the pipeline, and the evidence each stage collects (interview ratings, panel audition
scores, the writing-sample review and a DiSC profile)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import Truncator

from tcp.models import Role, User, VersionedModel


class Category(models.TextChoices):
    TECHNICAL = "technical", "Technical"
    BUSINESS = "business", "Business"
    INTERPERSONAL = "interpersonal", "Interpersonal"
    LIFESTYLE = "lifestyle", "Lifestyle"


class Measure(models.TextChoices):
    """What a question tells the interviewer: the four profile categories, and maturity,
    which no single category captures."""

    TECHNICAL = "technical", "Technical"
    BUSINESS = "business", "Business"
    INTERPERSONAL = "interpersonal", "Interpersonal"
    LIFESTYLE = "lifestyle", "Lifestyle"
    MATURITY = "maturity", "Professional maturity"


class Stage(models.TextChoices):
    SCREENING = "screening", "Screening"
    INTERVIEW = "interview", "Interview"
    AUDITION = "audition", "Audition"
    DECISION = "decision", "Decision"
    HIRED = "hired", "Hired"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


CLOSED_STAGES = frozenset({Stage.HIRED, Stage.REJECTED, Stage.WITHDRAWN})
# The pipeline moves forward one step at a time; any open stage may end in a rejection or
# a withdrawal, and only a decision becomes a hire (services.candidate_hire).
NEXT_STAGE = {
    Stage.SCREENING: Stage.INTERVIEW,
    Stage.INTERVIEW: Stage.AUDITION,
    Stage.AUDITION: Stage.DECISION,
}

INTERVIEW_MAX = 5
AUDITION_MAX = 3
DELIVERABLE_MAX = 3
AUDITION_CRITERIA = (
    ("business_applicability", "Business applicability"),
    ("technical_clarity", "Technical clarity"),
    ("audience_engagement", "Audience engagement"),
    ("presentation_style", "Presentation style"),
)


def _range(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


def may_manage_hiring(user: User) -> bool:
    """Hiring managers and administrators run openings and decide; panels only score."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_administrator or user.has_role(Role.HIRING_MANAGER))
    )


class JobProfileQuerySet(models.QuerySet["JobProfile"]):
    def visible_to(self, user: User) -> JobProfileQuerySet:
        """Profiles are the hiring managers' working papers; nobody else opens them."""
        return self if may_manage_hiring(user) else self.none()


class JobProfile(VersionedModel):
    """The analysis of a role before anyone is recruited for it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=120)
    objectives = models.TextField(
        help_text="What the person in this role is for: whom they influence, which "
        "relationships they own, how customers succeed because of them."
    )
    interdependence_note = models.TextField(
        blank=True,
        help_text="How far success depends on the person alone rather than on the team.",
    )
    questions: models.ManyToManyField[Question, PlannedQuestion] = models.ManyToManyField(
        "Question", through="PlannedQuestion", related_name="profiles", blank=True
    )

    objects = JobProfileQuerySet.as_manager()

    class Meta:
        ordering = ["title", "pk"]

    def __str__(self) -> str:
        return self.title


class ProfileAttribute(VersionedModel):
    profile = models.ForeignKey(JobProfile, on_delete=models.CASCADE, related_name="attributes")
    category = models.CharField(max_length=16, choices=Category.choices)
    description = models.CharField(max_length=300)
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=_range(1, 10),
        help_text="1-10: how much this attribute counts towards the candidate's score.",
    )

    class Meta:
        ordering = ["category", "-weight", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=10), name="attribute_weight_1_10"
            )
        ]

    def __str__(self) -> str:
        return self.description


class Question(models.Model):
    """One question of the bank: what it measures and what a strong answer sounds like."""

    key = models.SlugField(
        max_length=60, unique=True, null=True, blank=True, help_text="Set on the starter set."
    )
    text = models.TextField()
    measures = ArrayField(models.CharField(max_length=16, choices=Measure.choices))
    look_for = models.TextField("what to look for")
    follow_ups = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return Truncator(self.text).chars(80)

    def measure_labels(self) -> list[str]:
        return [Measure(m).label for m in self.measures if m in Measure.values]


class PlannedQuestion(models.Model):
    """A question the hiring manager will ask every candidate for a profile."""

    profile = models.ForeignKey(JobProfile, on_delete=models.CASCADE, related_name="plan")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "question"], name="question_once_per_plan")
        ]

    def __str__(self) -> str:
        return str(self.question)


class OpeningQuerySet(models.QuerySet["Opening"]):
    def visible_to(self, user: User) -> OpeningQuerySet:
        """Hiring managers and administrators see every opening; a panel member sees the
        openings they sit on. Sales leadership has no view of candidates by default."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if may_manage_hiring(user):
            return self
        return self.filter(
            Exists(Opening.panel.through.objects.filter(opening=OuterRef("pk"), user=user))
        )


class Opening(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=120)
    profile = models.ForeignKey(JobProfile, on_delete=models.PROTECT, related_name="openings")
    role = models.CharField(
        max_length=32,
        choices=Role.choices,
        default=Role.ACCOUNT_MANAGER,
        help_text="The role the person hired gets.",
    )
    # Kept when the manager leaves: the opening and its candidates outlive their account.
    hiring_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="openings_managed",
    )
    panel = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="audition_panels", blank=True
    )
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OpeningQuerySet.as_manager()

    class Meta:
        ordering = ["-is_open", "-created_at", "pk"]

    def __str__(self) -> str:
        return self.title

    def waiting_count(self) -> int:
        """Candidates without an outcome yet (not hired, rejected or withdrawn)."""
        return self.candidates.exclude(stage__in=CLOSED_STAGES).count()


class CandidateQuerySet(models.QuerySet["Candidate"]):
    def visible_to(self, user: User) -> CandidateQuerySet:
        return self.filter(opening__in=Opening.objects.visible_to(user))


def _document_path(candidate: Candidate, filename: str) -> str:
    # A random folder per candidate: names in the path would outlive an erasure.
    return f"hiring/{candidate.uuid}/{uuid.uuid4().hex}/{filename}"


class Candidate(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    opening = models.ForeignKey(Opening, on_delete=models.PROTECT, related_name="candidates")
    # Personal fields: emptied when a rejected candidate asks to be forgotten.
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    cv = models.FileField("CV", upload_to=_document_path, blank=True, max_length=300)
    writing_sample = models.FileField(
        "technical writing sample", upload_to=_document_path, blank=True, max_length=300
    )
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.SCREENING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    hired_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="candidacy",
    )
    erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CandidateQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]

    def __str__(self) -> str:
        if self.erased_at:
            return f"Erased candidate {str(self.uuid)[:8]}"
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_closed(self) -> bool:
        return self.stage in CLOSED_STAGES


class InterviewRating(models.Model):
    """The interviewer's 1-5 rating of a candidate's answer to one planned question."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="interview_ratings"
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="ratings")
    rating = models.PositiveSmallIntegerField(validators=_range(1, INTERVIEW_MAX))
    notes = models.TextField(blank=True)
    interviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    rated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "question"], name="one_rating_per_question"
            ),
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=INTERVIEW_MAX), name="interview_rating_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/{INTERVIEW_MAX}"


class AuditionScore(models.Model):
    """One panel member's scores of the candidate's technical presentation."""

    candidate = models.ForeignKey(
        Candidate, on_delete=models.CASCADE, related_name="audition_scores"
    )
    panelist = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_applicability = models.PositiveSmallIntegerField(validators=_range(1, AUDITION_MAX))
    technical_clarity = models.PositiveSmallIntegerField(validators=_range(1, AUDITION_MAX))
    audience_engagement = models.PositiveSmallIntegerField(validators=_range(1, AUDITION_MAX))
    presentation_style = models.PositiveSmallIntegerField(validators=_range(1, AUDITION_MAX))
    would_buy = models.BooleanField("would buy from this candidate")
    notes = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["submitted_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "panelist"], name="one_audition_score_per_panelist"
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 1, f"{name}__lte": AUDITION_MAX}),
                    name=f"audition_{name}_1_3",
                )
                for name, _ in AUDITION_CRITERIA
            ),
        ]

    def __str__(self) -> str:
        return f"{self.total}/{AUDITION_MAX * len(AUDITION_CRITERIA)}"

    @property
    def total(self) -> int:
        return sum(getattr(self, name) for name, _ in AUDITION_CRITERIA)


class DeliverableReview(models.Model):
    """The hiring manager's rating of the candidate's writing sample."""

    candidate = models.OneToOneField(
        Candidate, on_delete=models.CASCADE, related_name="deliverable_review"
    )
    rating = models.PositiveSmallIntegerField(validators=_range(1, DELIVERABLE_MAX))
    notes = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=DELIVERABLE_MAX),
                name="deliverable_rating_1_3",
            )
        ]

    def __str__(self) -> str:
        return f"Writing sample review of {self.candidate}"


# Quadrants within this many points of the highest score count as dominant too.
DISC_MARGIN = 5
DISC_QUADRANTS = (
    ("dominance", "Dominance"),
    ("influence", "Influence"),
    ("steadiness", "Steadiness"),
    ("conscientiousness", "Conscientiousness"),
)


class DiscProfile(models.Model):
    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="disc")
    dominance = models.PositiveSmallIntegerField(validators=_range(0, 100))
    influence = models.PositiveSmallIntegerField(validators=_range(0, 100))
    steadiness = models.PositiveSmallIntegerField(validators=_range(0, 100))
    conscientiousness = models.PositiveSmallIntegerField(validators=_range(0, 100))
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "DiSC profile"
        constraints = [
            models.CheckConstraint(condition=Q(**{f"{name}__lte": 100}), name=f"disc_{name}_0_100")
            for name, _ in DISC_QUADRANTS
        ]

    def __str__(self) -> str:
        return f"DiSC profile of {self.candidate}"

    def scores(self) -> list[tuple[str, int]]:
        return [(label, getattr(self, name)) for name, label in DISC_QUADRANTS]

    def dominant(self) -> list[str]:
        top = max(score for _, score in self.scores())
        return [label for label, score in self.scores() if score >= top - DISC_MARGIN]
