"""Hand-built organisations for the document tests, and how to read a PDF back."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from pypdf import PdfReader

from engagements.models import (
    Account,
    Engagement,
    Milestone,
    MilestoneAttendance,
    RevenueEntry,
    ScopeChange,
    Stage,
)
from tcp.models import Role, User
from tests.factories import AccountFactory, EngagementFactory, TeamMemberFactory, UserFactory

QUARTER = dt.date(2025, 4, 1)  # Q2 2025


def pdf_text(content: bytes) -> tuple[int, str]:
    """Page count and the text of every page, with runs of white space made single."""
    reader = PdfReader(io.BytesIO(content))
    text = " ".join(page.extract_text() or "" for page in reader.pages)
    return len(reader.pages), " ".join(text.split())


def quarter_account(*, owner: User, extra_history: int = 0) -> Account:
    """An account whose Q2 2025 reads, by the scorecard's definitions:

    - three engagements completed in the quarter: two on time (67%), one within the 10%
      scope tolerance (33%);
    - four critical milestones held, three with the commercial lead contributing (75%);
    - revenue of 150,000 and cost of 90,000 (profit 60,000).

    `extra_history` adds that many completed engagements, each with a milestone and a
    month of revenue, in the years before, so a test can grow the history.
    """
    account = AccountFactory.create(name="Calderbrook Community Hospitals")
    TeamMemberFactory.create(account=account, user=owner, role="account_manager")
    delivery = UserFactory.create(roles=[Role.DELIVERY_MANAGER])
    specs = [
        # (name, completed on, contracted end, scoping-miss days)
        ("Theatre scheduling rollout", dt.date(2025, 4, 20), dt.date(2025, 4, 30), Decimal(5)),
        ("Pharmacy stock tracking", dt.date(2025, 5, 10), dt.date(2025, 5, 31), Decimal(25)),
        ("Bed management pilot", dt.date(2025, 6, 15), dt.date(2025, 6, 1), Decimal(30)),
    ]
    engagements = []
    for name, completed, end, miss in specs:
        engagement = _completed(account, owner, delivery, name, completed, end)
        ScopeChange.objects.create(
            engagement=engagement,
            effort_delta_days=miss,
            cause="scoping_miss",
            approved_by=delivery,
            approved_on=completed - dt.timedelta(days=30),
            note="Interfaces found late",
        )
        engagements.append(engagement)
    for i, contributed in enumerate((True, True, True, False)):
        milestone = Milestone.objects.create(
            engagement=engagements[i % 3],
            kind="architecture_review",
            title=f"Architecture review {i + 1}",
            planned_on=dt.date(2025, 4, 5 + i),
            held_on=dt.date(2025, 4, 5 + i),
            critical=True,
        )
        MilestoneAttendance.objects.create(
            milestone=milestone,
            person=owner,
            mode="contributed" if contributed else "absent",
            recorded_by=delivery,
        )
    for month, revenue in ((4, 100_000), (5, 50_000)):
        RevenueEntry.objects.create(
            engagement=engagements[0],
            month=dt.date(2025, month, 1),
            revenue=Decimal(revenue),
            cost=Decimal(revenue) * Decimal("0.6"),
        )
    for n in range(extra_history):
        year = 2018 + n % 6
        old = _completed(
            account,
            owner,
            delivery,
            f"Earlier work {n}",
            dt.date(year, 3, 1 + n % 20),
            dt.date(year, 3, 25),
        )
        Milestone.objects.create(
            engagement=old,
            kind="go_live",
            planned_on=dt.date(year, 2, 1),
            held_on=dt.date(year, 2, 1),
            critical=True,
        )
        RevenueEntry.objects.create(
            engagement=old, month=dt.date(year, 2, 1), revenue=Decimal(1000), cost=Decimal(0)
        )
    return account


def _completed(
    account: Account,
    lead: User,
    delivery: User,
    name: str,
    completed: dt.date,
    end: dt.date,
) -> Engagement:
    return EngagementFactory.create(
        account=account,
        name=name,
        stage=Stage.COMPLETED,
        commercial_lead=lead,
        delivery_manager=delivery,
        opened_on=completed - dt.timedelta(days=300),
        proposal_on=completed - dt.timedelta(days=250),
        contract_signed_on=completed - dt.timedelta(days=200),
        contracted_start=completed - dt.timedelta(days=190),
        contracted_end=end,
        completed_on=completed,
        contracted_effort_days=Decimal(100),
    )
