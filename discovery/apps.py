from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "discovery"

    def ready(self) -> None:
        from discovery import api, demo, documents, services  # noqa: F401 - api: tombstones
        from engagements.demo import DEMO_STEPS
        from engagements.services import STAGE_GUARDS
        from tcp.models import ACTION_LABELS

        if services.proposal_guard not in STAGE_GUARDS:
            STAGE_GUARDS.append(services.proposal_guard)
        if demo.build not in DEMO_STEPS:
            DEMO_STEPS.append(demo.build)
        documents.register()
        ACTION_LABELS.update(ACTIONS)


ACTIONS = {
    "profile.update": "edited the client intelligence profile",
    "target.create": "added a growth target",
    "target.update": "edited a growth target",
    "target.delete": "removed a growth target",
    "obligation.create": "added a regulatory obligation",
    "obligation.update": "edited a regulatory obligation",
    "obligation.delete": "removed a regulatory obligation",
    "stakeholder.create": "added a stakeholder",
    "stakeholder.update": "edited a stakeholder",
    "stakeholder.delete": "removed a stakeholder",
    "fca.create": "started a Failure-Cost Analysis",
    "fca.update": "edited a Failure-Cost Analysis",
    "fca.complete": "completed a Failure-Cost Analysis",
    "fca.delete": "removed a Failure-Cost Analysis",
    "fca.reopen": "reopened a Failure-Cost Analysis",
    "fca.sign_off": "recorded the client's sign-off",
    "scenario.create": "added a failure scenario",
    "scenario.update": "edited a failure scenario",
    "scenario.delete": "removed a failure scenario",
    "constraint.create": "added a “must never happen” constraint",
    "constraint.update": "edited a “must never happen” constraint",
    "constraint.delete": "removed a “must never happen” constraint",
    "tco.update": "edited the TCO comparison",
    "alternative.create": "added a TCO alternative",
    "alternative.update": "edited a TCO alternative",
    "alternative.delete": "removed a TCO alternative",
    "cost_line.create": "added a TCO cost line",
    "cost_line.update": "edited a TCO cost line",
    "cost_line.delete": "removed a TCO cost line",
}
