"""The rollup's fast path: every KPI for many periods at once, in a few grouped statements.

kpis.py defines each KPI for one period; that definition is the reference (the TCP impact
view and the engagements behind a figure use it). Recomputing some 170 periods times six
breakdowns that way costs thousands of queries, so the rollup computes each family of KPIs
for all the requested periods in one or two grouped statements into a temporary table:

- figures counted on a date inside the period (completions, wins, revenue...) are first
  summed per month, once for the organisation and every breakdown; a month, quarter or
  year then adds up its months (sc_months maps each month to the requested periods
  containing it), so each source row is read and grouped once, not once per kind of
  period. Where a figure is not a plain sum of its months (accounts with revenue, an
  engagement won and lost in one period) the monthly rows say which kinds of period they
  count in;
- figures measured at the period's last day E (backlog, pipeline, retention, certification)
  are running totals of monthly changes taken at the end of each month, and a quarter or
  year takes the figure of its last month, whose E is the same day. The monthly changes of
  the backlog and the open pipeline are kept (StockMonth) and regrouped only for the months
  of changed days (settle_stock_months), so a change does not re-read all history.

The statements are assembled from fragments written in this file, never from input (hence
the file-wide S608 exemption); every value travels as a parameter.
tests/scorecard/test_fast_path.py holds the two paths to the same rows. The temporary table
`sc_computed` holds (kpi, period, dimension, value, numerator, denominator); write() derives
the value and merges the rows into the snapshots.
"""

# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.db import connection

from scorecard import kpis
from scorecard.kpis import Context
from scorecard.periods import Period, add_months

STOCK = frozenset(
    {
        "backlog",
        "pipeline_growth",
        "client_retention",
        "certification_coverage",
        "certification_on_track",
        "certification_overdue",
    }
)

# The KPIs counted on a date inside the period, by the step computing them: a step runs
# only when some period wants one of its KPIs. The engagement's trigger (migration 0005)
# names the KPIs each of its columns feeds; a KPI reading another column must be added
# there too (tests/scorecard/test_fast_path.py edits each column and compares).
FAMILIES: dict[str, frozenset[str]] = {
    "completions": frozenset({"deal_scope_accuracy", "timeline_adherence"}),
    "closed": frozenset(
        {
            "win_rate",
            "win_rate_value",
            "win_rate_partner",
            "win_rate_direct",
            "poc_conversion",
            "cross_portfolio",
            "losses",
        }
    ),
    "poc": frozenset({"poc_success"}),
    "participation": frozenset({"delivery_participation"}),
    "discovery": frozenset({"discovery_compliance"}),
    "ratings": frozenset({"delivery_gap", "client_satisfaction", "nps"}),
    "revenue": frozenset({"revenue", "profit", "revenue_per_account"}),
}

# The kinds of period from the finest; a monthly row counts in the periods of the kinds
# ranked below its `upto` (see _closed).
RANKS = {"month": 1, "quarter": 2, "year": 3}
ALWAYS = 4

# The organisation and each breakdown in one pass. The account's fields and the lead are
# never NULL, so in each grouping set exactly one of them is set (none for the total).
_SETS = {
    "all": ["src.industry", "src.region", "src.segment", "src.lead_id"],
    "account_and_lead": ["src.industry", "src.region", "src.segment", "src.lead_id"],
    "account": ["src.industry", "src.region", "src.segment"],
}
_NAMES = {
    "src.industry": "industry",
    "src.region": "region",
    "src.segment": "segment",
    "src.lead_id": "commercial_lead",
}


def _breakdowns(keys: list[str], aggregates: str, dims: str) -> str:
    """SQL over the rows `b` (the source with its month and account fields): `keys`, the
    dimension and its value, and `aggregates`, for the organisation and every breakdown.
    The product-line breakdown joins each row once per line of its engagement, as the
    reference does."""
    columns = _SETS[dims]
    key_sql = ", ".join(keys)
    sets = ", ".join([f"({key_sql})", *(f"({key_sql}, {column})" for column in columns)])
    name = "CASE " + " ".join(
        f"WHEN GROUPING({column}) = 0 THEN '{_NAMES[column]}'" for column in columns
    )
    value = "coalesce(" + ", ".join(f"{column}::text" for column in columns) + ", '')"
    main = f"""
        SELECT {key_sql}, {name} ELSE '' END AS dimension, {value} AS dim_value, {aggregates}
        FROM b AS src
        GROUP BY GROUPING SETS ({sets})"""
    if dims != "all":
        return main
    return f"""{main}
        UNION ALL
        SELECT {key_sql}, 'product_line', pl.productline_id::text, {aggregates}
        FROM b AS src
        JOIN engagements_engagement_product_lines pl ON pl.engagement_id = src.eng
        GROUP BY {key_sql}, pl.productline_id"""


