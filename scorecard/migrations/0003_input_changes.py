from typing import NamedTuple

from django.db import migrations, models

# The dates each table's rows put into the KPIs, as a query over `{rows}` (a statement's
# transition table of new or old rows). A row's old dates count as much as its new ones: an
# engagement completed in March and moved to June changes both months.
ENGAGEMENT_DATES = (
    "{e}.opened_on, {e}.proposal_on, {e}.contract_signed_on, {e}.completed_on, {e}.lost_on, "
    "{e}.cancelled_on, {e}.poc_concluded_on"
)
# Every date an engagement's figures fall on: its own and those of the rows grouped by its
# account, lead and product lines (milestones, revenue, ratings, stage changes), for a
# change that moves them all from one breakdown to another.
EVERY_DATE = f"""
CREATE FUNCTION scorecard_engagement_days(ids bigint[]) RETURNS SETOF date
LANGUAGE sql STABLE AS $$
    SELECT unnest(ARRAY[{ENGAGEMENT_DATES.format(e="e")}])
        FROM engagements_engagement e WHERE e.id = ANY(ids)
    UNION ALL SELECT r.month FROM engagements_revenueentry r WHERE r.engagement_id = ANY(ids)
    UNION ALL SELECT c.rated_on FROM engagements_clientrating c WHERE c.engagement_id = ANY(ids)
    UNION ALL SELECT m.held_on FROM engagements_milestone m WHERE m.engagement_id = ANY(ids)
    UNION ALL SELECT s."on" FROM engagements_stagechange s WHERE s.engagement_id = ANY(ids)
$$;
"""
EVERY_DATE_DROP = "DROP FUNCTION scorecard_engagement_days(bigint[]);\n"


class Source(NamedTuple):
    """How a table's rows reach the KPIs: `days`, the dates a set of its rows moves, and
    `watched`, the columns an update must change to move anything (None: any column)."""

    days: str
    watched: tuple[str, ...] | None = None


OWN_DATES = f"SELECT unnest(ARRAY[{ENGAGEMENT_DATES.format(e='t')}]) FROM {{rows}} t"
SOURCES = {
    # A new or removed engagement moves its own dates (its other rows queue theirs); an
    # edit of what it is counted as moves every date it has, in case it changed breakdown.
    "engagements_engagement": Source(
        OWN_DATES,
        watched=(
            "account_id",
            "commercial_lead_id",
            "stage",
            "value",
            "contracted_effort_days",
            "partner_led",
            "poc",
            "poc_concluded_on",
            "opened_on",
            "proposal_on",
            "contract_signed_on",
            "contracted_start",
            "contracted_end",
            "completed_on",
            "lost_on",
            "cancelled_on",
        ),
    ),
    "engagements_engagement_product_lines": Source(
        "SELECT scorecard_engagement_days(array_agg(DISTINCT t.engagement_id)) FROM {rows} t"
    ),
    "engagements_scopechange": Source(
        "SELECT e.completed_on FROM {rows} t "
        "JOIN engagements_engagement e ON e.id = t.engagement_id"
    ),
    "engagements_milestone": Source(
        "SELECT t.held_on FROM {rows} t", watched=("engagement_id", "held_on", "critical")
    ),
    "engagements_milestoneattendance": Source(
        "SELECT m.held_on FROM {rows} t JOIN engagements_milestone m ON m.id = t.milestone_id",
        watched=("milestone_id", "person_id", "mode"),
    ),
    "engagements_revenueentry": Source("SELECT t.month FROM {rows} t"),
    "engagements_clientrating": Source("SELECT t.rated_on FROM {rows} t"),
    "engagements_stagechange": Source('SELECT t."on" FROM {rows} t'),
    # An interview completed or reopened moves the discovery figure of the proposals.
    "discovery_failurecostanalysis": Source(
        'SELECT s."on" FROM {rows} t '
        "JOIN engagements_stagechange s ON s.engagement_id = t.engagement_id "
        "AND s.to_stage = 'proposal'",
        watched=("engagement_id", "completed_at"),
    ),
    # The daily status marks leave the dates alone, and so queue nothing.
    "certification_enrollment": Source(
        "SELECT unnest(ARRAY[t.started_on, t.due_on, t.certified_on, t.closed_on]) FROM {rows} t",
        watched=("person_id", "curriculum_id", "started_on", "due_on", "certified_on", "closed_on"),
    ),
    "certification_moduleresult": Source(
        "SELECT t.assessed_on FROM {rows} t",
        watched=("enrollment_id", "module_id", "passed", "assessed_on"),
    ),
}
# What an engagement update queues: every date of the engagements whose watched columns
# changed (see SOURCES), old dates included through the old rows.
ENGAGEMENT_UPDATE = "SELECT scorecard_engagement_days(array_agg(t.id)) FROM {rows} t"

