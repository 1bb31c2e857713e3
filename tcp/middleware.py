"""Request rules the whole site shares: how long a signed-in session may last, and the
content security policy of the pictures it draws."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.csp import CSP
from django.utils.deprecation import MiddlewareMixin

from tcp.pagecache import stored_page

# Keys in the session: when it began (set at sign-in) and when it was last used.
STARTED = "parity_started"
SEEN = "parity_seen"
# The last-used time is written at most this often, so browsing does not rewrite the
# session on every request.
SEEN_PRECISION = 60

# A chart is an SVG document of its own, shown through <img>: it carries its styles inline
# and runs no script. It gets this policy instead of the pages'.
SVG_POLICY = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "img-src": ["data:"],
}


def session_started(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """Start the session's clocks at sign-in (user_logged_in)."""
    request.session[STARTED] = request.session[SEEN] = int(time.time())


class SessionLimitsMiddleware(MiddlewareMixin):
    """Ends a session that sat idle longer than SESSION_IDLE_SECONDS, or that began longer
    than SESSION_ABSOLUTE_SECONDS ago, whatever its activity; the person signs in again.

    Views open to all (the health check, the sign-in page) are left alone, so they never
    load a session or a person."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], *args: Any
    ) -> HttpResponse | None:
        if not getattr(view_func, "login_required", True):
            return None
        session = request.session
        # Token calls to the API carry no session: nothing to time.
        if SESSION_KEY not in session:
            return None
        now = int(time.time())
        started = session.get(STARTED)
        seen = session.get(SEEN, started)
        if started is None:
            # A session from before these limits: its clocks start now.
            session[STARTED] = session[SEEN] = now
        elif (
            now - started > settings.SESSION_ABSOLUTE_SECONDS
            or now - seen > settings.SESSION_IDLE_SECONDS
        ):
            logout(request)
            return redirect_to_login(request.get_full_path())
        elif now - seen >= SEEN_PRECISION:
            session[SEEN] = now
        return None


class SvgPolicyMiddleware:
    """Gives SVG responses the image policy. Sits after Django's CSP middleware in
    MIDDLEWARE, so it sees the response first and the CSP middleware then applies it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("image/svg+xml"):
            response._csp_config = SVG_POLICY  # type: ignore[attr-defined]
        return response


class PageCacheMiddleware(MiddlewareMixin):
    """Serves a reusable page (tcp.pagecache) from the cache when it was stored for this
    person, sign-in and state of the data. Sits after the session's limits, so an expired
    session is still ended, and before LoginRequiredMiddleware, so serving a stored page
    loads nobody: the key holds the sign-in's identity, checked when the page was stored, and
    any change to the person (a new password, deactivation) moves the data generation."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], *args: Any
    ) -> HttpResponse | None:
        if request.method == "GET" and getattr(view_func, "reusable", False):
            return stored_page(request)
        return None
