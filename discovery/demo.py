"""Discovery records for the demo organisation.

Every account gets a client intelligence profile and every engagement proposed since the TCP
adoption date a completed Failure-Cost Analysis, as the rule demands, in bulk. Three showcase
accounts on Alex Carter's desk carry hand-written discovery: a radiology network that cannot
stop, a farm lender whose identity platform is a compliance matter, and an insurer digitising
its claims.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from discovery.models import (
    AlternativeKind,
    ClientIntelligenceProfile,
    CostCategory,
    FailureCostAnalysis,
    FailureScenario,
    Framework,
    GrowthTarget,
    NeverEvent,
    RegulatoryObligation,
    Stakeholder,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from engagements.demo import ADOPTION
from engagements.models import (
    Account,
    AccountTeamMember,
    BuyerRole,
    Contact,
    Engagement,
    Industry,
    Region,
    Segment,
    Stage,
    StageChange,
    TeamRole,
)
from tcp.models import User

if TYPE_CHECKING:
    from engagements.demo import DemoBuilder

# What most clients in an industry must comply with, and what that asks of the solution.
OBLIGATIONS: dict[str, tuple[str, str]] = {
    Industry.HEALTHCARE: (Framework.HIPAA, "Log every read of a patient record; encrypt at rest."),
    Industry.BANKING: (Framework.SOX, "Segregate duties on changes to financial reporting."),
    Industry.INSURANCE: (Framework.GDPR, "Keep claimant data in region; erase on request."),
    Industry.RETAIL: (Framework.PCI_DSS, "Keep card numbers out of our systems entirely."),
    Industry.ENERGY: (Framework.NIS2, "Report significant incidents within 24 hours."),
    Industry.PUBLIC_SECTOR: (Framework.ISO_27001, "Certified supplier controls for all staff."),
}

# A typical failure per industry: what fails, sites, users, hours, cost per hour, cost per
# incident, severity, yearly likelihood.
SCENARIOS: dict[str, tuple[str, int, int, int, int, int, int, str]] = {
    Industry.HEALTHCARE: ("Scheduling system down", 30, 900, 6, 18_000, 40_000, 4, "0.5"),
    Industry.BANKING: ("Loan servicing offline", 12, 2_000, 4, 35_000, 120_000, 4, "0.3"),
    Industry.INSURANCE: ("Claims intake unavailable", 8, 1_500, 8, 12_000, 25_000, 3, "0.6"),
    Industry.MANUFACTURING: ("Line control loses its plan", 3, 400, 10, 45_000, 60_000, 2, "0.4"),
    Industry.RETAIL: ("Checkout cannot take payment", 120, 3_000, 3, 60_000, 15_000, 4, "0.5"),
    Industry.PUBLIC_SECTOR: ("Citizen portal offline", 1, 50_000, 12, 5_000, 30_000, 3, "0.7"),
    Industry.ENERGY: ("Meter data stops flowing", 20, 600, 24, 9_000, 80_000, 3, "0.2"),
    Industry.LOGISTICS: ("Dispatch cannot route vans", 15, 1_200, 5, 25_000, 10_000, 2, "0.8"),
}


def build(builder: DemoBuilder, accounts: list[Account], engagements: list[Engagement]) -> None:
    _profiles(builder, accounts)
    _analyses(builder, [e for e in engagements if e.proposal_on and e.proposal_on >= ADOPTION])
    _showcase(builder)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(11)))


def _profiles(builder: DemoBuilder, accounts: list[Account]) -> None:
    rng = builder.rng
    year = builder.today.year
    profiles = ClientIntelligenceProfile.objects.bulk_create(
        [
            ClientIntelligenceProfile(
                account=account,
                business_context=f"{account.name} serves its clients from sites across "
                f"{Region(account.region).label}.",
                operational_constraints="Core systems run during business hours on weekdays; "
                "quarter-end is a change freeze.",
                no_regulatory_obligations=account.industry not in OBLIGATIONS,
            )
            for account in accounts
        ],
        batch_size=5000,
    )
    targets, obligations = [], []
    for profile, account in zip(profiles, accounts, strict=True):
        base = rng.randrange(100, 5_000, 50)
        targets.append(
            GrowthTarget(
                profile=profile,
                metric="Customers served a day",
                baseline=Decimal(base),
                target=Decimal(base * rng.choice([2, 2, 3])),
                unit="customers/day",
                horizon_year=year + rng.randint(3, 5),
            )
        )
        if account.industry in OBLIGATIONS:
            framework, requirement = OBLIGATIONS[account.industry]
            obligations.append(
                RegulatoryObligation(profile=profile, framework=framework, requirement=requirement)
            )
    GrowthTarget.objects.bulk_create(targets, batch_size=5000)
    RegulatoryObligation.objects.bulk_create(obligations, batch_size=5000)
    by_account = {p.account_id: p for p in profiles}
    Stakeholder.objects.bulk_create(
        [
            Stakeholder(
                profile=by_account[contact.account_id],
                contact=contact,
                buyer_role=contact.buyer_role,
            )
            for contact in Contact.objects.filter(
                account__in=accounts, buyer_role__in=[BuyerRole.ECONOMIC, BuyerRole.TECHNICAL]
            ).only("pk", "account_id", "buyer_role")
        ],
        batch_size=5000,
    )


def _analyses(builder: DemoBuilder, engagements: list[Engagement]) -> None:
    rng = builder.rng
    analyses = []
    for e in engagements:
        assert e.proposal_on is not None
        held = max(e.opened_on, e.proposal_on - dt.timedelta(days=rng.randint(3, 12)))
        analyses.append(
            FailureCostAnalysis(
                engagement=e,
                held_on=held,
                interviewer_id=e.commercial_lead_id,
                completed_at=_at(held),
                completed_by_id=e.commercial_lead_id,
                created_at=_at(held),
            )
        )
    analyses = FailureCostAnalysis.objects.bulk_create(analyses, batch_size=5000)
    industry = dict(
        Account.objects.filter(pk__in={e.account_id for e in engagements}).values_list(
            "pk", "industry"
        )
    )
    scenarios = []
    for analysis, e in zip(analyses, engagements, strict=True):
        what, sites, users, hours, per_hour, per_incident, severity, likely = SCENARIOS[
            industry[e.account_id]
        ]
        spread = Decimal(rng.randint(70, 130)) / 100
        scenarios.append(
            FailureScenario(
                analysis=analysis,
                what_fails=what,
                sites_affected=sites,
                users_affected=users,
                disruption_hours=Decimal(hours),
                cost_per_hour=(per_hour * spread).quantize(Decimal(1)),
                cost_per_incident=Decimal(per_incident),
                reputational_severity=severity,
                likelihood_per_year=Decimal(likely),
                tolerable_downtime_hours=Decimal(rng.choice([0, 1, 2, 4])),
            )
        )
    FailureScenario.objects.bulk_create(scenarios, batch_size=5000)


# Showcase ------------------------------------------------------------------------------


def _showcase_account(
    builder: DemoBuilder,
    name: str,
    industry: str,
    region: str,
    contacts: list[tuple[str, str, str]],
) -> tuple[Account, list[Contact]]:
    people = {
        u.username: u for u in User.objects.filter(username__in=["am.alex", "tm.tariq", "dm.dana"])
    }
    account = Account.objects.create(
        name=name, industry=industry, region=region, segment=Segment.WHITE_SPACE
    )
    AccountTeamMember.objects.bulk_create(
        [
            AccountTeamMember(
                account=account, user=people["am.alex"], role=TeamRole.ACCOUNT_MANAGER
            ),
            AccountTeamMember(
                account=account, user=people["tm.tariq"], role=TeamRole.TECHNOLOGY_MANAGER
            ),
            AccountTeamMember(
                account=account, user=people["dm.dana"], role=TeamRole.DELIVERY_MANAGER
            ),
        ]
    )
    saved = Contact.objects.bulk_create(
        [
            Contact(account=account, name=person, job_title=title, buyer_role=role)
            for person, title, role in contacts
        ]
    )
    return account, saved


def _engagement(
    builder: DemoBuilder, account: Account, name: str, opened_days_ago: int
) -> Engagement:
    alex = User.objects.get(username="am.alex")
    opened = builder.today - dt.timedelta(days=opened_days_ago)
    engagement = Engagement.objects.create(
        account=account,
        name=name,
        commercial_lead=alex,
        value=Decimal(0),
        opened_on=opened,
        stage_changed_at=_at(opened),
        stage_changed_by=alex,
    )
    StageChange.objects.create(
        engagement=engagement, to_stage=Stage.DISCOVERY, on=opened, by=alex, note="Created"
    )
    return engagement


def _profile(
    account: Account,
    *,
    context: str,
    constraints: str,
    targets: list[tuple[str, int, int, str, int]],
    obligations: list[tuple[str, str]],
    stakeholders: list[Contact],
    year: int,
) -> ClientIntelligenceProfile:
    profile = ClientIntelligenceProfile.objects.create(
        account=account, business_context=context, operational_constraints=constraints
    )
    GrowthTarget.objects.bulk_create(
        [
            GrowthTarget(
                profile=profile,
                metric=metric,
                baseline=Decimal(base),
                target=Decimal(goal),
                unit=unit,
                horizon_year=year + years,
            )
            for metric, base, goal, unit, years in targets
        ]
    )
    RegulatoryObligation.objects.bulk_create(
        [RegulatoryObligation(profile=profile, framework=f, requirement=r) for f, r in obligations]
    )
    Stakeholder.objects.bulk_create(
        [Stakeholder(profile=profile, contact=c, buyer_role=c.buyer_role) for c in stakeholders]
    )
    return profile


def _showcase(builder: DemoBuilder) -> None:
    year = builder.today.year
    alex = User.objects.get(username="am.alex")

    # A radiology network: discovery complete, ready for the proposal.
    account, people = _showcase_account(
        builder,
        "Northvale Radiology Network",
        Industry.HEALTHCARE,
        Region.NORTH_AMERICA,
        [
            ("Renée Albright", "Chief Financial Officer", BuyerRole.ECONOMIC),
            ("Marcus Idowu", "VP Clinical Systems", BuyerRole.TECHNICAL),
            ("Hana Sato", "Lead Radiographer", BuyerRole.USER),
        ],
    )
    _profile(
        account,
        context="Runs about 400 imaging clinics; some 10,000 staff book, read and report "
        "scans every day through one clinical platform.",
        constraints="Clinics work seven days a week from early morning to late evening; "
        "emergency reads happen at night. No clinic may lose access to prior images.",
        targets=[
            ("Imaging orders handled a day", 3_500, 7_000, "orders/day", 4),
            ("Platform users", 10_000, 21_000, "users", 5),
        ],
        obligations=[
            (Framework.HIPAA, "Every access to a patient record is logged and reviewable."),
        ],
        stakeholders=people[:2],
        year=year,
    )
    engagement = _engagement(builder, account, "Patient-record platform migration", 40)
    analysis = FailureCostAnalysis.objects.create(
        engagement=engagement,
        title="Migration failure costs with clinical systems",
        held_on=builder.today - dt.timedelta(days=21),
        interviewer=alex,
        notes="Asked what a weekend cut-over would cost; the answer ruled out any downtime.",
        completed_at=_at(builder.today - dt.timedelta(days=20)),
        completed_by=alex,
        signed_off_by=people[1],
        signed_off_on=builder.today - dt.timedelta(days=18),
    )
    analysis.interviewees.set(people[:2])
    outage = FailureScenario.objects.create(
        analysis=analysis,
        what_fails="Clinics cannot open prior images during a cut-over",
        sites_affected=400,
        users_affected=10_000,
        disruption_hours=Decimal(8),
        cost_per_hour=Decimal(95_000),
        cost_per_incident=Decimal(250_000),
        reputational_severity=5,
        reputational_note="Delayed diagnoses reach patients and referring physicians.",
        regulatory_exposure="Care delays reportable to state health regulators.",
        likelihood_per_year=Decimal("1"),
        tolerable_downtime_hours=Decimal(0),
    )
    mismatch = FailureScenario.objects.create(
        analysis=analysis,
        what_fails="Records attached to the wrong patient after migration",
        sites_affected=400,
        users_affected=2_000,
        disruption_hours=Decimal(48),
        cost_per_hour=Decimal(4_000),
        cost_per_incident=Decimal(1_500_000),
        reputational_severity=5,
        regulatory_exposure="A reportable privacy breach.",
        likelihood_per_year=Decimal("0.05"),
        tolerable_downtime_hours=Decimal(0),
    )
    never = NeverEvent.objects.create(
        engagement=engagement, statement="No planned downtime window at any clinic"
    )
    never.scenarios.set([outage])
    check = NeverEvent.objects.create(
        engagement=engagement, statement="No record moves without a verified patient match"
    )
    check.scenarios.set([mismatch])
    comparison = TcoComparison.objects.create(
        engagement=engagement,
        lifespan_years=5,
        expected_reward="Room to double daily orders without a second platform.",
        risks="A live migration looks riskier than a shutdown; show the rehearsal plan.",
    )
    ours, phased, status_quo = TcoAlternative.objects.bulk_create(
        [
            TcoAlternative(comparison=comparison, kind=AlternativeKind.OURS, name="Our proposal"),
            TcoAlternative(
                comparison=comparison, kind=AlternativeKind.COMPETITOR, name="Phased shutdown"
            ),
            TcoAlternative(
                comparison=comparison, kind=AlternativeKind.STATUS_QUO, name="Status quo"
            ),
        ]
    )
    TcoCostLine.objects.bulk_create(
        [
            TcoCostLine(alternative=ours, category=CostCategory.PURCHASE, amount=Decimal(420_000)),
            TcoCostLine(
                alternative=ours,
                category=CostCategory.IMPLEMENTATION,
                amount=Decimal(1_150_000),
                assumption="Live replication with a rehearsed switch-over per region.",
            ),
            TcoCostLine(alternative=ours, category=CostCategory.OPERATING, amount=Decimal(180_000)),
            TcoCostLine(
                alternative=phased, category=CostCategory.PURCHASE, amount=Decimal(380_000)
            ),
            TcoCostLine(
                alternative=phased,
                category=CostCategory.IMPLEMENTATION,
                amount=Decimal(900_000),
                assumption="Weekend shutdowns, one region at a time.",
            ),
            TcoCostLine(
                alternative=phased, category=CostCategory.OPERATING, amount=Decimal(190_000)
            ),
            TcoCostLine(
                alternative=phased,
                category=CostCategory.DOWNTIME,
                amount=Decimal(1_010_000),
                assumption="One eight-hour outage a year at the interview's figures.",
            ),
            TcoCostLine(
                alternative=status_quo, category=CostCategory.OPERATING, amount=Decimal(640_000)
            ),
            TcoCostLine(
                alternative=status_quo, category=CostCategory.MAINTENANCE, amount=Decimal(210_000)
            ),
        ]
    )

    # A farm lender: profile complete, interview still a draft.
    account, people = _showcase_account(
        builder,
        "Prairie Farm Credit",
        Industry.BANKING,
        Region.NORTH_AMERICA,
        [
            ("Walter Brandt", "Chief Operating Officer", BuyerRole.ECONOMIC),
            ("Ines Okoro", "Head of Security Architecture", BuyerRole.TECHNICAL),
        ],
    )
    _profile(
        account,
        context="Lends to farms and agribusiness; most loan questions still arrive by phone.",
        constraints="Lending decisions must keep running through harvest, the busiest season.",
        targets=[("Loan enquiries handled online", 15, 60, "%", 3)],
        obligations=[
            (Framework.GLBA, "Customer financial data reachable only by verified identities."),
            (
                Framework.OTHER,
                "Every identity decision traceable for the lending examiner.",
            ),
        ],
        stakeholders=people,
        year=year,
    )
    RegulatoryObligation.objects.filter(framework=Framework.OTHER, profile__account=account).update(
        framework_other="Farm Credit Administration examinations"
    )
    engagement = _engagement(builder, account, "Borrower portal on cloud identity", 25)
    draft = FailureCostAnalysis.objects.create(
        engagement=engagement,
        title="Identity and access failure costs",
        held_on=builder.today - dt.timedelta(days=6),
        interviewer=alex,
    )
    draft.interviewees.set(people[1:])
    FailureScenario.objects.create(
        analysis=draft,
        what_fails="Borrowers locked out of the portal at month end",
        users_affected=12_000,
        disruption_hours=Decimal(6),
        cost_per_hour=Decimal(20_000),
        likelihood_per_year=Decimal("0.5"),
    )

    # An insurer digitising claims: discovery not started.
    account, _people = _showcase_account(
        builder,
        "Keystone Mutual Claims Platform",
        Industry.INSURANCE,
        Region.NORTH_AMERICA,
        [
            ("Dolores Vega", "Chief Claims Officer", BuyerRole.ECONOMIC),
            ("Sam Whitfield", "Director of Enterprise Architecture", BuyerRole.TECHNICAL),
        ],
    )
    _engagement(builder, account, "Life and disability claims digitisation", 9)
