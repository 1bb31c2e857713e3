import importlib

from django.db import migrations

# The snapshots' own generation keyed the cached board and KPI panel; they are kept under
# the data generation now (tcp.pagecache), which every table's writes move.
generation = importlib.import_module("scorecard.migrations.0002_snapshot_generation")
RESTORE = (
    "INSERT INTO scorecard_snapshotgeneration (id, epoch, number) "
    "VALUES (1, gen_random_uuid(), 0);" + generation.BUMP + generation.TRIGGERS
)


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0005_input_change_kpis"),
    ]

    operations = [
        migrations.RunSQL(generation.DROP, RESTORE),
        migrations.DeleteModel(name="SnapshotGeneration"),
    ]
