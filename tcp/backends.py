"""Signing in and loading the signed-in person."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import backends

from tcp.context_processors import person_with_navigation_sql
from tcp.models import User


class ModelBackend(backends.ModelBackend):
    """Django's, except that loading the person on each request also brings the figures
    every page's navigation shows (tcp.context_processors.navigation): one round trip to the
    database instead of two on every page."""

    def get_user(self, user_id: Any) -> User | None:
        # `user_id` is the primary key as the model reads it (django.contrib.auth.get_user).
        user = next(iter(User._default_manager.raw(person_with_navigation_sql(), [user_id])), None)
        if user is None:
            return None
        return user if self.user_can_authenticate(user) else None
