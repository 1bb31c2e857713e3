import importlib

import django.contrib.postgres.fields
from django.db import migrations, models

changes = importlib.import_module("scorecard.migrations.0003_input_changes")
stock_months = importlib.import_module("scorecard.migrations.0004_stock_months")

OWN = changes.ENGAGEMENT_DATES
PAIRS = "FROM changed_new n JOIN changed_old o ON o.id = n.id"
MOVED = "(n.account_id, n.commercial_lead_id) IS DISTINCT FROM (o.account_id, o.commercial_lead_id)"

# What an edit of an engagement that stays with its account and lead moves: for each group
# of columns, the KPIs they feed and the dates those count them on (old and new). Every KPI
# measured at a period's end is recomputed after the earliest day queued, whatever its KPIs.
GROUPS = (
    (
        ("completed_on", "contracted_effort_days", "contracted_end"),
        ("completed_on",),
        ("deal_scope_accuracy", "timeline_adherence"),
    ),
    (
        ("value", "partner_led", "poc", "contract_signed_on", "lost_on"),
        ("contract_signed_on", "lost_on"),
        (
            "win_rate",
            "win_rate_value",
            "win_rate_partner",
            "win_rate_direct",
            "poc_conversion",
            "cross_portfolio",
            "losses",
        ),
    ),
    (("poc", "poc_concluded_on"), ("poc_concluded_on",), ("poc_success",)),
    (
        ("value", "opened_on", "contract_signed_on", "completed_on", "lost_on", "cancelled_on"),
        ("opened_on", "contract_signed_on", "completed_on", "lost_on", "cancelled_on"),
        ("backlog", "pipeline_growth", "client_retention"),
    ),
)
# The backlog also changes in the months of the engagement's revenue entries (what is left
# to recognise and its cap at the contract's value): see scorecard.models.StockMonth.
BACKLOG_COLUMNS = ("value", "contract_signed_on", "completed_on", "cancelled_on")


def _changed(columns: tuple[str, ...]) -> str:
    new = ", ".join(f"n.{c}" for c in columns)
    old = ", ".join(f"o.{c}" for c in columns)
    return f"NOT {MOVED} AND ({new}) IS DISTINCT FROM ({old})"


def _keys(kpis: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{k}'" for k in kpis) + "]"


_EDITED = " UNION ALL ".join(
    [
        f"SELECT unnest(ARRAY[{', '.join(f'{s}.{c}' for c in days for s in 'on')}]) AS d, "
        f"{_keys(kpis)} AS kpis {PAIRS} WHERE {_changed(columns)}"
        for columns, days, kpis in GROUPS
    ]
    + [
        f"SELECT r.month, {_keys(('backlog',))} {PAIRS} "
        f"JOIN engagements_revenueentry r ON r.engagement_id = n.id "
        f"WHERE {_changed(BACKLOG_COLUMNS)}"
    ]
)

ENGAGEMENT = f"""
CREATE OR REPLACE FUNCTION scorecard_engagements_engagement_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({changes.OWN_DATES.format(rows="changed_new")}) days (d)
        WHERE d IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({changes.OWN_DATES.format(rows="changed_old")}) days (d)
        WHERE d IS NOT NULL;
    ELSE
        -- Moved to another account or lead: every date it has, old and new, every KPI.
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM (
            SELECT scorecard_engagement_days(array_agg(n.id)) {PAIRS} WHERE {MOVED}
            UNION ALL
            SELECT unnest(ARRAY[{OWN.format(e="o")}]) {PAIRS} WHERE {MOVED}
        ) days (d) WHERE d IS NOT NULL;
        INSERT INTO scorecard_inputchange (day, kpis)
        SELECT DISTINCT d, kpis FROM ({_EDITED}) days (d, kpis) WHERE d IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
"""
ENGAGEMENT_BEFORE = changes.function(
    "engagements_engagement", changes.SOURCES["engagements_engagement"]
).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)

# A revenue entry: every KPI in its own month; the backlog in the months its engagement's
# backlog changes in (signed, ended, and its other entries).
BACKLOG_DAYS = """
    SELECT unnest(ARRAY[e.contract_signed_on, e.completed_on, e.cancelled_on])
    FROM engagements_engagement e WHERE e.id IN (SELECT engagement_id FROM {rows})
    UNION ALL
    SELECT r.month FROM engagements_revenueentry r
    WHERE r.engagement_id IN (SELECT engagement_id FROM {rows})"""


def _revenue_rows(rows: str) -> str:
    return f"""
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT t.month FROM {rows} t;
        INSERT INTO scorecard_inputchange (day, kpis)
        SELECT DISTINCT d, ARRAY['backlog'] FROM ({BACKLOG_DAYS.format(rows=rows)}) days (d)
        WHERE d IS NOT NULL;"""


REVENUE = f"""
CREATE OR REPLACE FUNCTION scorecard_engagements_revenueentry_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {_revenue_rows("changed_new")}
    ELSIF TG_OP = 'DELETE' THEN {_revenue_rows("changed_old")}
    ELSE {_revenue_rows("changed_new")} {_revenue_rows("changed_old")}
    END IF;
    RETURN NULL;
END $$;
"""
REVENUE_BEFORE = stock_months.replace(stock_months.REVENUE_DAYS)


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0004_stock_months"),
    ]

    operations = [
        migrations.AddField(
            model_name="inputchange",
            name="kpis",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=40), null=True, size=None
            ),
        ),
        migrations.RunSQL(ENGAGEMENT + REVENUE, ENGAGEMENT_BEFORE + REVENUE_BEFORE),
    ]
