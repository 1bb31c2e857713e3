"""The demo's open roles: a technical seller, with three candidates at different stages
(screening, interview with ratings, audition scored by two of the panel), and a partner
manager, with one candidate awaiting the decision and one turned down."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

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
PARTNER_TITLE = "Partner manager, manufacturing"


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
    # A rebuilt demo replaces its openings rather than adding more.
    Candidate.objects.filter(opening__title__in=(DEMO_TITLE, PARTNER_TITLE)).delete()
    Opening.objects.filter(title__in=(DEMO_TITLE, PARTNER_TITLE)).delete()
    JobProfile.objects.filter(title=STARTER_PROFILE_TITLE, openings__isnull=True).delete()
    profile = profile_create_starter()
    demo = _Demo(
        profile=profile,
        manager=manager,
        questions=list(
            PlannedQuestion.objects.filter(profile=profile).values_list("question_id", flat=True)
        ),
    )

    opening = demo.open(DEMO_TITLE, Role.ACCOUNT_MANAGER, panel)
    _screening, interviewed, auditioned = demo.candidates(
        opening,
        ("Rowan Ellis", Stage.SCREENING, {}),
        ("Imogen Achebe", Stage.INTERVIEW, {}),
        ("Luis Moreau", Stage.AUDITION, {}),
    )
    demo.interview(interviewed, lambda i: 3 + i % 2)
    demo.interview(auditioned, lambda i: 4 + (i % 3 == 0))
    demo.audition(
        auditioned,
        panel[1:],
        lambda n: {
            "business_applicability": 3,
            "technical_clarity": 2 + n % 2,
            "audience_engagement": 3 - n % 2,
            "presentation_style": 2,
        },
    )
    demo.review(auditioned, 3, "Clear architecture, costs tied to outcomes.", (72, 68, 35, 50))

    # A second role further along: everything the decision weighs for one candidate, and
    # one already turned down with the reason on record.
    opening = demo.open(PARTNER_TITLE, Role.PARTNER_MANAGER, panel)
    deciding, declined = demo.candidates(
        opening,
        ("Noor Haddad", Stage.DECISION, {}),
        (
            "Tomasz Wiśniewski",
            Stage.REJECTED,
            {
                "decided_by": manager,
                "decided_at": demo.now,
                "decision_reason": "Strong on channel programmes, but could not explain how a "
                "partner's delivery would be measured against the client's outcomes.",
            },
        ),
    )
    demo.interview(deciding, lambda i: 4 + i % 2)
    demo.interview(declined, lambda i: 2 + i % 2)
    demo.audition(
        deciding,
        panel,
        lambda n: {
            "business_applicability": 3,
            "technical_clarity": 3 - n % 2,
            "audience_engagement": 3,
            "presentation_style": 2 + n % 2,
        },
    )
    demo.review(
        deciding,
        3,
        "A partner plan with joint targets and a named owner for each delivery step.",
        (58, 77, 52, 44),
    )


class _Demo:
    """The rows of the demo's openings, all rated by the hiring manager at one moment."""

    def __init__(self, *, profile: JobProfile, manager: User, questions: list[int]) -> None:
        self.profile, self.manager, self.questions = profile, manager, questions
        self.now = timezone.now()

    def open(self, title: str, role: str, panel: list[User]) -> Opening:
        opening = Opening.objects.create(
            title=title, profile=self.profile, role=role, hiring_manager=self.manager
        )
        opening.panel.set(panel)
        return opening

    def candidates(
        self, opening: Opening, *people: tuple[str, str, dict[str, Any]]
    ) -> list[Candidate]:
        rows = []
        for name, stage, decision in people:
            first, last = name.split(" ", 1)
            plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
            email = plain.lower().replace(" ", ".") + "@example.com"
            rows.append(
                Candidate(
                    opening=opening,
                    first_name=first,
                    last_name=last,
                    email=email,
                    stage=stage,
                    **decision,
                )
            )
        return Candidate.objects.bulk_create(rows)

    def interview(self, candidate: Candidate, rating: Callable[[int], int]) -> None:
        InterviewRating.objects.bulk_create(
            InterviewRating(
                candidate=candidate,
                question_id=pk,
                rating=rating(i),
                interviewer=self.manager,
                rated_at=self.now,
            )
            for i, pk in enumerate(self.questions)
        )

    def audition(
        self, candidate: Candidate, panel: list[User], scores: Callable[[int], dict[str, int]]
    ) -> None:
        AuditionScore.objects.bulk_create(
            AuditionScore(
                candidate=candidate,
                panelist=member,
                would_buy=True,
                submitted_at=self.now,
                **scores(n),
            )
            for n, member in enumerate(panel)
        )

    def review(
        self, candidate: Candidate, rating: int, notes: str, disc: tuple[int, int, int, int]
    ) -> None:
        DeliverableReview.objects.create(
            candidate=candidate, rating=rating, reviewer=self.manager, notes=notes
        )
        dominance, influence, steadiness, conscientiousness = disc
        DiscProfile.objects.create(
            candidate=candidate,
            dominance=dominance,
            influence=influence,
            steadiness=steadiness,
            conscientiousness=conscientiousness,
        )