def _insert(grouped: str, rows: dict[str, tuple[str, str, str]], params: dict[str, Any]) -> None:
    """Store each KPI of a family: {key: (numerator, denominator, present)} over the
    columns of `grouped` (kind, start, dimension, dim_value and the family's figures). A
    breakdown row exists when `present` holds (the reference groups only the rows it has);
    the organisation's row always exists (filled in later)."""
    values = ", ".join(
        f"('{key}', ({num})::numeric, ({den})::numeric, {present})"
        for key, (num, den, present) in rows.items()
    )
    sql = f"""
        INSERT INTO sc_computed
        SELECT v.kpi, g.kind, g.start, g.dimension, g.dim_value, v.num, v.den
        FROM ({grouped}) AS g
        CROSS JOIN LATERAL (VALUES {values}) AS v(kpi, num, den, present)
        WHERE v.present OR g.dimension = ''"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _family(
    src: str,
    figures: dict[str, str],
    rows: dict[str, tuple[str, str, str]],
    params: dict[str, Any],
    *,
    upto: str = "",
) -> None:
    """One family of KPIs counted on a date inside the period. `src` yields a row per
    event (columns eng, account_id, lead_id, day, ...); `figures` are {name: aggregate}
    over those rows (seen as src), summed per month and breakdown, then per period; `rows`
    are the KPIs over the period's figures (seen as g, see _insert). With `upto` (an
    expression of the row), a row counts only in the kinds of period ranked below it; the
    figures named "always_*" count in every kind whatever `upto` says."""
    monthly = ", ".join(f"{aggregate} AS {name}" for name, aggregate in figures.items())
    rolled = ", ".join(
        f"coalesce(sum(x.{name}), 0) AS {name}"
        if name.startswith("always_")
        else f"coalesce(sum(x.{name}) FILTER (WHERE x.upto > p.rank), 0) AS {name}"
        for name in figures
    )
    body = _breakdowns(["src.m", "src.upto"], monthly, "all")
    grouped = f"""
        WITH b AS MATERIALIZED (
            SELECT src.*, {upto or ALWAYS} AS upto, acc.industry, acc.region, acc.segment
            FROM (
                SELECT src.*, date_trunc('month', src.day::timestamp)::date AS m
                FROM ({src}) AS src
            ) AS src
            JOIN engagements_account acc ON acc.id = src.account_id
        )
        SELECT p.kind, p.start, x.dimension, x.dim_value, {rolled}
        FROM ({body}) AS x
        JOIN sc_months p ON p.m = x.m
        GROUP BY p.kind, p.start, x.dimension, x.dim_value"""
    _insert(grouped, rows, params)


# For the transaction: the grouped statements sort and hash a few hundred thousand rows in
# memory, and are too short for compiling them to pay.
_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '128MB'"


def _ensure_tables(work: dict[Period, set[str] | None]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_SETTINGS)
        cursor.execute(
            """
            DROP TABLE IF EXISTS sc_periods, sc_months, sc_scope, sc_computed, sc_cum;
            CREATE TEMP TABLE sc_periods (
                kind text, start date, "end" date, end_month date, start_month date,
                events boolean
            ) ON COMMIT DROP;
            CREATE TEMP TABLE sc_months (m date, kind text, start date, rank int)
                ON COMMIT DROP;
            CREATE TEMP TABLE sc_scope (kind text, start date, kpi text) ON COMMIT DROP;
            CREATE TEMP TABLE sc_computed (
                kpi text, kind text, start date, dimension text, dim_value text,
                numerator numeric, denominator numeric
            ) ON COMMIT DROP;
            CREATE TEMP TABLE sc_cum (
                part text, dimension text, dim_value text, m date, a numeric, b numeric
            ) ON COMMIT DROP;
            """
        )
        rows = []
        months: list[tuple[dt.date, str, dt.date, int]] = []
        scope: list[tuple[str, dt.date, str]] = []
        for period, keys in work.items():
            wanted = [kpi.key for kpi in kpis.KPIS] if keys is None else sorted(keys)
            events = any(key not in STOCK for key in wanted)
            end_month = period.end.replace(day=1)
            rows.append((period.kind, period.start, period.end, end_month, period.start, events))
            scope.extend((period.kind, period.start, key) for key in wanted)
            if events:
                months.extend(
                    (add_months(period.start, i), period.kind, period.start, RANKS[period.kind])
                    for i in range(period.months)
                )
        cursor.executemany("INSERT INTO sc_periods VALUES (%s, %s, %s, %s, %s, %s)", rows)
        cursor.executemany("INSERT INTO sc_months VALUES (%s, %s, %s, %s)", months)
        _copy("sc_scope (kind, start, kpi)", scope)
        cursor.execute("ANALYZE sc_periods; ANALYZE sc_months; ANALYZE sc_scope")


# Figures counted on a date inside the period -------------------------------------------


def _completed(params: dict[str, Any]) -> None:
    src = """
        SELECT e.id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
            e.completed_on AS day,
            coalesce(sm.days, 0) <= e.contracted_effort_days * %(tolerance)s / 100 AS scope_ok,
            e.completed_on <= e.contracted_end + %(grace)s AS on_time
        FROM engagements_engagement e
        LEFT JOIN LATERAL (
            SELECT sum(abs(effort_delta_days)) AS days FROM engagements_scopechange
            WHERE engagement_id = e.id AND cause = 'scoping_miss'
        ) sm ON true
        WHERE e.completed_on BETWEEN %(events_first)s AND %(events_last)s"""
    _family(
        src,
        {
            "n": "count(*)",
            "accurate": "count(*) FILTER (WHERE src.scope_ok)",
            "on_time": "count(*) FILTER (WHERE src.on_time)",
        },
        {
            "deal_scope_accuracy": ("g.accurate", "g.n", "g.n > 0"),
            "timeline_adherence": ("g.on_time", "g.n", "g.n > 0"),
        },
        params,
    )


def _closed(params: dict[str, Any]) -> None:
    # One row per engagement and day it closed on: its signing day, and its losing day,
    # which counts only in the periods not also holding its signing day (won and lost in P
    # counts once, as in the reference's "signed in P or lost in P"): its `upto` is the
    # rank of the finest kind of period holding both days. Lost in P is every losing day
    # in P either way.
    src = """
        SELECT e.id AS eng, e.account_id, e.commercial_lead_id AS lead_id, d.day, d.second,
            e.contract_signed_on AS signed, e.value, e.partner_led, e.poc,
            -- Counted for the rows kept only, not for every engagement.
            (
                SELECT count(*) FROM engagements_engagement_product_lines pl
                WHERE pl.engagement_id = e.id
            ) AS lines
        FROM engagements_engagement e
        CROSS JOIN LATERAL (
            VALUES (e.contract_signed_on, false), (e.lost_on, true)
        ) AS d(day, second)
        WHERE d.day BETWEEN %(events_first)s AND %(events_last)s"""
    same = " ".join(
        f"WHEN date_trunc('{kind}', src.signed::timestamp)"
        f" = date_trunc('{kind}', src.day::timestamp) THEN {rank}"
        for kind, rank in RANKS.items()
    )
    upto = f"CASE WHEN NOT src.second OR src.signed IS NULL THEN {ALWAYS} {same} ELSE {ALWAYS} END"
    won = "NOT src.second"
    _family(
        src,
        {
            "n": "count(*)",
            "won": f"count(*) FILTER (WHERE {won})",
            "value": "sum(src.value)",
            "value_won": f"sum(src.value) FILTER (WHERE {won})",
            "partner": "count(*) FILTER (WHERE src.partner_led)",
            "partner_won": f"count(*) FILTER (WHERE src.partner_led AND {won})",
            "direct": "count(*) FILTER (WHERE NOT src.partner_led)",
            "direct_won": f"count(*) FILTER (WHERE NOT src.partner_led AND {won})",
            "poc": "count(*) FILTER (WHERE src.poc = 'successful')",
            "poc_won": f"count(*) FILTER (WHERE src.poc = 'successful' AND {won})",
            "cross_won": f"count(*) FILTER (WHERE {won} AND src.lines >= 2)",
            "always_lost": "count(*) FILTER (WHERE src.second)",
            "always_value_lost": "sum(src.value) FILTER (WHERE src.second)",
        },
        {
            "win_rate": ("g.won", "g.n", "g.n > 0"),
            "win_rate_value": ("g.value_won", "g.value", "g.n > 0"),
            "win_rate_partner": ("g.partner_won", "g.partner", "g.partner > 0"),
            "win_rate_direct": ("g.direct_won", "g.direct", "g.direct > 0"),
            "poc_conversion": ("g.poc_won", "g.poc", "g.poc > 0"),
            "cross_portfolio": ("g.cross_won", "g.won", "g.won > 0"),
            "losses": ("g.always_value_lost", "g.always_lost", "g.always_lost > 0"),
        },
        params,
        upto=upto,
    )


def _poc(params: dict[str, Any]) -> None:
    src = """
        SELECT e.id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
            e.poc_concluded_on AS day, e.poc = 'successful' AS success
        FROM engagements_engagement e
        WHERE e.poc_concluded_on BETWEEN %(events_first)s AND %(events_last)s
            AND e.poc IN ('successful', 'failed')"""
    _family(
        src,
        {"n": "count(*)", "success": "count(*) FILTER (WHERE src.success)"},
        {"poc_success": ("g.success", "g.n", "g.n > 0")},
        params,
    )


def _participation(params: dict[str, Any]) -> None:
    src = """
        SELECT m.engagement_id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
            m.held_on AS day, a.hit IS NOT NULL AS contributed
        FROM engagements_milestone m
        JOIN engagements_engagement e ON e.id = m.engagement_id
        -- Looked up per milestone kept (one row at most: attendance_once); a join or an
        -- EXISTS is planned as a pass over every attendance row, which LIMIT prevents.
        LEFT JOIN LATERAL (
            SELECT 1 AS hit FROM engagements_milestoneattendance a
            WHERE a.milestone_id = m.id AND a.person_id = e.commercial_lead_id
            AND a.mode = 'contributed'
            LIMIT 1
        ) a ON true
        WHERE m.critical AND m.held_on BETWEEN %(events_first)s AND %(events_last)s"""
    _family(
        src,
        {"n": "count(*)", "contributed": "count(*) FILTER (WHERE src.contributed)"},
        {"delivery_participation": ("g.contributed", "g.n", "g.n > 0")},
        params,
    )


def _discovery(params: dict[str, Any]) -> None:
    src = """
        SELECT s.engagement_id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
            s."on" AS day,
            EXISTS (
                SELECT 1 FROM discovery_failurecostanalysis f
                WHERE f.engagement_id = s.engagement_id AND f.completed_at IS NOT NULL
            ) AS analysed
        FROM engagements_stagechange s
        JOIN engagements_engagement e ON e.id = s.engagement_id
        WHERE s.to_stage = 'proposal' AND s."on" >= %(adoption)s
            AND s."on" BETWEEN %(events_first)s AND %(events_last)s"""
    _family(
        src,
        {"n": "count(*)", "analysed": "count(*) FILTER (WHERE src.analysed)"},
        {"discovery_compliance": ("g.analysed", "g.n", "g.n > 0")},
        params,
    )


def _ratings(params: dict[str, Any]) -> None:
    src = """
        SELECT r.engagement_id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
            r.rated_on AS day, r.self_rating, r.client_rating, r.recommend_score
        FROM engagements_clientrating r
        JOIN engagements_engagement e ON e.id = r.engagement_id
        WHERE r.rated_on BETWEEN %(events_first)s AND %(events_last)s"""
    _family(
        src,
        {
            "n": "count(*)",
            "gap": "sum(src.self_rating - src.client_rating)",
            "rating": "sum(src.client_rating)",
            "answers": "count(src.recommend_score)",
            "nps": "count(*) FILTER (WHERE src.recommend_score >= 9)"
            " - count(*) FILTER (WHERE src.recommend_score <= 6)",
        },
        {
            "delivery_gap": ("g.gap", "g.n", "g.n > 0"),
            "client_satisfaction": ("g.rating", "g.n", "g.n > 0"),
            "nps": ("g.nps", "g.answers", "g.answers > 0"),
        },
        params,
    )


def _firsts(prefix: str, partition: str) -> str:
    """SQL: whether the revenue row (in a window ordered by month) is the first of its
    `partition` (the account, or the account with a lead or product line) in its month, its
    quarter and its year: `prefix`_m, _q and _y. Counting the firsts counts the accounts
    with revenue in a period, a sum over its months like any other figure."""
    before = f"lag(r.m) OVER (PARTITION BY {partition} ORDER BY r.m)"
    return ", ".join(
        f"{before} IS NULL OR date_trunc('{kind}', ({before})::timestamp)"
        f" <> date_trunc('{kind}', r.m::timestamp) AS {prefix}_{kind[0]}"
        for kind in RANKS
    )


def _revenue(params: dict[str, Any], ctx: Context, wanted: bool) -> None:
    # Revenue months are first days (a check constraint), their own month. Accounts with
    # revenue are counted once per period and breakdown, as the firsts of the account
    # (for the organisation and the account's fields), of the lead and account, and of the
    # product line and account.
    firsts = ", ".join(
        f"sum(src.{prefix}_{kind[0]}::int) AS {prefix}_{kind[0]}"
        for prefix in ("acc", "lead")
        for kind in RANKS
    )
    sums = "count(*) AS n, sum(src.revenue) AS revenue, sum(src.revenue - src.cost) AS profit"
    line_firsts = ", ".join(f"sum(src.line_{kind[0]}::int)" for kind in RANKS)
    line_firsts = f"{line_firsts}, {line_firsts}"  # in the account's and the lead's columns
    # A period counts the firsts of its kind; the lead's breakdown counts the lead's.
    accounts = " ".join(
        f"WHEN p.rank = {rank} THEN CASE WHEN x.dimension = 'commercial_lead'"
        f" THEN x.lead_{kind[0]} ELSE x.acc_{kind[0]} END"
        for kind, rank in RANKS.items()
    )
    body = _breakdowns(["src.m"], f"{sums}, {firsts}", "account_and_lead")
    sql = f"""
        CREATE TEMP TABLE sc_revenue ON COMMIT DROP AS
        WITH r AS MATERIALIZED (
            SELECT r.engagement_id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
                r.month AS m, r.revenue, r.cost, acc.industry, acc.region, acc.segment
            FROM engagements_revenueentry r
            JOIN engagements_engagement e ON e.id = r.engagement_id
            JOIN engagements_account acc ON acc.id = e.account_id
            WHERE r.month BETWEEN %(events_first)s AND %(events_last)s
        ),
        b AS (
            SELECT r.*, {_firsts("acc", "r.account_id")},
                {_firsts("lead", "r.lead_id, r.account_id")}
            FROM r
        )
        SELECT p.kind, p.start, x.dimension, x.dim_value, sum(x.n) AS n,
            sum(x.revenue) AS revenue, sum(x.profit) AS profit,
            sum(CASE {accounts} END) AS accounts
        FROM (
            {body}
            UNION ALL
            SELECT src.m, 'product_line', src.line::text, {sums}, {line_firsts}
            FROM (
                SELECT r.*, pl.productline_id AS line,
                    {_firsts("line", "pl.productline_id, r.account_id")}
                FROM r JOIN engagements_engagement_product_lines pl ON pl.engagement_id = r.eng
            ) AS src
            GROUP BY src.m, src.line
        ) AS x
        JOIN sc_months p ON p.m = x.m
        GROUP BY p.kind, p.start, x.dimension, x.dim_value"""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sc_revenue")
        cursor.execute(sql, params)
    _insert(
        "SELECT * FROM sc_revenue",
        {
            "revenue": ("coalesce(g.revenue, 0)", "g.n", "g.n > 0"),
            "profit": ("coalesce(g.profit, 0)", "g.n", "g.n > 0"),
        },
        params,
    )
    if not wanted:
        return
    # Revenue per account divides by the baseline scaled to the period's length: that
    # arithmetic stays in Python, on the few grouped rows, so it is the reference's own.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, start, dimension, dim_value, revenue, accounts FROM sc_revenue"
        )
        rows = cursor.fetchall()
    base = _baseline_per_account(ctx.baseline)
    out = []
    for kind, start, dimension, dim_value, revenue, accounts in rows:
        if not accounts:
            continue
        months = Period.of(kind, start).months
        scale = Decimal(months) / ctx.baseline.months
        now = Decimal(revenue) / accounts
        then = base[dimension].get(dim_value, kpis.ZERO) * scale
        out.append(
            ("revenue_per_account", kind, start, dimension, dim_value, kpis._d(now), kpis._d(then))
        )
    _copy("sc_computed (kpi, kind, start, dimension, dim_value, numerator, denominator)", out)


def _baseline_per_account(baseline: Period) -> dict[str, dict[str, Decimal]]:
    """kpis._per_account() of the baseline window for the organisation ("") and every
    breakdown of revenue per account, {dimension: {value: revenue / accounts}}, in one
    grouped statement rather than one query per breakdown."""
    body = _breakdowns(
        ["src.k"], "sum(src.revenue) AS revenue, count(DISTINCT src.account_id) AS accounts", "all"
    )
    sql = f"""
        WITH b AS MATERIALIZED (
            SELECT 0 AS k, r.engagement_id AS eng, e.account_id,
                e.commercial_lead_id AS lead_id, r.revenue, acc.industry, acc.region,
                acc.segment
            FROM engagements_revenueentry r
            JOIN engagements_engagement e ON e.id = r.engagement_id
            JOIN engagements_account acc ON acc.id = e.account_id
            WHERE r.month BETWEEN %(start)s AND %(end)s
        )
        SELECT x.dimension, x.dim_value, x.revenue, x.accounts FROM ({body}) AS x"""
    base: dict[str, dict[str, Decimal]] = {
        "": {},
        **{dimension: {} for dimension in kpis.REGISTRY["revenue_per_account"].dimensions},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": baseline.start, "end": baseline.end})
        for dimension, dim_value, revenue, accounts in cursor.fetchall():
            if accounts:
                base[dimension][dim_value] = Decimal(revenue) / accounts
    return base


def _copy(table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# Figures measured at the period's last day ----------------------------------------------


# The running totals kept month by month in StockMonth, each {part: (changes, dims)}: the
# changes are rows of eng, account_id, lead_id, day (a month), a and b, from the rows that
# `{scope}` keeps (an SQL condition on the engagement, or on the signed one for the backlog).

# An engagement is under contract at the end of month m from the month it was signed to the
# month before it was completed or cancelled; what is left is its value less the revenue
# recognised up to m, never below zero. As running totals: its value (and one engagement)
# from its first month, each revenue entry's change to what is left from the entry's month
# (an entry before signing from the first month), and all of it undone in the month it
# stopped. Entries from that month on never count. Every change falls on a date of the
# engagement or of one of its revenue entries, all of which their triggers queue when
# either changes (migration 0004).
_BACKLOG = """
    WITH e AS (
        SELECT e.id, e.account_id, e.commercial_lead_id AS lead_id, e.value,
            date_trunc('month', e.contract_signed_on::timestamp)::date AS s,
            date_trunc('month', least(e.completed_on, e.cancelled_on)::timestamp)::date
                AS t
        FROM engagements_engagement e
        WHERE e.contract_signed_on IS NOT NULL
    ),
    live AS (SELECT * FROM e WHERE (t IS NULL OR t > s) AND {scope}),
    entries AS (
        SELECT r.engagement_id, r.month,
            greatest(live.value - r.total, 0)
                - greatest(live.value - r.total + r.revenue, 0) AS change
        FROM (
            SELECT r.engagement_id, r.month, r.revenue,
                sum(r.revenue) OVER (PARTITION BY r.engagement_id ORDER BY r.month) AS total
            FROM engagements_revenueentry r
            JOIN live ON live.id = r.engagement_id
            WHERE live.t IS NULL OR r.month < live.t
        ) r
        JOIN live ON live.id = r.engagement_id
    )
    SELECT live.id AS eng, live.account_id, live.lead_id, d.day, d.a, d.b
    FROM live
    LEFT JOIN (
        SELECT engagement_id, sum(change) AS change FROM entries GROUP BY engagement_id
    ) left_over ON left_over.engagement_id = live.id
    CROSS JOIN LATERAL (
        VALUES (live.s, live.value, 1),
            (live.t, -(live.value + coalesce(left_over.change, 0)), -1)
    ) AS d(day, a, b)
    WHERE d.day IS NOT NULL
    UNION ALL
    SELECT live.id, live.account_id, live.lead_id, greatest(entries.month, live.s),
        entries.change, 0
    FROM entries JOIN live ON live.id = entries.engagement_id"""
_BACKLOG_SCOPE = """(s = ANY(%(months)s) OR t = ANY(%(months)s) OR id IN (
    SELECT engagement_id FROM engagements_revenueentry WHERE month = ANY(%(months)s)))"""

# Open at the end of month m: opened by then, and not yet won, lost or cancelled. Each
# engagement adds its value in the month it opened and takes it away in the month it closed
# (never before it opened); b counts the engagements opened so far.
_PIPELINE = """
    SELECT e.id AS eng, e.account_id, e.commercial_lead_id AS lead_id,
        date_trunc('month', e.opened_on::timestamp)::date AS day, e.value AS a, 1 AS b
    FROM engagements_engagement e
    WHERE {scope}
    UNION ALL
    SELECT e.id, e.account_id, e.commercial_lead_id,
        greatest(
            date_trunc('month', least(e.contract_signed_on, e.lost_on, e.cancelled_on)::timestamp),
            date_trunc('month', e.opened_on::timestamp)
        )::date,
        -e.value, 0
    FROM engagements_engagement e
    WHERE least(e.contract_signed_on, e.lost_on, e.cancelled_on) IS NOT NULL AND {scope}"""
_PIPELINE_SCOPE = """(
    date_trunc('month', e.opened_on::timestamp)::date = ANY(%(months)s)
    OR date_trunc('month', least(e.contract_signed_on, e.lost_on, e.cancelled_on)::timestamp)::date
        = ANY(%(months)s))"""

STOCK_MONTHS = {"backlog": (_BACKLOG, _BACKLOG_SCOPE), "pipeline": (_PIPELINE, _PIPELINE_SCOPE)}


def settle_stock_months(months: Iterable[dt.date] | None) -> None:
    """Regroup StockMonth for the months of `months` (any day of them), or for all history
    when None. A month's rows are a function of the rows dated in it, so regrouping the
    months of every changed day brings the table up to date."""
    firsts = None if months is None else sorted({day.replace(day=1) for day in months})
    if firsts == []:
        return
    params = {"months": firsts}
    body = _breakdowns(["src.day"], "sum(src.a) AS a, sum(src.b) AS b", "all")
    with connection.cursor() as cursor:
        cursor.execute(_SETTINGS)
        for part, (changes, scope) in STOCK_MONTHS.items():
            if firsts is None:
                cursor.execute("DELETE FROM scorecard_stockmonth WHERE part = %s", [part])
                rows, within = changes.format(scope="true"), ""
            else:
                cursor.execute(
                    "DELETE FROM scorecard_stockmonth WHERE part = %s AND month = ANY(%s)",
                    [part, firsts],
                )
                rows, within = changes.format(scope=scope), "AND d.day = ANY(%(months)s)"
            cursor.execute(
                f"""
                INSERT INTO scorecard_stockmonth
                    (part, month, dimension, dimension_value, amount, count)
                WITH b AS MATERIALIZED (
                    SELECT d.eng, d.lead_id, d.day, d.a, d.b,
                        acc.industry, acc.region, acc.segment
                    FROM ({rows}) AS d
                    JOIN engagements_account acc ON acc.id = d.account_id
                    WHERE d.day IS NOT NULL {within}
                )
                SELECT %(part)s, g.day, g.dimension, g.dim_value, g.a, g.b FROM ({body}) AS g""",
                {**params, "part": part},
            )


def _backlog(params: dict[str, Any]) -> None:
    _stored("backlog", params)
    _at_month_ends("backlog", "backlog")


def _stored(part: str, params: dict[str, Any]) -> None:
    """sc_cum for `part` from StockMonth (kept up to date by settle_stock_months); the
    months before the grid count at its first month."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sc_delta")
        cursor.execute(
            """
            CREATE TEMP TABLE sc_delta ON COMMIT DROP AS
            SELECT greatest(month, %(grid_first)s) AS m, dimension,
                dimension_value::text AS dim_value, sum(amount) AS a, sum(count) AS b
            FROM scorecard_stockmonth
            WHERE part = %(part)s AND month <= %(grid_last)s
            GROUP BY 1, 2, 3""",
            {**params, "part": part},
        )
    _dense(part, params)