# An account moved to another industry, region or segment moves every breakdown its
# engagements are in; a setting the rules read (tolerance, grace, adoption date, baseline)
# moves every period (a day of NULL).
ACCOUNT = """
CREATE FUNCTION scorecard_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scorecard_inputchange (day)
    SELECT DISTINCT d FROM scorecard_engagement_days(ARRAY(
        SELECT e.id FROM changed_new n JOIN changed_old o ON o.id = n.id
        JOIN engagements_engagement e ON e.account_id = n.id
        WHERE (n.industry, n.region, n.segment) IS DISTINCT FROM
            (o.industry, o.region, o.segment)
    )) days (d) WHERE d IS NOT NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER engagements_account_scorecard AFTER UPDATE ON engagements_account
    REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION scorecard_account_changed();

CREATE FUNCTION scorecard_settings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scorecard_inputchange (day)
    SELECT NULL FROM changed_new n JOIN changed_old o ON o.id = n.id
    WHERE (n.scope_tolerance_pct, n.timeline_grace_days, n.tcp_adoption_date,
        n.baseline_start, n.baseline_end) IS DISTINCT FROM
        (o.scope_tolerance_pct, o.timeline_grace_days, o.tcp_adoption_date,
        o.baseline_start, o.baseline_end);
    RETURN NULL;
END $$;
CREATE TRIGGER tcp_organisationsettings_scorecard AFTER UPDATE ON tcp_organisationsettings
    REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION scorecard_settings_changed();
"""
ACCOUNT_DROP = """
DROP TRIGGER engagements_account_scorecard ON engagements_account;
DROP FUNCTION scorecard_account_changed();
DROP TRIGGER tcp_organisationsettings_scorecard ON tcp_organisationsettings;
DROP FUNCTION scorecard_settings_changed();
"""

# Statement triggers with transition tables: a bulk write of 1,000 rows adds its distinct
# days in one insert. Each branch is planned only when it runs, so a branch may name a
# transition table the event does not have.
FUNCTION = """
CREATE FUNCTION scorecard_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({inserted}) days (d) WHERE d IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({deleted}) days (d) WHERE d IS NOT NULL;
    ELSE
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({updated_new} UNION ALL {updated_old}) days (d)
        WHERE d IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
"""


def changed(side: str, watched: tuple[str, ...] | None) -> str:
    """The updated rows, new or old `side`, that changed a watched column."""
    if watched is None:
        return f"changed_{side}"
    new = ", ".join(f"n.{c}" for c in watched)
    old = ", ".join(f"o.{c}" for c in watched)
    return (
        f"(SELECT {side[0]}.* FROM changed_new n JOIN changed_old o ON o.id = n.id "
        f"WHERE ({new}) IS DISTINCT FROM ({old}))"
    )


def function(table: str, source: Source) -> str:
    update = ENGAGEMENT_UPDATE if table == "engagements_engagement" else source.days
    return FUNCTION.format(
        table=table,
        inserted=source.days.format(rows="changed_new"),
        deleted=source.days.format(rows="changed_old"),
        updated_new=update.format(rows=changed("new", source.watched)),
        updated_old=source.days.format(rows=changed("old", source.watched)),
    )


EVENTS = (
    ("insert", "INSERT", "NEW TABLE AS changed_new"),
    ("update", "UPDATE", "NEW TABLE AS changed_new OLD TABLE AS changed_old"),
    ("delete", "DELETE", "OLD TABLE AS changed_old"),
)
CREATE = EVERY_DATE + "".join(
    function(table, source)
    + "".join(
        f"CREATE TRIGGER {table}_scorecard_{name} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION scorecard_{table}_changed();\n"
        for name, event, transition in EVENTS
    )
    for table, source in SOURCES.items()
)
DROP = "".join(
    "".join(f"DROP TRIGGER {table}_scorecard_{name} ON {table};\n" for name, _, _ in EVENTS)
    + f"DROP FUNCTION scorecard_{table}_changed();\n"
    for table in SOURCES
)


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0002_snapshot_generation"),
        ("engagements", "0007_account_filter_indexes"),
        ("discovery", "0001_initial"),
        ("certification", "0001_initial"),
        ("tcp", "0004_tombstone_owners"),
    ]

    operations = [
        migrations.CreateModel(
            name="InputChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(null=True)),
            ],
        ),
        migrations.RunSQL(CREATE + ACCOUNT, DROP + ACCOUNT_DROP + EVERY_DATE_DROP),
    ]
