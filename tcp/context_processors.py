from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tcp.models import Role


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The navigation each person sees, from their roles."""
    user = request.user
    if not user.is_authenticated:
        return {}
    items = [("home", "Home")]
    if user.sees_everything or user.has_role(
        Role.ACCOUNT_MANAGER, Role.TECHNOLOGY_MANAGER, Role.PARTNER_MANAGER, Role.DELIVERY_MANAGER
    ):
        items += [
            ("engagements:account_list", "Accounts"),
            ("engagements:engagement_list", "Engagements"),
        ]
    if user.is_administrator:
        items.append(("organisation_settings", "Organisation"))
    return {
        "nav_items": items,
        "unread_notifications": user.notifications.unread().count(),
    }
