from django.apps import AppConfig


class EngagementsConfig(AppConfig):
    name = "engagements"
    verbose_name = "Accounts and engagements"

    def ready(self) -> None:
        # The API's resources register their models for deletion tombstones; a delete made
        # by a task or command must leave one too, before any URL is resolved.
        from engagements import api  # noqa: F401
