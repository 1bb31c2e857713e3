"""A realistic, deterministic demo organisation (seeded random), built with bulk inserts.

The TCP model is adopted on 1 July 2018: engagements before then win less often and finish
late more often than those after, so the before/after views have something to show.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from engagements.models import (
    STAGE_DATE_FIELD,
    Account,
    AccountTeamMember,
    BuyerRole,
    Contact,
    Engagement,
    Industry,
    PocOutcome,
    Product,
    ProductLine,
    Region,
    Segment,
    Stage,
    StageChange,
    TeamRole,
)
from tcp.models import MaturityLevel, OrganisationSettings, Role, User

DEMO_PASSWORD = "parity-demo"  # noqa: S105 - the documented demo login, not a secret
ADOPTION = dt.date(2018, 7, 1)
HISTORY_START = dt.date(2017, 1, 1)


@dataclass(frozen=True)
class Scale:
    staff: int
    accounts: int
    engagements: int


SCALES = {
    "small": Scale(staff=40, accounts=120, engagements=400),
    "large": Scale(staff=400, accounts=10_000, engagements=100_000),
}

FIRST = [
    "Alex",
    "Dana",
    "Morgan",
    "Priya",
    "Tomás",
    "Aisha",
    "Jonas",
    "Mei",
    "Oluwaseun",
    "Clara",
    "Rafael",
    "Ingrid",
    "Kwame",
    "Sofia",
    "Hiroshi",
    "Leah",
    "Mateo",
    "Nadia",
    "Owen",
    "Yara",
    "Felix",
    "Grace",
    "Ibrahim",
    "Julia",
    "Kieran",
    "Lucia",
    "Marcus",
    "Noor",
    "Pablo",
    "Rosa",
]
LAST = [
    "Carter",
    "Okafor",
    "Lindqvist",
    "Sharma",
    "Moreau",
    "Haddad",
    "Becker",
    "Tanaka",
    "Novak",
    "Fitzgerald",
    "Costa",
    "Mensah",
    "Jensen",
    "Rossi",
    "Kowalski",
    "Nakamura",
    "Oduya",
    "Walsh",
    "Santos",
    "Varga",
    "Ahmed",
    "Brennan",
    "Dubois",
    "Eriksen",
    "García",
    "Hughes",
    "Ivanova",
]

NAME_PARTS: dict[str, tuple[list[str], list[str]]] = {
    Industry.HEALTHCARE: (
        ["Northvale", "St Brigid's", "Riverside", "Meadowcross", "Harbourview", "Pinecrest"],
        ["Radiology Network", "Health Trust", "Clinics", "Diagnostics", "Care Group"],
    ),
    Industry.BANKING: (
        ["Granite", "Lakeshore", "Albion", "Crescent", "Fairway", "Kestrel"],
        ["Lending", "Building Society", "Bank", "Credit Union", "Finance"],
    ),
    Industry.INSURANCE: (
        ["Beacon", "Hearthstone", "Mariner", "Evergreen", "Sentinel", "Tamar"],
        ["Mutual", "Insurance", "Assurance", "Claims Services", "Underwriters"],
    ),
    Industry.MANUFACTURING: (
        ["Ironbridge", "Vector", "Carlow", "Redline", "Ostara", "Hallam"],
        ["Components", "Precision", "Engineering", "Plastics", "Foundry"],
    ),
    Industry.RETAIL: (
        ["Brightmarket", "Oakley & Finch", "Cornerstone", "Larkspur", "Mosaic"],
        ["Stores", "Retail Group", "Home", "Outfitters", "Grocers"],
    ),
    Industry.PUBLIC_SECTOR: (
        ["Wessex", "Northmoor", "Lowland", "Eastmarch", "Kingsbury"],
        ["County Council", "Borough Council", "Transport Authority", "Water Board"],
    ),
    Industry.ENERGY: (
        ["Solent", "Brightwater", "Highfield", "Caledon", "Tideway"],
        ["Energy", "Power", "Utilities", "Grid Services", "Renewables"],
    ),
    Industry.LOGISTICS: (
        ["Swift", "Meridian", "Harbour", "Northline", "Atlas"],
        ["Freight", "Logistics", "Haulage", "Distribution", "Shipping"],
    ),
}

PRODUCT_LINES = {
    "Cloud platforms": ["Managed Kubernetes", "Landing zone", "Cloud migration"],
    "Data & analytics": ["Data platform", "Reporting suite", "Data governance"],
    "Security & identity": ["Identity management", "Security operations", "Zero-trust network"],
    "Digital workplace": ["Collaboration suite", "Service desk", "Device management"],
    "Application services": ["Custom development", "Integration hub", "Legacy modernisation"],
}

WORK = [
    "PACS migration",
    "Core banking integration",
    "Claims platform rebuild",
    "Identity consolidation",
    "Data platform",
    "Service desk renewal",
    "Network refresh",
    "Cloud landing zone",
    "ERP upgrade",
    "Security operations centre",
    "Customer portal",
    "Disaster recovery",
    "Analytics rollout",
    "Device fleet renewal",
    "API gateway",
    "Zero-downtime upgrade",
    "Regulatory reporting",
]

PHASES = ["phase 1", "phase 2", "pilot", "rollout", "renewal", ""]

# The named demo logins, then generated staff to fill each role.
PERSONAS = [
    ("admin", "Ada", "Quinn", [Role.ADMINISTRATOR], "Systems administrator"),
    ("leader", "Morgan", "Hale", [Role.SALES_LEADERSHIP], "Sales director"),
    ("am.alex", "Alex", "Carter", [Role.ACCOUNT_MANAGER], "Account manager"),
    ("dm.dana", "Dana", "Okafor", [Role.DELIVERY_MANAGER], "Delivery manager"),
    ("tm.tariq", "Tariq", "Haddad", [Role.TECHNOLOGY_MANAGER], "Technology manager"),
    (
        "hm.harper",
        "Harper",
        "Walsh",
        [Role.HIRING_MANAGER, Role.SALES_LEADERSHIP],
        "Head of sales hiring",
    ),
]
ROLE_MIX: list[tuple[str, float]] = [  # share of generated staff per role
    (Role.ACCOUNT_MANAGER, 0.35),
    (Role.TECHNOLOGY_MANAGER, 0.2),
    (Role.PARTNER_MANAGER, 0.1),
    (Role.DELIVERY_MANAGER, 0.25),
    (Role.SALES_LEADERSHIP, 0.05),
    (Role.HIRING_MANAGER, 0.05),
]


# Other apps add their part of the demo organisation (discovery records, certifications…)
# from their AppConfig.ready(); each step gets the builder, the accounts and the engagements.
DemoStep = Callable[["DemoBuilder", list[Account], list[Engagement]], None]
DEMO_STEPS: list[DemoStep] = []


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max((end - start).days, 0)))


class DemoBuilder:
    def __init__(self, *, scale: Scale, seed: int = 2018, today: dt.date | None = None):
        self.scale = scale
        self.rng = random.Random(seed)
        self.today = today or timezone.localdate()
        self.password = make_password(DEMO_PASSWORD, salt="paritydemo")

    # -- people --------------------------------------------------------------------------
    def build_staff(self) -> dict[str, list[User]]:
        users: list[User] = []
        for username, first, last, roles, title in PERSONAS:
            users.append(
                User(
                    username=username,
                    first_name=first,
                    last_name=last,
                    roles=list(roles),
                    job_title=title,
                    email=f"{username}@example.com",
                    password=self.password,
                    is_staff=Role.ADMINISTRATOR in roles,
                    is_superuser=Role.ADMINISTRATOR in roles,
                )
            )
        needed = self.scale.staff - len(users)
        roles_cycle: list[str] = []
        for mix_role, share in ROLE_MIX:
            roles_cycle += [mix_role] * max(1, round(needed * share))
        roles_cycle = roles_cycle[:needed]
        for i, role in enumerate(roles_cycle):
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            username = f"{first.lower()}.{last.lower()}.{i}".encode("ascii", "ignore").decode()
            users.append(
                User(
                    username=username,
                    first_name=first,
                    last_name=last,
                    roles=[role],
                    job_title=Role(role).label,
                    email=f"{username}@example.com",
                    password=self.password,
                )
            )
        User.objects.bulk_create(users, batch_size=1000)
        leader = User.objects.get(username="leader")
        User.objects.exclude(pk=leader.pk).exclude(username="admin").update(manager=leader)
        by_role: dict[str, list[User]] = {role.value: [] for role in Role}
        for user in User.objects.order_by("pk"):
            for held in user.roles:
                by_role[held].append(user)
        return by_role

    # -- accounts ------------------------------------------------------------------------
    def build_accounts(self, staff: dict[str, list[User]]) -> list[Account]:
        industries = list(Industry)
        regions = list(Region)
        accounts = []
        seen: set[str] = set()
        for i in range(self.scale.accounts):
            industry = (
                industries[i % len(industries)]
                if i < len(industries)
                else self.rng.choice(industries)
            )
            prefixes, suffixes = NAME_PARTS[industry]
            name = f"{self.rng.choice(prefixes)} {self.rng.choice(suffixes)}"
            if name in seen:
                name = f"{name} {i}"
            seen.add(name)
            accounts.append(
                Account(
                    external_id=f"CRM-A{i:06d}",
                    name=name,
                    industry=industry,
                    region=self.rng.choice(regions),
                    segment=Segment.ESTABLISHED
                    if self.rng.random() < 0.55
                    else Segment.WHITE_SPACE,
                    created_at=timezone.make_aware(dt.datetime.combine(HISTORY_START, dt.time(9))),
                )
            )
        accounts = Account.objects.bulk_create(accounts, batch_size=2000)
        alex = User.objects.get(username="am.alex")
        tariq = User.objects.get(username="tm.tariq")
        dana = User.objects.get(username="dm.dana")
        seats, contacts = [], []
        for i, account in enumerate(accounts):
            crm_id = account.external_id or str(account.pk)
            # The named personas hold seats on a handful of accounts each.
            am = alex if i % 12 == 0 else self.rng.choice(staff[Role.ACCOUNT_MANAGER])
            tm = tariq if i % 10 == 0 else self.rng.choice(staff[Role.TECHNOLOGY_MANAGER])
            dm = dana if i % 9 == 0 else self.rng.choice(staff[Role.DELIVERY_MANAGER])
            seats += [
                AccountTeamMember(
                    account=account, user=am, role=TeamRole.ACCOUNT_MANAGER, since=HISTORY_START
                ),
                AccountTeamMember(
                    account=account, user=tm, role=TeamRole.TECHNOLOGY_MANAGER, since=HISTORY_START
                ),
                AccountTeamMember(
                    account=account, user=dm, role=TeamRole.DELIVERY_MANAGER, since=HISTORY_START
                ),
            ]
            if self.rng.random() < 0.3:
                seats.append(
                    AccountTeamMember(
                        account=account,
                        user=self.rng.choice(staff[Role.PARTNER_MANAGER]),
                        role=TeamRole.PARTNER_MANAGER,
                        since=HISTORY_START,
                    )
                )
            for j, buyer in enumerate(list(BuyerRole)[: self.rng.randint(2, 4)]):
                first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
                contacts.append(
                    Contact(
                        account=account,
                        name=f"{first} {last}",
                        buyer_role=buyer,
                        job_title={
                            "economic": "Chief Financial Officer",
                            "technical": "Head of IT",
                            "user": "Operations Manager",
                            "coach": "Programme Lead",
                        }[buyer],
                        email=f"{first.lower()}.{last.lower()}{j}@{crm_id.lower()}.example",
                        external_id=f"CRM-C{crm_id[5:]}-{j}",
                    )
                )
        AccountTeamMember.objects.bulk_create(seats, batch_size=5000)
        Contact.objects.bulk_create(contacts, batch_size=5000)
        self.account_seats: dict[int, dict[str, User]] = {}
        for seat in seats:
            self.account_seats.setdefault(seat.account_id, {})[seat.role] = seat.user
        return accounts

    # -- engagements ---------------------------------------------------------------------
    def _lifecycle(self, e: Engagement) -> list[tuple[str, dt.date]]:
        """Walk an engagement through its stages from its opening date; returns the path."""
        rng, today = self.rng, self.today
        path: list[tuple[str, dt.date]] = [(Stage.DISCOVERY, e.opened_on)]
        pre = e.opened_on < ADOPTION
        proposal = e.opened_on + dt.timedelta(days=rng.randint(14, 80))
        if rng.random() < 0.08:
            end = e.opened_on + dt.timedelta(days=rng.randint(10, 60))
            if end <= today:
                path.append((Stage.LOST, end))
            return path
        if proposal > today:
            return path
        path.append((Stage.PROPOSAL, proposal))
        win = rng.random() < (0.42 if pre else 0.61)
        decision = proposal + dt.timedelta(days=rng.randint(15, 70))
        if decision > today:
            return path
        if not win:
            path.append((Stage.LOST, decision))
            return path
        e.contracted_start = decision + dt.timedelta(days=rng.randint(7, 30))
        e.contracted_end = e.contracted_start + dt.timedelta(days=rng.randint(60, 330))
        path.append((Stage.CONTRACTED, decision))
        if e.contracted_start > today:
            return path
        path.append((Stage.DELIVERY, e.contracted_start))
        if rng.random() < 0.04:
            cancelled = _day(rng, e.contracted_start, min(e.contracted_end, today))
            path.append((Stage.CANCELLED, cancelled))
            return path
        late = rng.random() < (0.46 if pre else 0.19)
        slip = rng.randint(5, 90) if late else -rng.randint(0, 10)
        completed = max(e.contracted_end + dt.timedelta(days=slip), e.contracted_start)
        if completed <= today:
            path.append((Stage.COMPLETED, completed))
        return path

    def build_engagements(self, accounts: list[Account], staff: dict[str, list[User]]) -> int:
        rng = self.rng
        lines = [ProductLine.objects.get_or_create(name=name)[0] for name in PRODUCT_LINES]
        for line in lines:
            for product in PRODUCT_LINES[line.name]:
                Product.objects.get_or_create(line=line, name=product)
        adopters = staff[Role.ACCOUNT_MANAGER] + staff[Role.TECHNOLOGY_MANAGER]
        engagements, paths, line_picks = [], [], []
        span_end = self.today - dt.timedelta(days=5)
        for i in range(self.scale.engagements):
            account = accounts[i % len(accounts)] if i < len(accounts) else rng.choice(accounts)
            seats = self.account_seats[account.pk]
            value = Decimal(rng.randrange(40_000, 1_800_000, 500))
            e = Engagement(
                external_id=f"CRM-E{i:07d}",
                account=account,
                name=f"{rng.choice(WORK)} {rng.choice(PHASES)}".strip(),
                commercial_lead=seats.get(TeamRole.ACCOUNT_MANAGER) or rng.choice(adopters),
                value=value,
                contracted_effort_days=(value / Decimal(1150)).quantize(Decimal("0.1")),
                partner_led=TeamRole.PARTNER_MANAGER in seats and rng.random() < 0.6,
                opened_on=_day(rng, HISTORY_START, span_end),
            )
            path = self._lifecycle(e)
            stage, stage_on = path[-1]
            e.stage = stage
            for s, on in path:
                field = STAGE_DATE_FIELD.get(s)
                if field:
                    setattr(e, field, on)
            if (
                stage in (Stage.CONTRACTED, Stage.DELIVERY, Stage.COMPLETED, Stage.CANCELLED)
                and e.contracted_start
            ):
                e.delivery_manager = seats.get(TeamRole.DELIVERY_MANAGER)
            else:
                e.contracted_effort_days = (
                    None if stage in (Stage.DISCOVERY,) else e.contracted_effort_days
                )
            if e.proposal_on and rng.random() < 0.25:
                e.poc = rng.choice([PocOutcome.SUCCESSFUL] * 3 + [PocOutcome.FAILED])
                e.poc_concluded_on = e.proposal_on - dt.timedelta(days=rng.randint(1, 10))
                e.poc_concluded_on = max(e.poc_concluded_on, e.opened_on)
            when = timezone.make_aware(dt.datetime.combine(stage_on, dt.time(10)))
            e.created_at = timezone.make_aware(dt.datetime.combine(e.opened_on, dt.time(9)))
            e.stage_changed_at = when
            engagements.append(e)
            paths.append(path)
            line_picks.append(rng.sample(lines, k=rng.choice([1, 1, 1, 2, 2, 3])))
        engagements = Engagement.objects.bulk_create(engagements, batch_size=5000)
        Through = Engagement.product_lines.through
        Through.objects.bulk_create(
            [
                Through(engagement_id=e.pk, productline_id=line.pk)
                for e, picks in zip(engagements, line_picks, strict=True)
                for line in picks
            ],
            batch_size=10_000,
        )
        changes = []
        for e, path in zip(engagements, paths, strict=True):
            previous = ""
            for stage, on in path:
                changes.append(
                    StageChange(
                        engagement_id=e.pk,
                        from_stage=previous,
                        to_stage=stage,
                        on=on,
                        at=timezone.make_aware(dt.datetime.combine(on, dt.time(10))),
                        by_id=e.commercial_lead_id,
                        note="Imported history",
                    )
                )
                previous = stage
        StageChange.objects.bulk_create(changes, batch_size=10_000)
        self.engagements = engagements
        return len(engagements)

    @transaction.atomic
    def build(self) -> dict[str, int]:
        OrganisationSettings.objects.update_or_create(
            pk=1,
            defaults={
                "name": "Meridian Technology Services",
                "currency": "GBP",
                "tcp_adoption_date": ADOPTION,
                "maturity_level": MaturityLevel.VALUE_LED,
            },
        )
        staff = self.build_staff()
        accounts = self.build_accounts(staff)
        count = self.build_engagements(accounts, staff)
        for step in DEMO_STEPS:
            step(self, accounts, self.engagements)
        return {"staff": User.objects.count(), "accounts": len(accounts), "engagements": count}
