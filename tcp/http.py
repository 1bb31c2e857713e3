from __future__ import annotations

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from tcp.models import User


class AuthedRequest(HttpRequest):
    """A request past LoginRequiredMiddleware and HtmxMiddleware, as views receive it."""

    user: User
    htmx: HtmxDetails


# SQLSTATEs of a connection that went away: class 08 (connection exception) and the
# server shutting down or terminating the session (57P01-57P03).
CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")

DATABASE_LOST = (
    "The connection to the database was lost while answering. Each change is saved whole "
    "or not at all: reload to see whether it was, then send it again if it was not."
)


def database_lost(error: BaseException | None) -> bool:
    """Whether `error` says the database connection went away (a restart, a terminated
    session), rather than a fault of the request or of ours: worth answering 503."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    # A connection closed under the client carries no SQLSTATE at all.
    return sqlstate is None or sqlstate.startswith(CONNECTION_LOST)
