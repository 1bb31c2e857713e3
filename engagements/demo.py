"""A realistic, deterministic demo organisation (seeded random), built with bulk inserts.

The TCP model is adopted on 1 July 2018: engagements proposed before then win less often,
finish late more often, drift from their scope more often and see less of their commercial lead
at critical milestones than those proposed after, so the before/after views have something to
show. Delivery history (scope, milestones and attendance, success plans, revenue, client
ratings) and the sellers' 1:1s are built the same way, in bulk.

One showcase on Alex Carter's and Dana Okafor's desks: Calderbrook Community Hospitals' theatre
scheduling rollout, in delivery, with its architecture review coming up in six days.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, cast

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from engagements.models import (
    CRITICAL_KINDS,
    STAGE_DATE_FIELD,
    WON_STAGES,
    Account,
    AccountTeamMember,
    AccountTemperature,
    ActivityKind,
    AdoptionStep,
    AttendanceMode,
    BuyerRole,
    CareerNote,
    ClientRating,
    Contact,
    Engagement,
    Industry,
    MetricReading,
    Milestone,
    MilestoneAttendance,
    MilestoneKind,
    NextStep,
    OneOnOne,
    OneOnOneOpportunity,
    PocOutcome,
    PostSaleActivity,
    Product,
    ProductLine,
    Region,
    RevenueEntry,
    ScopeCause,
    ScopeChange,
    ScopeItem,
    Segment,
    Stage,
    StageChange,
    SuccessMetric,
    SuccessPlan,
    TeamRole,
    Temperature,
)
from tcp.models import MaturityLevel, OrganisationSettings, Role, User

CENT = Decimal("0.01")
DEMO_PASSWORD = "parity-demo"  # noqa: S105 - the documented demo login, not a secret
ADOPTION = dt.date(2018, 7, 1)
HISTORY_START = dt.date(2017, 1, 1)
# The book of work the organisation brought with it: a share of the engagements opened in
# the first half of 2017 as short pieces of work, so that the year before adoption has
# enough completed work for the TCP impact view to compare with the years after it.
EARLY_SHARE = 0.2
EARLY_END = dt.date(2017, 6, 30)


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


SHOWCASE_ACCOUNT = "Calderbrook Community Hospitals"
SHOWCASE_ENGAGEMENT = "Theatre scheduling rollout"

# Delivery history ------------------------------------------------------------------------

SCOPE_WORK = [
    "Solution design",
    "Environment build",
    "Data migration",
    "Integration with existing systems",
    "Security and access controls",
    "Reporting and dashboards",
    "Testing and acceptance",
    "Cut-over and hypercare",
    "Training and handover",
    "Performance tuning",
    "Process redesign",
    "Project management",
]

CHANGE_NOTES: dict[str, list[str]] = {
    ScopeCause.SCOPING_MISS: [
        "An interface nobody listed at contract time had to be built.",
        "The legacy data was far messier than the sample we estimated from.",
        "Load tests showed the sizing assumed in the proposal was too small.",
        "A second identity provider turned up in the third week.",
        "The estimate left out the client's change-board approval cycles.",
        "Reports the users rely on were missing from the inventory we scoped.",
    ],
    ScopeCause.CLIENT_REQUEST: [
        "The client asked for an extra view for the board pack.",
        "A second pilot site added at the client's request.",
        "The client moved the mobile app to a later phase.",
        "Extra training sessions for the night shift.",
    ],
    ScopeCause.REGULATORY_CHANGE: [
        "New retention rules from the regulator meant extra audit logging.",
        "Updated guidance on data residency moved two services in region.",
    ],
    ScopeCause.OTHER: [
        "Re-planned around the client's office move.",
        "A supplier delay on hardware; work resequenced.",
    ],
}

# What the commercial lead brought to a milestone, by kind.
LEAD_NOTES: dict[str, list[str]] = {
    MilestoneKind.DISCOVERY_WORKSHOP: [
        "Ran the failure-cost questions with the operations leads.",
        "Mapped the client's growth targets onto the scope options.",
        "Led the session on what must never go wrong.",
    ],
    MilestoneKind.ARCHITECTURE_REVIEW: [
        "Tested the failover design against the downtime the client can live with.",
        "Explained what each integration option costs over the contract.",
        "Tied every design choice back to the contracted scope.",
        "Raised data residency before it could become a change request.",
    ],
    MilestoneKind.IMPLEMENTATION: [
        "Agreed the acceptance criteria with the client's product owner.",
        "Settled a scope question in the room instead of raising a change.",
        "Showed what this release does for the client's targets.",
    ],
    MilestoneKind.GO_LIVE: [
        "Chaired the go/no-go call with the client's executives.",
        "Checked the cut-over plan against the failure-cost constraints.",
        "Confirmed the success-metric baselines with the sponsor.",
    ],
    MilestoneKind.QBR: [
        "Presented progress against the success plan.",
        "Reviewed the metrics with the economic buyer and set next quarter's focus.",
    ],
}
DELIVERY_NOTES = [
    "Ran the session and tracked the actions.",
    "Presented the plan, the risks and what is next.",
    "Walked through the status of every workstream.",
]
TECHNOLOGY_NOTES = [
    "Covered the technical options and their trade-offs.",
    "Answered the integration questions from the client's architects.",
    "Demonstrated the build to the client's engineers.",
]
ABSENT_LEAD_NOTES = [
    "Not invited: delivery ran the session without sales.",
    "Handed over at signature; did not follow the project.",
    "Clashed with a pitch elsewhere.",
]

OUTCOMES: dict[str, str] = {
    Industry.HEALTHCARE: "Clinics keep seeing patients through every change, with records "
    "on screen in seconds.",
    Industry.BANKING: "Loan decisions in days rather than weeks, every step traceable for "
    "the examiner.",
    Industry.INSURANCE: "Claims settled sooner, with fewer hand-offs between teams.",
    Industry.MANUFACTURING: "Fewer unplanned line stops and a production plan the shop floor "
    "trusts.",
    Industry.RETAIL: "Customers pay and collect without queueing, in store and online.",
    Industry.PUBLIC_SECTOR: "Residents get answers online instead of waiting on the phone.",
    Industry.ENERGY: "Meter data arrives complete and on time for billing and the regulator.",
    Industry.LOGISTICS: "Vans leave on time on routes that follow the day's orders.",
}
# name, unit, baseline, target (direction matters: some numbers should fall)
METRICS: dict[str, list[tuple[str, str, int, int]]] = {
    Industry.HEALTHCARE: [
        ("Time to open a prior image", "seconds", 14, 3),
        ("Clinic hours lost to system downtime", "hours/quarter", 22, 2),
        ("Orders handled a day", "orders/day", 3_200, 4_500),
    ],
    Industry.BANKING: [
        ("Days from application to decision", "days", 18, 5),
        ("Applications made online", "%", 20, 65),
        ("Audit findings on access", "findings/year", 9, 1),
    ],
    Industry.INSURANCE: [
        ("Days to settle a simple claim", "days", 21, 7),
        ("Claims handled without re-keying", "%", 35, 85),
        ("Complaints about claim handling", "a month", 140, 60),
    ],
    Industry.MANUFACTURING: [
        ("Unplanned line stops", "a month", 12, 3),
        ("Plan adherence", "%", 72, 92),
        ("Scrap rate", "%", 6, 2),
    ],
    Industry.RETAIL: [
        ("Checkout failures", "a week", 45, 5),
        ("Orders collected in store", "a day", 300, 900),
        ("Stock accuracy", "%", 82, 97),
    ],
    Industry.PUBLIC_SECTOR: [
        ("Enquiries answered online", "%", 25, 70),
        ("Average call wait", "minutes", 19, 6),
        ("Cases closed in a week", "%", 40, 75),
    ],
    Industry.ENERGY: [
        ("Meter reads arriving on time", "%", 88, 99),
        ("Estimated bills", "%", 14, 3),
        ("Incident reports filed late", "a year", 6, 0),
    ],
    Industry.LOGISTICS: [
        ("Vans leaving on time", "%", 74, 95),
        ("Missed delivery slots", "a week", 260, 60),
        ("Miles per drop", "miles", 9, 6),
    ],
}
ADOPTION_STEPS = [
    "Name a product owner on the client's side",
    "Train the first group of super-users",
    "Switch the pilot site over",
    "Retire the old system's reports",
    "Hand the runbooks to the client's support team",
    "Roll out to every site",
    "Agree how often the sponsor reviews the metrics",
]
CLIENT_OWNERS = ["Client's Head of IT", "Client's Operations Manager", "Client's Programme Lead"]
ACTIVITIES: dict[str, list[str]] = {
    ActivityKind.INFORMATION: [
        "Sent the sponsor the monthly adoption report.",
        "Shared the release notes and what they change for users.",
        "Briefed the new CFO on what the programme has delivered so far.",
    ],
    ActivityKind.IMPLEMENTATION: [
        "Helped the client's team set up the second site.",
        "Paired with their administrators on the first access review.",
        "Joined the client's support desk for the first week after go-live.",
    ],
    ActivityKind.INFUSION: [
        "Showed the finance team how to use the new reports.",
        "Introduced the solution to a second business unit.",
        "Ran a lunch-and-learn for managers who had not used it yet.",
    ],
}

# 1:1 meetings ------------------------------------------------------------------------
OPPORTUNITY_NOTES = [
    "",
    "",
    "Client wants the security answer before their budget round.",
    "Technical buyer is convinced; the economic buyer still weighs the status quo.",
    "Proof of concept results due next week.",
    "Competitor undercut on price; our TCO case is stronger.",
    "Delivery going well; ask for a reference.",
]
TEMPERATURE_NOTES = {
    Temperature.COLD: "Sponsor left; nobody owns the relationship on their side.",
    Temperature.COOL: "Polite, but they are not sharing their plans with us.",
    Temperature.WARM: "Regular contact with the technical buyer.",
    Temperature.HOT: "They call us first when something comes up.",
}
NEXT_STEPS = [
    "Book the failure-cost interview with {account}'s operations lead",
    "Send the revised TCO to {account}",
    "Ask {account}'s technical buyer for a reference call",
    "Prepare for the architecture review on {engagement}",
    "Follow up the open scope question on {engagement}",
    "Introduce our delivery manager to {account}'s programme lead",
]
SELF_STEPS = [
    "Finish the next certification module",
    "Shadow a delivery workshop on another account",
    "Write up a lessons-learned note from the last proposal",
]
CAREER_NOTES = [
    "Wants to move towards solution architecture within two years.",
    "Keen to lead a partner-led deal; pair with a partner manager next quarter.",
    "Feels stretched across too many accounts; agreed to hand one over.",
    "Working towards the project management exam; Friday afternoons kept free for study.",
    "Asked about a move to the German market; revisit after the summer.",
]
FUTURE_IDEAS = [
    "{account} opens a second site next year; worth a discovery conversation.",
    "{account}'s data team mentioned a reporting backlog.",
    "{account}'s support contract renews in the spring.",
]
SELLER_ROLES = (Role.ACCOUNT_MANAGER, Role.TECHNOLOGY_MANAGER, Role.PARTNER_MANAGER)
# Rows wait in memory for one slice of engagements at a time.
DELIVERY_SLICE = 2_000


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max((end - start).days, 0)))


def _split(total: int, weights: list[float]) -> list[int]:
    """`total` in whole parts by weight, each part at least one, adding up exactly."""
    scale = sum(weights)
    parts = [max(1, int(total * w / scale)) for w in weights]
    parts[parts.index(max(parts))] += total - sum(parts)
    return parts


def _tenths(days: Decimal) -> int:
    return int(days * 10)


def _days(tenths: int) -> Decimal:
    return Decimal(tenths) / 10


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from start's month to end's month, both included."""
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