def _running(part: str, deltas: str, dims: str, params: dict[str, Any]) -> None:
    """Store in sc_cum the running totals (a, b) of `deltas` (rows of eng, account_id,
    lead_id, day = a month, a, b) per breakdown value at the end of every month of the grid,
    from all history. Changes before the grid count at its first month."""
    body = _breakdowns(["src.day"], "sum(src.a) AS a, sum(src.b) AS b", dims)
    grouped = f"""
        WITH b AS MATERIALIZED (
            SELECT d.eng, d.lead_id, greatest(d.day, %(grid_first)s) AS day, d.a, d.b,
                acc.industry, acc.region, acc.segment
            FROM ({deltas}) AS d
            JOIN engagements_account acc ON acc.id = d.account_id
            WHERE d.day <= %(grid_last)s
        )
        SELECT g.day AS m, g.dimension, g.dim_value, g.a, g.b FROM ({body}) AS g"""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sc_delta")
        cursor.execute(f"CREATE TEMP TABLE sc_delta ON COMMIT DROP AS {grouped}", params)
    _dense(part, params)


def _dense(part: str, params: dict[str, Any]) -> None:
    """sc_cum for `part`: the running totals of sc_delta (m, dimension, dim_value, a, b)
    per breakdown value at the end of every month of the grid."""
    # The changes are in a table of their own: the planner then knows their size and
    # joins them to the grid of months by hashing.
    dense = """
        INSERT INTO sc_cum
        WITH groups AS (SELECT DISTINCT dimension, dim_value FROM sc_delta),
        months AS (
            SELECT generate_series(%(grid_first)s, %(grid_last)s, interval '1 month')::date
                AS m
        )
        SELECT %(part)s, groups.dimension, groups.dim_value, months.m,
            sum(coalesce(d.a, 0)) OVER w, sum(coalesce(d.b, 0)) OVER w
        FROM groups CROSS JOIN months
        LEFT JOIN sc_delta d ON d.dimension = groups.dimension
            AND d.dim_value = groups.dim_value AND d.m = months.m
        WINDOW w AS (PARTITION BY groups.dimension, groups.dim_value ORDER BY months.m)"""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sc_delta")
        cursor.execute(dense, {**params, "part": part})
        cursor.execute("ANALYZE sc_cum")


