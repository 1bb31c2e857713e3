from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from tcp.models import User


class AuthedRequest(HttpRequest):
    """A request past LoginRequiredMiddleware and HtmxMiddleware, as views receive it."""

    user: User
    htmx: HtmxDetails