class _Rows:
    """Rows waiting to be written. Saved model by model in the order each model was first
    added, so a child may point at a parent that gets its primary key in the same flush.

    They go in with COPY rather than bulk_create: the large organisation is millions of
    rows, and building an INSERT statement for them costs more than the database's work.
    Primary keys are drawn from each table's sequence first, as an INSERT would."""

    def __init__(self) -> None:
        self.pending: dict[type[models.Model], list[Any]] = {}

    def add(self, row: models.Model) -> None:
        self.pending.setdefault(type(row), []).append(row)

    def flush(self) -> None:
        for rows in self.pending.values():
            bulk_copy(rows)
        self.pending = {}


def bulk_copy[M: models.Model](rows: list[M]) -> list[M]:
    """bulk_create for many rows of one model, written with COPY (see _Rows)."""
    if rows:
        with connection.cursor() as cursor:
            _copy_rows(cursor, type(rows[0]), rows)
    return rows


def _copy_rows(cursor: Any, model: type[models.Model], rows: list[Any]) -> None:
    meta = model._meta
    fields = list(meta.concrete_fields)
    new = [row for row in rows if row.pk is None]
    if new:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(new)],
        )
        for row, (pk,) in zip(new, cursor.fetchall(), strict=True):
            if pk is None:
                raise ValueError(f"{meta.db_table}: its key is not drawn from a sequence")
            row.pk = pk
    related = [f for f in fields if isinstance(f, models.ForeignKey)]
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    adapted = {f.attname for f in fields if isinstance(f, models.JSONField)}
    # A concrete field always has its column.
    columns = ", ".join(connection.ops.quote_name(cast(str, f.column)) for f in fields)
    with cursor.copy(
        f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
    ) as copy:
        for row in rows:
            for fk in related:
                # A parent given as an object that got its key after it was assigned.
                if getattr(row, fk.attname) is None and fk.is_cached(row):
                    parent = fk.get_cached_value(row)
                    if parent is not None:
                        if parent.pk is None:
                            raise ValueError(f"{meta.db_table}: a {fk.name} not saved yet")
                        setattr(row, fk.attname, parent.pk)
            for f in stamped:
                f.pre_save(row, add=True)
            copy.write_row(
                [
                    f.get_db_prep_save(getattr(row, f.attname), connection)
                    if f.attname in adapted
                    else getattr(row, f.attname)
                    for f in fields
                ]
            )
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


