"""Scorecard: the KPI engine, its rollups and the leadership dashboards."""

from django.apps import AppConfig


class ScorecardConfig(AppConfig):
    name = "scorecard"

    def ready(self) -> None:
        from tcp.models import ACTION_LABELS

        ACTION_LABELS.update(
            {
                "kpi_target.set": "set a KPI target",
                "scorecard.recompute": "recomputed the scorecard",
            }
        )