def _at_month_ends(part: str, kpi: str) -> None:
    """Store `kpi` as the running totals (a over b) of `part` at each period's end; a
    breakdown row exists where b counts something."""
    sql = f"""
        INSERT INTO sc_computed
        SELECT '{kpi}', p.kind, p.start, c.dimension, c.dim_value, c.a, c.b
        FROM sc_periods p
        JOIN sc_cum c ON c.part = '{part}' AND c.m = p.end_month
        WHERE c.b > 0 OR c.dimension = ''"""
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _pipeline(params: dict[str, Any]) -> None:
    _stored("pipeline", params)
    sql = """
        INSERT INTO sc_computed
        SELECT 'pipeline_growth', p.kind, p.start, c.dimension, c.dim_value,
            c.a - coalesce(s.a, 0), coalesce(s.a, 0)
        FROM sc_periods p
        JOIN sc_cum c ON c.part = 'pipeline' AND c.m = p.end_month
        LEFT JOIN sc_cum s ON s.part = 'pipeline' AND s.dimension = c.dimension
            AND s.dim_value = c.dim_value AND s.m = (p.start_month - interval '1 month')::date
        WHERE c.b > 0 OR c.dimension = ''"""
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _retention(params: dict[str, Any]) -> None:
    # An engagement keeps its account active at the end of month m when it was signed by
    # then and stopped (completed or cancelled) no earlier than the start of the twelve
    # months ending then: up to 11 months after the month it stopped, or 12 when that
    # month's window reaches back to the stop day (29 February). The windows are the
    # reference's own day arithmetic: PostgreSQL's "- interval '1 year'" turns 29 February
    # into 28 February, as _years_before() does. Overlapping spans of one account merge,
    # and each span counts from the month the account is tenured (first contract three
    # years before E).
    deltas = """
        WITH spans AS (
            SELECT e.account_id,
                date_trunc('month', e.contract_signed_on::timestamp)::date AS s,
                CASE WHEN least(e.completed_on, e.cancelled_on) IS NULL THEN %(grid_last)s
                ELSE (
                    date_trunc('month', least(e.completed_on, e.cancelled_on)::timestamp)
                    + CASE WHEN (
                        date_trunc('month', least(e.completed_on, e.cancelled_on)::timestamp)
                        + interval '13 months' - interval '1 day' - interval '1 year'
                    )::date + 1 <= least(e.completed_on, e.cancelled_on)
                    THEN interval '12 months' ELSE interval '11 months' END
                )::date END AS l
            FROM engagements_engagement e
            WHERE e.contract_signed_on IS NOT NULL
        ),
        tenure AS (
            SELECT account_id, first,
                (date_trunc('month', first::timestamp) + CASE WHEN (
                    date_trunc('month', first::timestamp) + interval '37 months'
                    - interval '1 day' - interval '3 years'
                )::date >= first THEN interval '36 months' ELSE interval '37 months' END
                )::date AS t
            FROM (
                SELECT account_id, min(contract_signed_on) AS first
                FROM engagements_engagement WHERE contract_signed_on IS NOT NULL
                GROUP BY account_id
            ) f
        ),
        ordered AS (
            SELECT account_id, s, l,
                max(l) OVER (
                    PARTITION BY account_id ORDER BY s, l
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ) AS reach
            FROM spans WHERE l >= s
        ),
        numbered AS (
            SELECT account_id, s, l,
                sum(CASE WHEN reach IS NULL OR s > reach THEN 1 ELSE 0 END) OVER (
                    PARTITION BY account_id ORDER BY s, l ROWS UNBOUNDED PRECEDING
                ) AS island
            FROM ordered
        ),
        islands AS (
            SELECT n.account_id, greatest(min(n.s), t.t) AS s, max(n.l) AS l
            FROM numbered n JOIN tenure t ON t.account_id = n.account_id
            GROUP BY n.account_id, n.island, t.t
        )
        SELECT NULL::bigint AS eng, account_id, NULL::bigint AS lead_id, s AS day, 1 AS a,
            0 AS b
        FROM islands WHERE s <= l
        UNION ALL
        SELECT NULL, account_id, NULL, (l + interval '1 month')::date, -1, 0
        FROM islands WHERE s <= l
        UNION ALL
        SELECT NULL, account_id, NULL, t, 0, 1 FROM tenure"""
    _running("retention", deltas, "account", params)
    _at_month_ends("retention", "client_retention")