class DemoBuilder:
    def __init__(self, *, scale: Scale, seed: int = 2018, today: dt.date | None = None):
        self.scale = scale
        self.rng = random.Random(seed)
        self.today = today or timezone.localdate()
        self.password = make_password(DEMO_PASSWORD, salt="paritydemo")
        self._carry: dict[str, float] = {}
        self.now = timezone.now()
        self._stamps: dict[tuple[dt.date, int], dt.datetime] = {}

    def _chance(self, kind: str, p: float) -> bool:
        """Like rng.random() < p, but each kind of outcome comes out at its rate within one
        case even in a small sample, so the before/after figures read the same on every day
        the demo is built instead of wandering with a few dozen coin tosses."""
        carry = self._carry.get(kind)
        if carry is None:
            carry = self.rng.random()
        carry += p
        hit = carry >= 1
        self._carry[kind] = carry - 1 if hit else carry
        return hit

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
            if i == 0:
                name = SHOWCASE_ACCOUNT  # a healthcare account on Alex's, Tariq's and Dana's desks
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
        accounts = bulk_copy(accounts)
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
    def _lifecycle(self, e: Engagement, *, short: bool = False) -> list[tuple[str, dt.date]]:
        """Walk an engagement through its stages from its opening date; returns the path.
        A `short` one is a smaller piece of work, contracted for weeks rather than months."""
        rng, today = self.rng, self.today
        path: list[tuple[str, dt.date]] = [(Stage.DISCOVERY, e.opened_on)]
        proposal = e.opened_on + dt.timedelta(days=rng.randint(14, 80))
        # Pre-adoption history is what was proposed before adoption (Engagement.is_pre_adoption).
        pre = proposal < ADOPTION
        if rng.random() < 0.08:
            end = e.opened_on + dt.timedelta(days=rng.randint(10, 60))
            if end <= today:
                path.append((Stage.LOST, end))
            return path
        if proposal > today:
            return path
        path.append((Stage.PROPOSAL, proposal))
        win = self._chance(f"win-{pre}", 0.42 if pre else 0.61)
        decision = proposal + dt.timedelta(days=rng.randint(15, 70))
        if decision > today:
            return path
        if not win:
            path.append((Stage.LOST, decision))
            return path
        e.contracted_start = decision + dt.timedelta(days=rng.randint(7, 30))
        e.contracted_end = e.contracted_start + dt.timedelta(
            days=rng.randint(30, 120) if short else rng.randint(60, 330)
        )
        path.append((Stage.CONTRACTED, decision))
        if e.contracted_start > today:
            return path
        path.append((Stage.DELIVERY, e.contracted_start))
        if rng.random() < 0.04:
            cancelled = _day(rng, e.contracted_start, min(e.contracted_end, today))
            path.append((Stage.CANCELLED, cancelled))
            return path
        late = self._chance(f"late-{pre}", 0.46 if pre else 0.19)
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
            early = rng.random() < EARLY_SHARE
            # The early pieces of work are small as well as short.
            value = Decimal(rng.randrange(40_000, 400_000 if early else 1_800_000, 500))
            e = Engagement(
                external_id=f"CRM-E{i:07d}",
                account=account,
                name=f"{rng.choice(WORK)} {rng.choice(PHASES)}".strip(),
                commercial_lead=seats.get(TeamRole.ACCOUNT_MANAGER) or rng.choice(adopters),
                value=value,
                contracted_effort_days=(value / Decimal(1150)).quantize(Decimal("0.1")),
                partner_led=TeamRole.PARTNER_MANAGER in seats and rng.random() < 0.6,
                opened_on=_day(rng, HISTORY_START, EARLY_END if early else span_end),
            )
            path = self._lifecycle(e, short=early)
            if i == 0:
                path = self._showcase_lifecycle(e)
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
        engagements = bulk_copy(engagements)
        Through = Engagement.product_lines.through
        bulk_copy(
            [
                Through(engagement_id=e.pk, productline_id=line.pk)
                for e, picks in zip(engagements, line_picks, strict=True)
                for line in picks
            ]
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
        bulk_copy(changes)
        self.engagements = engagements
        self.paths = paths
        self.showcase = engagements[0]
        return len(engagements)

    def _showcase_lifecycle(self, e: Engagement) -> list[tuple[str, dt.date]]:
        """The showcase engagement: signed five weeks ago and started last week; its
        delivery (scope, milestones, success plan) is written by _delivery_showcase()."""
        today = self.today
        e.name = SHOWCASE_ENGAGEMENT
        e.value = Decimal(690_000)
        e.contracted_effort_days = Decimal("600.0")
        e.opened_on = today - dt.timedelta(days=160)
        e.contracted_start = today - dt.timedelta(days=9)
        e.contracted_end = today + dt.timedelta(days=200)
        return [
            (Stage.DISCOVERY, e.opened_on),
            (Stage.PROPOSAL, today - dt.timedelta(days=115)),
            (Stage.CONTRACTED, today - dt.timedelta(days=38)),
            (Stage.DELIVERY, e.contracted_start),
        ]

    # -- delivery ------------------------------------------------------------------------
    def build_delivery(self, accounts: list[Account], staff: dict[str, list[User]]) -> None:
        """Scope, scope changes, milestones with attendance, success plans, revenue and
        client ratings for the engagements, then the sellers' 1:1s."""
        self.account_names = {a.pk: a.name for a in accounts}
        self.industries = {a.pk: a.industry for a in accounts}
        self.names = {u.pk: str(u) for users in staff.values() for u in users}
        drifting = self._drifting()
        rows = _Rows()
        for first in range(0, len(self.engagements), DELIVERY_SLICE):
            for e in self.engagements[first : first + DELIVERY_SLICE]:
                self._delivery(e, drifting, rows)
            rows.flush()
        self._one_on_ones(staff, rows)
        self._delivery_showcase()

    def _at(self, day: dt.date, hour: int = 10) -> dt.datetime:
        """A moment on `day`, never later than now; cached, as rows share few days."""
        stamp = self._stamps.get((day, hour))
        if stamp is None:
            stamp = min(timezone.make_aware(dt.datetime.combine(day, dt.time(hour))), self.now)
            self._stamps[(day, hour)] = stamp
        return stamp

    def _drifting(self) -> set[int]:
        """The engagements whose scoping misses go beyond the tolerance. Completed ones are
        dealt out in order of completion, so any run of completions (one calendar year in
        the TCP impact view) drifts at about the same rate as the whole."""
        delivered = [
            e
            for e in self.engagements
            if e.stage in (Stage.DELIVERY, Stage.COMPLETED, Stage.CANCELLED)
            and e.pk != self.showcase.pk
        ]
        delivered.sort(key=lambda e: (e.stage, e.completed_on or e.opened_on, e.pk))
        drifting = set()
        for e in delivered:
            pre = e.is_pre_adoption(ADOPTION)
            if self._chance(f"drift-{pre}-{e.stage}", 0.39 if pre else 0.11):
                drifting.add(e.pk)
        return drifting

    def _delivery(self, e: Engagement, drifting: set[int], rows: _Rows) -> None:
        showcase = e.pk == self.showcase.pk
        work = self._scope(e, rows) if e.contracted_effort_days and not showcase else []
        if e.contract_signed_on is None:
            return
        pre = e.is_pre_adoption(ADOPTION)
        if not showcase:
            if e.stage in (Stage.DELIVERY, Stage.COMPLETED, Stage.CANCELLED):
                self._scope_changes(e, e.pk in drifting, rows)
            self._milestones(e, pre, work, rows)
            if e.stage != Stage.CANCELLED and self.rng.random() < (0.1 if pre else 0.8):
                self._success_plan(e, pre, rows)
        self._revenue(e, pre, rows)
        self._rating(e, pre, rows)

    def _scope(self, e: Engagement, rows: _Rows) -> list[str]:
        """Scope items whose estimates add up to the contracted effort; returns their titles."""
        rng = self.rng
        assert e.contracted_effort_days is not None
        titles = rng.sample(SCOPE_WORK, rng.randint(3, 6))
        parts = _split(_tenths(e.contracted_effort_days), [rng.uniform(1, 4) for _ in titles])
        created = self._at(e.proposal_on or e.opened_on)
        for title, tenths in zip(titles, parts, strict=True):
            rows.add(
                ScopeItem(
                    engagement=e, title=title, estimated_days=_days(tenths), created_at=created
                )
            )
        return titles

    def _scope_changes(self, e: Engagement, drifts: bool, rows: _Rows) -> None:
        rng = self.rng
        assert e.contracted_start is not None
        assert e.contracted_effort_days is not None
        start = e.contracted_start
        end = min(e.completed_on or e.cancelled_on or self.today, self.today)
        effort = _tenths(e.contracted_effort_days)
        approvers = [e.commercial_lead_id, e.delivery_manager_id or e.commercial_lead_id]
        changes: list[tuple[str, int]] = []
        if drifts:
            miss = math.ceil(effort * rng.uniform(0.12, 0.35))
        elif rng.random() < 0.35:
            miss = rng.randint(1, effort // 10)  # within the tolerance, its boundary included
        else:
            miss = 0
        if miss:
            count = min(rng.randint(1, 3), miss)
            for part in _split(miss, [rng.uniform(1, 3) for _ in range(count)]):
                # Now and then the miss was an overestimate: effort handed back.
                changes.append((ScopeCause.SCOPING_MISS, part if rng.random() < 0.85 else -part))
        for other, p, low, high in (
            (ScopeCause.CLIENT_REQUEST, 0.4, 0.03, 0.15),
            (ScopeCause.REGULATORY_CHANGE, 0.08, 0.02, 0.08),
            (ScopeCause.OTHER, 0.06, 0.01, 0.05),
        ):
            if rng.random() < p:
                days = max(1, round(effort * rng.uniform(low, high)))
                changes.append((other, days if rng.random() < 0.75 else -days))
        for cause, delta in changes:
            on = _day(rng, start, end)
            rows.add(
                ScopeChange(
                    engagement=e,
                    effort_delta_days=_days(delta),
                    cause=cause,
                    approved_by_id=rng.choice(approvers),
                    approved_on=on,
                    note=rng.choice(CHANGE_NOTES[cause]),
                    created_at=self._at(on, 16),
                )
            )

    def _milestones(self, e: Engagement, pre: bool, work: list[str], rows: _Rows) -> None:
        """The contract's milestone plan, held where the date has passed. A late engagement's
        milestones stretch with it; pre-adoption ones slip more on top."""
        rng, today = self.rng, self.today
        assert e.contracted_start
        assert e.contracted_end
        assert e.proposal_on
        start, end = e.contracted_start, e.contracted_end
        length = max((end - start).days, 1)
        finished, stopped = e.completed_on, e.cancelled_on
        stretch = (finished - start).days / length if finished else 1.0
        discovery = (e.proposal_on - e.opened_on).days
        plans: list[tuple[str, str, dt.date]] = [
            (
                MilestoneKind.DISCOVERY_WORKSHOP,
                "",
                e.opened_on + dt.timedelta(days=rng.randint(min(3, discovery), discovery)),
            ),
            (
                MilestoneKind.ARCHITECTURE_REVIEW,
                "",
                start + dt.timedelta(days=rng.randint(min(3, length), min(20, length))),
            ),
        ]
        builds = [t for t in work if t not in ("Project management", "Solution design")]
        builds = builds or ["First release"]
        count = min(rng.randint(1, 3), len(builds))
        for j, title in enumerate(builds[:count]):
            offset = round(length * (j + 1) / (count + 1)) + rng.randint(-5, 5)
            plans.append(
                (MilestoneKind.IMPLEMENTATION, title, start + dt.timedelta(days=max(offset, 1)))
            )
        plans.append(
            (MilestoneKind.GO_LIVE, "", max(start, end - dt.timedelta(rng.randint(0, 10))))
        )
        if length > 180:
            for offset in range(91, length - 20, 91):
                day = start + dt.timedelta(days=offset)
                plans.append((MilestoneKind.QBR, f"Quarterly business review {day:%b %Y}", day))
        created = self._at(e.contract_signed_on or start)
        for kind, title, planned in plans:
            if stopped and planned > stopped:
                continue
            held: dt.date | None
            if kind == MilestoneKind.DISCOVERY_WORKSHOP:
                held = planned
            elif kind == MilestoneKind.GO_LIVE:
                # Go-live is what ends the work: held only once the engagement completed.
                held = max(start, finished - dt.timedelta(rng.randint(0, 3))) if finished else None
            else:
                held = start + dt.timedelta(days=round((planned - start).days * stretch))
                if rng.random() < (0.5 if pre else 0.2):
                    held += dt.timedelta(days=rng.randint(1, 10 if pre else 5))
                elif rng.random() < 0.25:
                    held -= dt.timedelta(days=rng.randint(1, 2))
                held = max(held, start)
                if finished:
                    held = min(held, finished)
            if held and stopped:
                held = min(held, stopped)
            if held and held > today:
                held = None
            milestone = Milestone(
                engagement=e,
                kind=kind,
                title=title,
                planned_on=planned,
                held_on=held,
                critical=kind in CRITICAL_KINDS,
                created_at=(
                    self._at(e.opened_on) if kind == MilestoneKind.DISCOVERY_WORKSHOP else created
                ),
            )
            rows.add(milestone)
            if held:
                self._attendance(e, milestone, pre, rows)

    def _attendance(self, e: Engagement, milestone: Milestone, pre: bool, rows: _Rows) -> None:
        """A row for each of the team: commercial lead, delivery manager, technology seat."""
        assert milestone.held_on is not None
        tech = self.account_seats[e.account_id].get(TeamRole.TECHNOLOGY_MANAGER)
        seen: set[int] = set()
        for person, seat in (
            (e.commercial_lead_id, "lead"),
            (e.delivery_manager_id, "delivery"),
            (tech.pk if tech else None, "technology"),
        ):
            if person is None or person in seen:
                continue
            seen.add(person)
            mode, note = self._attendance_mode(milestone, seat, pre)
            rows.add(
                MilestoneAttendance(
                    milestone=milestone,
                    person_id=person,
                    mode=mode,
                    note=note,
                    recorded_by_id=e.delivery_manager_id,
                    recorded_at=self._at(milestone.held_on, 17),
                )
            )

    def _attendance_mode(self, milestone: Milestone, seat: str, pre: bool) -> tuple[str, str]:
        rng, kind = self.rng, milestone.kind
        if seat == "lead":
            if milestone.critical:
                contributed = self._chance(f"lead-{pre}", 0.40 if pre else 0.88)
            elif kind == MilestoneKind.DISCOVERY_WORKSHOP:
                contributed = rng.random() < 0.95
            else:
                contributed = rng.random() < (0.45 if pre else 0.8)
            if contributed:
                return AttendanceMode.CONTRIBUTED, rng.choice(LEAD_NOTES[kind])
            if rng.random() < 0.45:
                return AttendanceMode.OBSERVED, ""
            reason = rng.choice(ABSENT_LEAD_NOTES) if pre and rng.random() < 0.5 else ""
            return AttendanceMode.ABSENT, reason
        if seat == "delivery":
            if kind == MilestoneKind.DISCOVERY_WORKSHOP:  # before there is a delivery to run
                mode = AttendanceMode.OBSERVED if rng.random() < 0.4 else AttendanceMode.ABSENT
                return mode, ""
            if rng.random() < 0.9:
                return AttendanceMode.CONTRIBUTED, rng.choice(DELIVERY_NOTES)
            return AttendanceMode.OBSERVED, ""
        p = {
            MilestoneKind.DISCOVERY_WORKSHOP: 0.85,
            MilestoneKind.ARCHITECTURE_REVIEW: 0.85,
            MilestoneKind.IMPLEMENTATION: 0.6,
            MilestoneKind.GO_LIVE: 0.4,
        }.get(MilestoneKind(kind), 0.2)
        roll = rng.random()
        if roll < p:
            return AttendanceMode.CONTRIBUTED, rng.choice(TECHNOLOGY_NOTES)
        if roll < p + (1 - p) * 0.6:
            return AttendanceMode.OBSERVED, ""
        return AttendanceMode.ABSENT, ""

    def _success_plan(self, e: Engagement, pre: bool, rows: _Rows) -> None:
        rng, today = self.rng, self.today
        assert e.contracted_start
        assert e.contracted_end
        assert e.contract_signed_on
        start, end, finished = e.contracted_start, e.contracted_end, e.completed_on
        industry = self.industries[e.account_id]
        created = self._at(e.contract_signed_on)
        plan = SuccessPlan(engagement=e, business_outcome=OUTCOMES[industry], created_at=created)
        rows.add(plan)
        ours = e.delivery_manager_id or e.commercial_lead_id
        owners = [self.names[ours], *CLIENT_OWNERS]
        length = (end - start).days
        steps = rng.sample(ADOPTION_STEPS, rng.randint(2, 4))
        for j, description in enumerate(steps):
            due = start + dt.timedelta(days=round((length + 60) * (j + 1) / len(steps)))
            done = None
            if due <= today and rng.random() < (0.7 if pre else 0.9):
                late = rng.randint(-10, 12 if pre else 5)
                done = min(today, max(start, due + dt.timedelta(days=late)))
            rows.add(
                AdoptionStep(
                    plan=plan,
                    description=description,
                    owner=rng.choice(owners),
                    due_on=due,
                    done_on=done,
                    created_at=created,
                )
            )
        # Readings about once a quarter, from the start until three months after the end.
        last = min(today, (finished or end) + dt.timedelta(days=90))
        for name, unit, base, goal in rng.sample(METRICS[industry], rng.randint(1, 3)):
            scale = 1.0 if unit == "%" else rng.uniform(0.8, 1.2)
            baseline = Decimal(base * scale).quantize(Decimal("0.1"))
            target = Decimal(goal * scale).quantize(Decimal("0.1"))
            metric = SuccessMetric(
                plan=plan,
                name=name,
                unit=unit,
                baseline=baseline,
                target=target,
                created_at=created,
            )
            rows.add(metric)
            reach = rng.uniform(0.55, 0.95) if pre else rng.uniform(0.8, 1.1)
            day = start
            while day <= last:
                progress = reach * min(1.0, (day - start).days / (length + 90))
                if day > start:
                    progress += rng.uniform(-0.04, 0.04)
                value = max(Decimal(0), baseline + (target - baseline) * Decimal(progress))
                if unit == "%":
                    value = min(value, Decimal(100))
                rows.add(
                    MetricReading(
                        metric=metric, on=day, value=value.quantize(CENT), recorded_by_id=ours
                    )
                )
                day += dt.timedelta(days=rng.randint(80, 100))
        if start > today:
            return
        for kind, texts in ACTIVITIES.items():
            for _ in range(rng.randint(1, 2)):
                rows.add(
                    PostSaleActivity(
                        plan=plan,
                        kind=kind,
                        on=_day(rng, start, last),
                        description=rng.choice(texts),
                        by_id=rng.choice([e.commercial_lead_id, ours]),
                    )
                )

    def _revenue(self, e: Engagement, pre: bool, rows: _Rows) -> None:
        """The value recognised month by month from the start to the actual end (or today):
        all of it once completed; while running or when cancelled, at the contracted rate,
        slowed down once the work runs past its contracted end."""
        if e.stage not in (Stage.DELIVERY, Stage.COMPLETED, Stage.CANCELLED):
            return
        rng = self.rng
        assert e.contracted_start
        assert e.contracted_end
        months = _months(e.contracted_start, e.completed_on or e.cancelled_on or self.today)
        if e.stage == Stage.COMPLETED:
            per_month = (e.value / len(months)).quantize(CENT, rounding=ROUND_DOWN)
        else:
            planned = len(_months(e.contracted_start, e.contracted_end))
            per_month = (e.value / max(planned, len(months) + 1)).quantize(CENT, ROUND_DOWN)
        # Post-adoption work is scoped better, so less of the revenue goes on cost.
        cost_share = rng.uniform(0.74, 0.86) if pre else rng.uniform(0.58, 0.70)
        recognised = Decimal(0)
        for j, month in enumerate(months):
            last = e.stage == Stage.COMPLETED and j == len(months) - 1
            revenue = e.value - recognised if last else per_month
            recognised += revenue
            cost = revenue * Decimal(cost_share + rng.uniform(-0.03, 0.03))
            rows.add(
                RevenueEntry(
                    engagement=e,
                    month=month,
                    revenue=revenue,
                    cost=cost.quantize(CENT),
                    created_at=self._at(month),
                )
            )

    def _rating(self, e: Engagement, pre: bool, rows: _Rows) -> None:
        """Most clients rate a completed engagement within a month. We rate ourselves about
        8; before the TCP model clients saw it about three points lower, after about one."""
        rng = self.rng
        if e.stage != Stage.COMPLETED or rng.random() < 0.1:
            return
        assert e.completed_on is not None
        rated = e.completed_on + dt.timedelta(days=rng.randint(5, 30))
        if rated > self.today:
            return
        own = rng.choice([7, 8, 8, 8, 9])
        gap = rng.choice([2, 3, 3, 3, 4]) if pre else rng.choice([0, 1, 1, 1, 2])
        client = max(1, own - gap)
        rows.add(
            ClientRating(
                engagement=e,
                rated_on=rated,
                self_rating=own,
                client_rating=client,
                recommend_score=min(10, max(0, client + rng.randint(-1, 2))),
                created_at=self._at(rated),
            )
        )

    # -- 1:1s ----------------------------------------------------------------------------
    def _one_on_ones(self, staff: dict[str, list[User]], rows: _Rows) -> None:
        """Each seller's 1:1s with their manager: every two or three weeks over the last
        year, every five to ten weeks before. Every seventh seller is currently overdue."""
        rng, today = self.rng, self.today
        sellers = sorted(
            {u.pk: u for role in SELLER_ROLES for u in staff[role]}.values(), key=lambda u: u.pk
        )
        # Who discusses which engagements: its lead and the account's technology and
        # partner seats.
        works_on: dict[int, list[int]] = {}
        for index, e in enumerate(self.engagements):
            seats = self.account_seats.get(e.account_id, {})
            people = {e.commercial_lead_id}
            for role in (TeamRole.TECHNOLOGY_MANAGER, TeamRole.PARTNER_MANAGER):
                if role in seats:
                    people.add(seats[role].pk)
            for person in people:
                works_on.setdefault(person, []).append(index)
        year_ago = today - dt.timedelta(days=365)
        for n, seller in enumerate(sellers):
            if seller.manager_id is None:
                continue
            mine = sorted(works_on.get(seller.pk, []), key=lambda i: self.engagements[i].opened_on)
            opened = [self.engagements[i].opened_on for i in mine]
            overdue = n % 7 == 6
            day = today - dt.timedelta(days=rng.randint(16, 40) if overdue else rng.randint(1, 12))
            dates = []
            while day >= HISTORY_START:
                dates.append(day)
                gap = rng.randint(14, 21) if day > year_ago else rng.randint(35, 70)
                day -= dt.timedelta(days=gap)
            for held in reversed(dates):
                self._one_on_one(seller, held, mine, opened, rows)
            if n % 25 == 24:
                rows.flush()
        rows.flush()

    def _one_on_one(
        self, seller: User, held: dt.date, mine: list[int], opened: list[dt.date], rows: _Rows
    ) -> None:
        rng, today = self.rng, self.today
        assert seller.manager_id is not None
        meeting = OneOnOne(
            manager_id=seller.manager_id,
            seller_id=seller.pk,
            held_on=held,
            created_at=self._at(held, 15),
        )
        rows.add(meeting)
        # What was on the seller's desk that day: the most recently opened engagements not
        # closed more than a month before.
        cut = bisect_right(opened, held)
        recent = [
            i
            for i in mine[max(0, cut - 40) : cut]
            if (closed := self._closed_on(self.engagements[i])) is None
            or closed >= held - dt.timedelta(days=30)
        ]
        discussed = rng.sample(recent, min(len(recent), rng.randint(1, 3)))
        # How warm each account feels: warmer where we won, cooler before the TCP model.
        warmth: dict[int, list[int]] = {}
        for i in discussed:
            e = self.engagements[i]
            stage = self._stage_on(i, held)
            rows.add(
                OneOnOneOpportunity(
                    meeting=meeting,
                    engagement=e,
                    stage=stage,
                    technical_win=self._technical_win(stage),
                    note=rng.choice(OPPORTUNITY_NOTES),
                )
            )
            weights = [1, 3, 5, 3] if stage in WON_STAGES else [2, 4, 4, 1]
            if held < ADOPTION:
                weights = [weights[0] + 2, weights[1] + 2, weights[2], weights[3]]
            warmth.setdefault(e.account_id, weights)
        for account_id, weights in list(warmth.items())[:2]:
            temperature = rng.choices(list(Temperature), weights=weights)[0]
            rows.add(
                AccountTemperature(
                    meeting=meeting,
                    account_id=account_id,
                    temperature=temperature,
                    note=TEMPERATURE_NOTES[temperature] if rng.random() < 0.5 else "",
                )
            )
        for _ in range(rng.randint(1, 2)):
            if discussed and rng.random() < 0.75:
                e = self.engagements[rng.choice(discussed)]
                text = rng.choice(NEXT_STEPS).format(
                    account=self.account_names[e.account_id], engagement=e.name
                )
            else:
                text = rng.choice(SELF_STEPS)
            due = held + dt.timedelta(days=rng.randint(7, 21))
            done = None
            if due <= today and rng.random() < 0.85:
                done = min(today, held + dt.timedelta(days=rng.randint(2, (due - held).days + 5)))
            rows.add(NextStep(meeting=meeting, description=text, due_on=due, done_on=done))
        if discussed and rng.random() < 0.25:
            account = self.account_names[self.engagements[rng.choice(discussed)].account_id]
            meeting.future_opportunities = rng.choice(FUTURE_IDEAS).format(account=account)
        if rng.random() < 0.06:
            rows.add(CareerNote(meeting=meeting, text=rng.choice(CAREER_NOTES)))

    @staticmethod
    def _closed_on(e: Engagement) -> dt.date | None:
        return e.lost_on or e.completed_on or e.cancelled_on

    def _stage_on(self, index: int, day: dt.date) -> str:
        path = self.paths[index]
        stage = path[0][0]
        for later, on in path[1:]:
            if on > day:
                break
            stage = later
        return stage

    def _technical_win(self, stage: str) -> bool | None:
        """Yes, no or not yet known, as the seller judged it at the time."""
        roll = self.rng.random()
        if stage == Stage.DISCOVERY:
            return None if roll < 0.7 else roll < 0.9
        if stage == Stage.PROPOSAL:
            return True if roll < 0.5 else (None if roll < 0.8 else False)
        if stage in WON_STAGES:
            return roll < 0.9 or None
        return False if roll < 0.55 else None

    # -- the delivery showcase ------------------------------------------------------------
    def _delivery_showcase(self) -> None:
        """Dana's next architecture review, on an engagement Alex leads: the scope as
        contracted, the discovery workshop held, the rest of the plan ahead."""
        e, today = self.showcase, self.today
        days = dt.timedelta
        seats = self.account_seats[e.account_id]
        alex, dana = e.commercial_lead_id, e.delivery_manager_id
        tariq = seats[TeamRole.TECHNOLOGY_MANAGER].pk
        assert dana is not None
        assert e.contracted_start
        assert e.contracted_end
        assert e.proposal_on
        signed = self._at(e.contract_signed_on or e.proposal_on)
        ScopeItem.objects.bulk_create(
            [
                ScopeItem(engagement=e, title=title, estimated_days=Decimal(effort), note=note)
                for title, effort, note in [
                    ("Theatre list data model and migration", 140, "Five years of lists."),
                    ("Integration with the patient administration system", 160, ""),
                    ("Scheduling rules and clinician views", 150, ""),
                    ("Testing with two pilot hospitals", 90, ""),
                    ("Training and hypercare", 60, "Schedulers, theatre managers, surgeons."),
                ]
            ]
        )
        ScopeChange.objects.create(
            engagement=e,
            effort_delta_days=Decimal(8),
            cause=ScopeCause.CLIENT_REQUEST,
            approved_by_id=dana,
            approved_on=today - days(2),
            note="The trauma unit asked for a weekend view of the emergency lists.",
        )
        workshop, _review, *_ = Milestone.objects.bulk_create(
            [
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.DISCOVERY_WORKSHOP,
                    title="Theatre managers' workshop",
                    planned_on=e.opened_on + days(14),
                    held_on=e.opened_on + days(14),
                    created_at=self._at(e.opened_on),
                ),
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.ARCHITECTURE_REVIEW,
                    title="Architecture review: bookings from the patient administration system",
                    planned_on=today + days(6),
                    critical=True,
                    note="Decide between nightly batches and live messages for theatre bookings.",
                    created_at=signed,
                ),
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.IMPLEMENTATION,
                    title="First pilot hospital on the new lists",
                    planned_on=today + days(70),
                    created_at=signed,
                ),
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.QBR,
                    title="First quarterly business review",
                    planned_on=today + days(85),
                    created_at=signed,
                ),
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.IMPLEMENTATION,
                    title="All hospitals migrated",
                    planned_on=today + days(150),
                    created_at=signed,
                ),
                Milestone(
                    engagement=e,
                    kind=MilestoneKind.GO_LIVE,
                    planned_on=e.contracted_end - days(5),
                    critical=True,
                    created_at=signed,
                ),
            ]
        )
        assert workshop.held_on is not None
        recorded = self._at(workshop.held_on, 17)
        MilestoneAttendance.objects.bulk_create(
            [
                MilestoneAttendance(
                    milestone=workshop,
                    person_id=alex,
                    mode=AttendanceMode.CONTRIBUTED,
                    note="Asked what a cancelled list costs: about £40,000 in lost theatre time.",
                    recorded_by_id=dana,
                    recorded_at=recorded,
                ),
                MilestoneAttendance(
                    milestone=workshop,
                    person_id=tariq,
                    mode=AttendanceMode.CONTRIBUTED,
                    note="Sketched how bookings reach the theatre lists today.",
                    recorded_by_id=dana,
                    recorded_at=recorded,
                ),
                MilestoneAttendance(
                    milestone=workshop,
                    person_id=dana,
                    mode=AttendanceMode.OBSERVED,
                    recorded_by_id=dana,
                    recorded_at=recorded,
                ),
            ]
        )
        plan = SuccessPlan.objects.create(
            engagement=e,
            business_outcome="Fewer operations cancelled on the day: theatre lists settled a "
            "week ahead and filled to capacity.",
            created_at=signed,
        )
        AdoptionStep.objects.bulk_create(
            [
                AdoptionStep(
                    plan=plan,
                    description="Name a theatre scheduling lead at each hospital",
                    owner="Director of Surgical Services",
                    due_on=today + days(20),
                ),
                AdoptionStep(
                    plan=plan,
                    description="Train the pilot hospital's schedulers",
                    owner=self.names[dana],
                    due_on=today + days(60),
                ),
                AdoptionStep(
                    plan=plan,
                    description="Retire the spreadsheet lists at every hospital",
                    owner="Client's Head of IT",
                    due_on=today + days(160),
                ),
            ]
        )
        cancelled, utilisation = SuccessMetric.objects.bulk_create(
            [
                SuccessMetric(
                    plan=plan,
                    name="Operations cancelled on the day",
                    unit="%",
                    baseline=Decimal("9.5"),
                    target=Decimal("4.0"),
                ),
                SuccessMetric(
                    plan=plan,
                    name="Theatre time used",
                    unit="%",
                    baseline=Decimal(71),
                    target=Decimal(85),
                ),
            ]
        )
        MetricReading.objects.bulk_create(
            [
                MetricReading(
                    metric=metric, on=e.contracted_start, value=metric.baseline, recorded_by_id=dana
                )
                for metric in (cancelled, utilisation)
            ]
        )
        PostSaleActivity.objects.create(
            plan=plan,
            kind=ActivityKind.INFORMATION,
            on=e.contracted_start + days(1),
            description="Sent the sponsor the delivery plan and the measures we agreed.",
            by_id=alex,
        )

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
        self.build_delivery(accounts, staff)
        for step in DEMO_STEPS:
            step(self, accounts, self.engagements)
        return {"staff": User.objects.count(), "accounts": len(accounts), "engagements": count}
