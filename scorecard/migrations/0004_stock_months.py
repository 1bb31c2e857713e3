import importlib

from django.db import migrations, models

changes = importlib.import_module("scorecard.migrations.0003_input_changes")

# A revenue entry moves the backlog of its engagement from its month to the engagement's
# end (what is left to recognise, and the cap at the contract's value, reach every later
# entry), so it queues every date of its engagement as well as its own month: the rollup
# then regroups every month whose backlog changes (scorecard.models.StockMonth).
REVENUE = "engagements_revenueentry"
REVENUE_DAYS = changes.Source(
    "SELECT t.month FROM {rows} t UNION ALL "
    "SELECT scorecard_engagement_days(array_agg(DISTINCT t.engagement_id)) FROM {rows} t"
)


def replace(source: "changes.Source") -> str:
    return changes.function(REVENUE, source).replace(
        "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scorecard", "0003_input_changes"),
    ]

    operations = [
        migrations.AddField(
            model_name="rollupstate",
            name="stock_months_built",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="StockMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("part", models.CharField(max_length=20)),
                ("month", models.DateField()),
                ("dimension", models.CharField(blank=True, max_length=20)),
                ("dimension_value", models.CharField(blank=True, max_length=64)),
                ("amount", models.DecimalField(decimal_places=4, max_digits=24)),
                ("count", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("part", "month", "dimension", "dimension_value"),
                        name="stock_month_once",
                    )
                ],
            },
        ),
        migrations.RunSQL(replace(REVENUE_DAYS), replace(changes.SOURCES[REVENUE])),
    ]