def _coverage() -> None:
    # certification_coverage() for every month end at once: the same standing, in the same
    # order (certified wins, then overdue, then behind a module's month), per enrolment
    # running at E.
    sql = """
        INSERT INTO sc_computed
        SELECT v.kpi, p.kind, p.start, '', '', v.num, c.staff
        FROM sc_periods p
        JOIN (
            SELECT ends.e, count(x.id) AS staff,
                count(*) FILTER (WHERE x.standing = 'certified') AS certified,
                count(*) FILTER (WHERE x.standing = 'on_track') AS on_track,
                count(*) FILTER (WHERE x.standing = 'overdue') AS overdue
            FROM (SELECT DISTINCT "end" AS e FROM sc_periods) ends
            LEFT JOIN LATERAL (
                SELECT en.id, CASE
                    WHEN en.certified_on <= ends.e THEN 'certified'
                    WHEN en.due_on < ends.e THEN 'overdue'
                    WHEN EXISTS (
                        SELECT 1 FROM certification_module m
                        WHERE m.curriculum_id = en.curriculum_id
                        AND CAST(en.started_on + make_interval(months => m.month) AS date)
                            < ends.e
                        AND NOT EXISTS (
                            SELECT 1 FROM certification_moduleresult r
                            WHERE r.enrollment_id = en.id AND r.module_id = m.id
                            AND r.passed AND r.assessed_on <= ends.e
                        )
                    ) THEN 'behind'
                    ELSE 'on_track' END AS standing
                FROM certification_enrollment en
                WHERE en.started_on <= ends.e
                AND (en.closed_on IS NULL OR en.closed_on > ends.e)
            ) x ON true
            GROUP BY ends.e
        ) c ON c.e = p."end"
        CROSS JOIN LATERAL (
            VALUES ('certification_coverage', c.certified),
                ('certification_on_track', c.on_track),
                ('certification_overdue', c.overdue)
        ) AS v(kpi, num)"""
    with connection.cursor() as cursor:
        cursor.execute(sql)


