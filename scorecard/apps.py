from django.apps import AppConfig


class ScorecardConfig(AppConfig):
    name = "scorecard"
