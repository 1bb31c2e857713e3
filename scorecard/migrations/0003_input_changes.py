from django.db import migrations, models

# The dates each table's rows put into the KPIs, as a query over `{rows}` (a statement's
# transition table of new or old rows). A row's old dates count as much as its new ones: an
# engagement completed in March and moved to June changes both months.
ENGAGEMENT_DATES = (
    "{e}.opened_on, {e}.proposal_on, {e}.contract_signed_on, {e}.completed_on, {e}.lost_on, "
    "{e}.cancelled_on, {e}.poc_concluded_on"
)
OF_ENGAGEMENT = (
    f"SELECT unnest(ARRAY[{ENGAGEMENT_DATES.format(e='e')}]) FROM {{rows}} t "
    "JOIN engagements_engagement e ON e.id = t.engagement_id"
)
SOURCES = {
    "engagements_engagement": f"SELECT unnest(ARRAY[{ENGAGEMENT_DATES.format(e='t')}]) "
    "FROM {rows} t",
    "engagements_engagement_product_lines": OF_ENGAGEMENT,
    "engagements_scopechange": "SELECT e.completed_on FROM {rows} t "
    "JOIN engagements_engagement e ON e.id = t.engagement_id",
    "engagements_milestone": "SELECT t.held_on FROM {rows} t",
    "engagements_milestoneattendance": "SELECT m.held_on FROM {rows} t "
    "JOIN engagements_milestone m ON m.id = t.milestone_id",
    "engagements_revenueentry": "SELECT t.month FROM {rows} t",
    "engagements_clientrating": "SELECT t.rated_on FROM {rows} t",
    "engagements_stagechange": 'SELECT t."on" FROM {rows} t',
    # An interview completed or reopened moves the discovery figure of the proposals.
    "discovery_failurecostanalysis": 'SELECT s."on" FROM {rows} t '
    "JOIN engagements_stagechange s ON s.engagement_id = t.engagement_id "
    "AND s.to_stage = 'proposal'",
    "certification_enrollment": "SELECT unnest(ARRAY[t.started_on, t.due_on, t.certified_on, "
    "t.closed_on]) FROM {rows} t",
    "certification_moduleresult": "SELECT t.assessed_on FROM {rows} t",
}

# An account moved to another industry, region or segment moves every breakdown its
# engagements are in; a setting the rules read (tolerance, grace, adoption date, baseline)
# moves every period (a day of NULL).
ACCOUNT = f"""
CREATE FUNCTION scorecard_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scorecard_inputchange (day)
    SELECT DISTINCT d FROM (
        WITH moved AS (
            SELECT n.id FROM changed_new n JOIN changed_old o ON o.id = n.id
            WHERE (n.industry, n.region, n.segment) IS DISTINCT FROM
                (o.industry, o.region, o.segment)
        ), engagements AS (
            SELECT e.* FROM engagements_engagement e JOIN moved ON moved.id = e.account_id
        )
        SELECT unnest(ARRAY[{ENGAGEMENT_DATES.format(e="e")}]) FROM engagements e
        UNION ALL SELECT r.month FROM engagements_revenueentry r
            JOIN engagements e ON e.id = r.engagement_id
        UNION ALL SELECT c.rated_on FROM engagements_clientrating c
            JOIN engagements e ON e.id = c.engagement_id
        UNION ALL SELECT m.held_on FROM engagements_milestone m
            JOIN engagements e ON e.id = m.engagement_id
        UNION ALL SELECT s."on" FROM engagements_stagechange s
            JOIN engagements e ON e.id = s.engagement_id
    ) days (d) WHERE d IS NOT NULL;
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
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({new}) days (d) WHERE d IS NOT NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO scorecard_inputchange (day)
        SELECT DISTINCT d FROM ({old}) days (d) WHERE d IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
"""
EVENTS = (
    ("insert", "INSERT", "NEW TABLE AS changed_new"),
    ("update", "UPDATE", "NEW TABLE AS changed_new OLD TABLE AS changed_old"),
    ("delete", "DELETE", "OLD TABLE AS changed_old"),
)
CREATE = "".join(
    FUNCTION.format(
        table=table,
        new=days.format(rows="changed_new"),
        old=days.format(rows="changed_old"),
    )
    + "".join(
        f"CREATE TRIGGER {table}_scorecard_{name} AFTER {event} ON {table} "
        f"REFERENCING {transition} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION scorecard_{table}_changed();\n"
        for name, event, transition in EVENTS
    )
    for table, days in SOURCES.items()
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
        migrations.RunSQL(CREATE + ACCOUNT, DROP + ACCOUNT_DROP),
    ]