# Putting it together ----------------------------------------------------------------------


# The steps of a full recompute, for an administrator's progress bar (writing is one more).
STEPS = 11


def compute(
    work: dict[Period, set[str] | None],
    ctx: Context,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Fill sc_computed with the figures of every KPI in `work` ({period: KPI keys, None
    for all}) and sc_scope with the (period, KPI) pairs they replace. Must run inside a
    transaction (the temporary tables go at commit). `progress` hears each step's name."""
    _ensure_tables(work)
    wanted: set[str] = set()
    for keys in work.values():
        wanted |= {kpi.key for kpi in kpis.KPIS} if keys is None else set(keys)
    periods = list(work)
    last_end = max(p.end for p in periods).replace(day=1)
    params = {
        "tolerance": ctx.tolerance_pct,
        "grace": ctx.grace_days,
        "adoption": ctx.adoption_date,
        "first_end": min(p.end for p in periods).replace(day=1),
        "last_end": last_end,
        # Pipeline growth also needs the month before the earliest start.
        "grid_first": add_months(min(p.start for p in periods), -1),
        "grid_last": last_end,
    }
    events = [p for p, keys in work.items() if keys is None or keys - STOCK]
    if events:
        # Rows dated outside every period that needs them are left out before any join.
        params["events_first"] = min(p.start for p in events)
        params["events_last"] = max(p.end for p in events)
    coverage = {"certification_coverage", "certification_on_track", "certification_overdue"}

    def family(name: str) -> bool:
        return bool(wanted & FAMILIES[name])

    steps: list[tuple[str, bool, Callable[[], None]]] = [
        ("completions", family("completions"), lambda: _completed(params)),
        ("wins and losses", family("closed"), lambda: _closed(params)),
        ("proofs of concept", family("poc"), lambda: _poc(params)),
        ("delivery participation", family("participation"), lambda: _participation(params)),
        ("discovery", family("discovery"), lambda: _discovery(params)),
        ("client ratings", family("ratings"), lambda: _ratings(params)),
        (
            "revenue",
            family("revenue"),
            lambda: _revenue(params, ctx, "revenue_per_account" in wanted),
        ),
        ("backlog", "backlog" in wanted, lambda: _backlog(params)),
        ("pipeline", "pipeline_growth" in wanted, lambda: _pipeline(params)),
        ("retention", "client_retention" in wanted, lambda: _retention(params)),
        ("certification", bool(wanted & coverage), _coverage),
    ]
    assert len(steps) == STEPS
    for name, needed, run in steps:
        if needed:
            run()
        if progress is not None:
            progress(name)
    _fill_totals()


def _fill_totals() -> None:
    """The organisation's row of every KPI in every period, zero over zero where nothing
    was counted (the reference's aggregate always returns one row), except revenue per
    account, which has no figure without revenue."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sc_computed
            SELECT s.kpi, s.kind, s.start, '', '', 0, 0
            FROM sc_scope s
            WHERE s.kpi <> 'revenue_per_account'
            AND NOT EXISTS (
                SELECT 1 FROM sc_computed c
                WHERE c.kpi = s.kpi AND c.kind = s.kind AND c.start = s.start
                AND c.dimension = ''
            )"""
        )


