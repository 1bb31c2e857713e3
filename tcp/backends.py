"""Signing in and loading the signed-in person."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends

from tcp.context_processors import navigation_figures
from tcp.models import User


class ModelBackend(backends.ModelBackend):
    """Django's, except that loading the person on each request also brings the figures
    every page's navigation shows (tcp.context_processors.navigation): one round trip to the
    database instead of two on every page."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = User._default_manager.annotate(**navigation_figures()).get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
