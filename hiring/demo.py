"""The demo's one open role: a technical seller, with three candidates at different
stages (screening, interview with ratings, audition scored by two of the panel)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from hiring.models import (
    AuditionScore,
    Candidate,
    DeliverableReview,
    DiscProfile,
    InterviewRating,
    JobProfile,
    Opening,
    PlannedQuestion,
    Stage,
)
from hiring.services import profile_create_starter
from hiring.starter import STARTER_PROFILE_TITLE
from tcp.models import Role, User

if TYPE_CHECKING:
    from engagements.demo import DemoBuilder
    from engagements.models import Account, Engagement

DEMO_TITLE = "Technical seller, public sector"


def build(builder: DemoBuilder, accounts: list[Account], engagements: list[Engagement]) -> None:
    manager = User.objects.filter(username="hm.harper").first()
    if manager is None:
        manager = User.objects.with_role(Role.HIRING_MANAGER).order_by("pk").first()
    if manager is None:
        return
    panel = [
        manager,
        *User.objects.with_role(Role.SALES_LEADERSHIP).exclude(pk=manager.pk).order_by("pk")[:2],
    ]
    # A rebuilt demo replaces its opening rather than adding a second one.
    Candidate.objects.filter(opening__title=DEMO_TITLE).delete()
    Opening.objects.filter(title=DEMO_TITLE).delete()
    JobProfile.objects.filter(title=STARTER_PROFILE_TITLE, openings__isnull=True).delete()
    profile = profile_create_starter()
    opening = Opening.objects.create(
        title=DEMO_TITLE,
        profile=profile,
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
    )
    opening.panel.set(panel)
    now = timezone.now()
    _screening, interviewed, auditioned = Candidate.objects.bulk_create(
        [
            Candidate(
                opening=opening,
                first_name="Rowan",
                last_name="Ellis",
                email="rowan.ellis@example.com",
                stage=Stage.SCREENING,
            ),
            Candidate(
                opening=opening,
                first_name="Imogen",
                last_name="Achebe",
                email="imogen.achebe@example.com",
                stage=Stage.INTERVIEW,
            ),
            Candidate(
                opening=opening,
                first_name="Luis",
                last_name="Moreau",
                email="luis.moreau@example.com",
                stage=Stage.AUDITION,
            ),
        ]
    )
    questions = list(
        PlannedQuestion.objects.filter(profile=profile).values_list("question_id", flat=True)
    )
    ratings = []
    for i, pk in enumerate(questions):
        ratings.append(
            InterviewRating(
                candidate=interviewed,
                question_id=pk,
                rating=3 + i % 2,
                interviewer=manager,
                rated_at=now,
            )
        )
        ratings.append(
            InterviewRating(
                candidate=auditioned,
                question_id=pk,
                rating=4 + (i % 3 == 0),
                interviewer=manager,
                rated_at=now,
            )
        )
    InterviewRating.objects.bulk_create(ratings)
    AuditionScore.objects.bulk_create(
        AuditionScore(
            candidate=auditioned,
            panelist=member,
            business_applicability=3,
            technical_clarity=2 + n % 2,
            audience_engagement=3 - n % 2,
            presentation_style=2,
            would_buy=True,
            submitted_at=now,
        )
        for n, member in enumerate(panel[1:])
    )
    DeliverableReview.objects.create(
        candidate=auditioned,
        rating=3,
        reviewer=manager,
        notes="Clear architecture, costs tied to outcomes.",
    )
    DiscProfile.objects.create(
        candidate=auditioned, dominance=72, influence=68, steadiness=35, conscientiousness=50
    )
