from __future__ import annotations

import functools
from typing import Any, NamedTuple

from django.db import connection
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from tcp.models import Notification, Role, User


class NavItem(NamedTuple):
    url: str
    label: str
    active: bool  # the page is this item or below it
    current: bool  # the page is this item itself


@functools.cache
def _reverse(name: str, script_prefix: str) -> str:
    # Every page shows the same handful of links; the URLconf does not change while the
    # process runs, so each is reversed once per script prefix.
    return reverse(name)


def _url(name: str) -> str:
    return _reverse(name, get_script_prefix())


def _tables() -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(Notification._meta.db_table), quote(User._meta.db_table)


def person_with_navigation_sql() -> str:
    """SQL for the signed-in person with the two figures beside them on every page: how
    many notifications they have not read yet (`nav_unread`) and whether anyone reports to
    them, so they hold 1:1s (`nav_manages`). One parameter: the person's id.

    tcp.backends.ModelBackend runs it on every request, so it is written out: building it
    through the ORM costs more than running it."""
    notifications, users = _tables()
    return (
        f"SELECT person.*, "  # noqa: S608 - table names only
        f"(SELECT count(*) FROM {notifications} note "
        f"WHERE note.recipient_id = person.id AND note.read_at IS NULL) AS nav_unread, "
        f"EXISTS (SELECT 1 FROM {users} report "
        f"WHERE report.manager_id = person.id AND report.is_active) AS nav_manages "
        f"FROM {users} person WHERE person.id = %s"
    )


def unread_and_reports(user_id: int) -> tuple[int, bool]:
    """The same two figures for a person loaded some other way (a test's request)."""
    notifications, users = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {notifications} "  # noqa: S608
            "WHERE recipient_id = %s AND read_at IS NULL), "
            f"EXISTS (SELECT 1 FROM {users} WHERE manager_id = %s AND is_active)",
            [user_id, user_id],
        )
        row = cursor.fetchone()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The navigation each person sees, from their roles."""
    user = request.user
    if not user.is_authenticated:
        return {}
    # As they were when the request began: every page that changes them redirects.
    unread = getattr(user, "nav_unread", None)
    if unread is None:
        unread, manages = unread_and_reports(user.pk)
    else:
        manages = bool(getattr(user, "nav_manages", False))
    names = [("home", "Home")]
    if user.sees_everything or user.has_role(
        Role.ACCOUNT_MANAGER, Role.TECHNOLOGY_MANAGER, Role.PARTNER_MANAGER, Role.DELIVERY_MANAGER
    ):
        names += [
            ("engagements:account_list", "Accounts"),
            ("engagements:engagement_list", "Engagements"),
        ]
    if user.has_role(Role.DELIVERY_MANAGER):
        names.append(("engagements:my_milestones", "My milestones"))
    if user.sees_everything:
        names.append(("engagements:participation", "Participation"))
    if user.sees_everything or user.manager_id is not None or manages:
        names.append(("engagements:one_on_one_list", "1:1s"))
    if user.is_commercial or user.sees_everything or manages:
        names.append(("certification:mine", "Certification"))
    if user.sees_everything or user.has_role(Role.ACCOUNT_MANAGER):
        names.append(("scorecard:scorecard", "Scorecard"))
    if user.is_administrator or user.has_role(Role.HIRING_MANAGER):
        names.append(("hiring:openings", "Hiring"))
    if user.is_administrator:
        names.append(("organisation_settings", "Organisation"))
    path = request.path
    items = []
    for name, label in names:
        url = _url(name)
        current = path == url
        items.append(NavItem(url, label, current or (url != "/" and url in path), current))
    return {
        "nav_items": items,
        "nav_urls": {
            "home": _url("home"),
            "admin": _url("admin:index") if user.is_staff else "",
            "notifications": _url("notifications"),
            "api_tokens": _url("api_tokens"),
            "logout": _url("logout"),
        },
        "unread_notifications": unread,
    }
