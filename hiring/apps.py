"""Hiring: job analysis, the question bank, interviews, panel auditions and decisions."""

from django.apps import AppConfig


class HiringConfig(AppConfig):
    name = "hiring"

    def ready(self) -> None:
        from engagements.demo import DEMO_STEPS
        from hiring import demo, services
        from tcp.models import ACTION_LABELS

        if demo.build not in DEMO_STEPS:
            DEMO_STEPS.append(demo.build)
        ACTION_LABELS.update(services.ACTIONS)
