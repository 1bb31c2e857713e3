"""Scorecard: the KPI engine, its rollups and the leadership dashboards."""