# Python's Decimal.quantize rounds half to even; PostgreSQL's round() rounds half away from
# zero. A tie (100 / 128 = 0.78125) must come out as the reference's 0.7812.
_HALF_EVEN = """CASE WHEN abs({x} * 10000 - trunc({x} * 10000)) = 0.5
    AND mod(trunc({x} * 10000), 2) = 0 THEN trunc({x} * 10000) / 10000
    ELSE round({x}, 4) END"""


ANALYZE_AFTER = 10_000


def write(now: dt.datetime) -> int:
    """Replace the snapshots of the (period, KPI) pairs in sc_scope with sc_computed: rows
    no longer computed go, new or changed ones are written with `now`, unchanged ones are
    left as they were (running twice writes nothing). Returns the rows written or removed.

    One full join of the computed rows with the stored ones finds the difference; the
    value (a function of numerator, denominator and the KPI's unit) is derived only for
    the rows written, as Kpi.value does: money is its numerator, no denominator is no data,
    a percentage or score is per hundred; 24 decimals before rounding keep the quotient
    exact to well past the fourth place."""
    allowed = [(kpi.key, d) for kpi in kpis.KPIS for d in ("", *kpi.dimensions)]
    units = [(kpi.key, kpi.unit) for kpi in kpis.KPIS]
    ratio = _HALF_EVEN.format(x="d.ratio")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DROP TABLE IF EXISTS sc_diff;
            CREATE TEMP TABLE sc_diff ON COMMIT DROP AS
            WITH f AS (
                SELECT c.kpi, c.kind, c.start, c.dimension, c.dim_value,
                    c.numerator::numeric(20, 4) AS numerator,
                    c.denominator::numeric(20, 4) AS denominator
                FROM sc_computed c
                JOIN sc_scope s ON s.kpi = c.kpi AND s.kind = c.kind AND s.start = c.start
                JOIN unnest(%s::text[], %s::text[]) AS a(kpi, dimension)
                    ON a.kpi = c.kpi AND a.dimension = c.dimension
            ),
            stored AS (
                SELECT s.id, s.kpi::text AS kpi, s.period_type::text AS kind,
                    s.period_start AS start, s.dimension::text AS dimension,
                    s.dimension_value::text AS dim_value, s.numerator, s.denominator
                FROM scorecard_kpisnapshot s
                JOIN sc_scope sc ON s.kpi = sc.kpi AND s.period_type = sc.kind
                    AND s.period_start = sc.start
            )
            SELECT stored.id, f.*
            FROM f FULL JOIN stored USING (kpi, kind, start, dimension, dim_value)
            WHERE stored.id IS NULL OR f.numerator IS NULL
                OR (f.numerator, f.denominator)
                    IS DISTINCT FROM (stored.numerator, stored.denominator)
            """,
            [[k for k, _ in allowed], [d for _, d in allowed]],
        )
        cursor.execute(
            "DELETE FROM scorecard_kpisnapshot WHERE id IN "
            "(SELECT id FROM sc_diff WHERE numerator IS NULL)"
        )
        removed = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO scorecard_kpisnapshot (kpi, period_type, period_start, dimension,
                dimension_value, numerator, denominator, value, computed_at)
            SELECT d.kpi, d.kind, d.start, d.dimension, d.dim_value, d.numerator,
                d.denominator,
                (CASE WHEN d.unit = 'money' THEN d.numerator ELSE {ratio} END)::numeric(20, 4),
                %s
            FROM (
                SELECT x.*, u.unit,
                    CASE WHEN x.denominator = 0 THEN NULL
                    WHEN u.unit IN ('percent', 'score')
                        THEN (x.numerator * 100)::numeric(60, 24) / x.denominator
                    ELSE x.numerator::numeric(60, 24) / x.denominator END AS ratio
                FROM sc_diff x
                JOIN unnest(%s::text[], %s::text[]) AS u(kpi, unit) ON u.kpi = x.kpi
                WHERE x.numerator IS NOT NULL
            ) d
            ORDER BY d.kpi, d.kind, d.start, d.dimension, d.dim_value
            ON CONFLICT (kpi, period_type, period_start, dimension, dimension_value)
            DO UPDATE SET numerator = EXCLUDED.numerator, denominator = EXCLUDED.denominator,
                value = EXCLUDED.value, computed_at = EXCLUDED.computed_at""",
            [now, [k for k, _ in units], [u for _, u in units]],
        )
        written = removed + cursor.rowcount
        if written > ANALYZE_AFTER:
            # Fresh statistics, or the next run plans its join against a table it believes
            # empty (a nested loop over half a million rows).
            cursor.execute("ANALYZE scorecard_kpisnapshot")
        return written
