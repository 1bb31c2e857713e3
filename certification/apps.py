"""Certification: the mandatory nine-month technical curriculum for commercial staff."""

from django.apps import AppConfig


class CertificationConfig(AppConfig):
    name = "certification"

    def ready(self) -> None:
        from certification import demo, documents, services
        from engagements.demo import DEMO_STEPS
        from engagements.services import (
            ENGAGEMENT_NOTICES,
            LEAD_GUARDS,
            ONE_ON_ONE_AGENDA_SECTIONS,
        )
        from tcp.models import ACTION_LABELS
        from tcp.services import PERSON_CHANGE_HOOKS

        for registry, hook in (
            (PERSON_CHANGE_HOOKS, services.on_person_change),
            (LEAD_GUARDS, services.lead_guard),
            (ENGAGEMENT_NOTICES, services.engagement_notice),
            (ONE_ON_ONE_AGENDA_SECTIONS, services.agenda_section),
            (DEMO_STEPS, demo.build),
        ):
            if hook not in registry:
                registry.append(hook)  # type: ignore[arg-type]
        documents.register()
        ACTION_LABELS.update(ACTIONS)


ACTIONS = {
    "curriculum.publish": "published the curriculum",
    "curriculum.version": "started a new curriculum version",
    "enrollment.open": "enrolled in the certification",
    "enrollment.close": "closed the enrolment",
    "enrollment.status": "certification status changed",
    "result.record": "recorded an assessment",
    "result.delete": "removed an assessment",
}
