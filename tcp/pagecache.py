"""Pages served again from the cache while nothing they could show has changed.

A page marked `reusable` is stored, per person and per sign-in, under the data generation:
a number the database moves with every statement that writes a table (a trigger on each
table, whichever path wrote: a page, the API, the admin, a task, a raw update). While the
number stands still, no row has changed, so the page as drawn is still the page.

The order of reads is what keeps a stored page from ever being older than its key. The
generation is read first; then, before any of the page's own reads, the database must show
no writing transaction in flight. Every write the number counts has then committed, and so is
in what the page reads; a write that commits later moves the number past the key. With a
writer in flight the page is drawn as usual and not stored.

A stored page is served to the same person in the same session only (the key holds the
sign-in's identity and its form token's secret, so the page's forms stay valid), on the same
day (pages show dates relative to today), by the same running code."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

from django.apps import apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# Tables written while people only read (a session's clock, sign-in attempts), which no
# page shows: writing them moves nothing.
UNWATCHED_TABLES = (
    "django_migrations",
    "django_session",
    "axes_accessattempt",
    "axes_accesslog",
    "axes_accessfailurelog",
)
TRIGGER = "tcp_data_generation"
# A stored page lives this long at most, whatever happens.
PAGE_SECONDS = 10 * 60


@functools.cache
def release() -> str:
    """The running code: the project's Python files and templates and the locked
    dependencies. Every worker of one release shares its stored pages; another release
    never serves what this one drew."""
    root = Path(settings.BASE_DIR)
    folders = [Path(c.path) for c in apps.get_app_configs() if Path(c.path).is_relative_to(root)]
    files = [root / "uv.lock"] + [
        path
        for folder in [*folders, root / "templates"]
        for path in folder.rglob("*")
        if path.suffix in {".py", ".html"}
    ]
    digest = hashlib.sha256()
    for path in sorted(f for f in files if f.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _key(kind: str, *parts: str) -> str:
    raw = "\n".join([release(), *parts])
    return f"{kind}:" + hashlib.sha256(raw.encode()).hexdigest()


def watch_every_table(*, using: str = DEFAULT_DB_ALIAS, **kwargs: object) -> None:
    """Attach the generation's trigger to every table that lacks it (post_migrate), so a
    table added by a later migration is watched without anyone remembering to. The API
    tokens' table has its own, which a token's last use leaves alone (migration 0006)."""
    database = connections[using]
    with database.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
            "AND NOT c.relname = ANY(%s) "
            # Migrated back past the function: nothing to attach.
            "AND to_regprocedure('tcp_data_generation_bump()') IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = %s)",
            [list(UNWATCHED_TABLES), TRIGGER],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {database.ops.quote_name(table)} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tcp_data_generation_bump()"
            )


def data_generation() -> str | None:
    """The data's state now: the database (a rebuilt one starts again) and the sequence's
    last number. None where the sequence is missing (a database being migrated)."""
    with connection.cursor() as cursor:
        # pg_sequence_last_value is what the pg_sequences view reads; unlike a SELECT from
        # the sequence it gives NULL instead of failing where there is no sequence.
        cursor.execute(
            "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
            "pg_sequence_last_value(to_regclass('tcp_data_generation_seq'))"
        )
        oid, number = cursor.fetchone()
    return None if number is None else f"{oid}.{number}"


def generation_of(request: Any) -> str | None:
    """The data generation as this request first read it (a DRF request reads through to
    Django's): one read however many parts of the request key on it."""
    http = getattr(request, "_request", request)
    if not hasattr(http, "_data_generation"):
        http._data_generation = data_generation()
    return http._data_generation


def nothing_in_flight(*, readers: bool = False) -> bool:
    """No transaction that has written to this database is open, this connection's
    included (a page drawn inside a transaction may show rows that are then rolled back).
    With `readers`, no other transaction at all (a read one holds back the API's sync
    horizon, so what a list hands out would grow without any write).

    A backend's transaction id is the one the database's own snapshots go by: it is cleared
    only once the commit is visible to every later snapshot. Writers in other databases of
    the same server are left out."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_current_xact_id_if_assigned() IS NULL AND NOT EXISTS ("
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() "
            "AND (backend_xid IS NOT NULL OR (%s AND xact_start IS NOT NULL)))",
            [readers],
        )
        return bool(cursor.fetchone()[0])


class StoredPage(NamedTuple):
    status: int
    content: bytes
    headers: list[tuple[str, str]]
    # The nonce the page's own scripts carry, given afresh to each response that serves it.
    nonce: str | None

    @classmethod
    def of(cls, response: HttpResponse, nonce: object = None) -> StoredPage:
        return cls(
            response.status_code,
            response.content,
            list(response.items()),
            str(nonce) if nonce else None,
        )

    def response(self, request: HttpRequest) -> HttpResponse:
        content = self.content
        lazy = getattr(request, "_csp_nonce", None)
        if self.nonce and lazy is not None:
            content = content.replace(self.nonce.encode(), str(lazy).encode())
        return HttpResponse(content, status=self.status, headers=dict(self.headers))


def page_key(request: HttpRequest) -> str | None:
    """Where a reusable page for this request is stored, or None when it may not be stored
    or served (nobody signed in, no form token yet, messages waiting to be shown)."""
    session = request.session
    csrf_secret = request.META.get("CSRF_COOKIE")
    if (
        SESSION_KEY not in session
        or not csrf_secret
        or len(get_messages(request))
        # Inside a transaction the page may show its own writes, not yet committed.
        or connection.in_atomic_block
    ):
        return None
    generation = generation_of(request)
    if generation is None:
        return None
    htmx = sorted((k, v) for k, v in request.META.items() if k.startswith("HTTP_HX_"))
    return _key(
        "page",
        generation,
        timezone.localdate().isoformat(),
        str(session[SESSION_KEY]),
        str(session.get(BACKEND_SESSION_KEY, "")),
        str(session.get(HASH_SESSION_KEY, "")),
        csrf_secret,
        request.scheme or "",
        request.get_host(),
        request.get_full_path(),
        request.META.get("HTTP_ACCEPT", ""),
        repr(htmx),
    )


def wants_fresh(request: HttpRequest) -> bool:
    """A request that asks for a fresh answer (a Shift-reload sends no-cache) is drawn
    afresh, and stored for the next."""
    return "no-cache" in request.headers.get("Cache-Control", "")


def stored_page(request: HttpRequest) -> HttpResponse | None:
    """The stored page for this request, if there is one; else mark the request so that the
    view's page is stored, when no write is in flight (PageCacheMiddleware)."""
    key = page_key(request)
    if key is None:
        return None
    stored = None if wants_fresh(request) else cache.get(key)
    if isinstance(stored, StoredPage):
        return stored.response(request)
    if nothing_in_flight():
        request._page_key = key  # type: ignore[attr-defined]
    return None


def _storable(request: HttpRequest, response: HttpResponse) -> bool:
    user = getattr(request, "user", None)
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        # Rendered lazily (a TemplateResponse): nothing to store yet.
        and getattr(response, "is_rendered", True)
        and user is not None
        and str(user.pk) == str(request.session.get(SESSION_KEY))
        # A message queued while drawing belongs to the next page.
        and not len(get_messages(request))
    )


def reusable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a GET page as one that may be served again from the cache while the data stands
    still (see the module). Only for pages that read the database and nothing else that
    changes: no clock finer than the day, no state kept elsewhere."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        key = getattr(request, "_page_key", None)
        if key is not None and _storable(request, response):
            stored = StoredPage.of(response, getattr(request, "_csp_nonce", None))
            cache.set(key, stored, PAGE_SECONDS)
        return response

    wrapped.reusable = True  # type: ignore[attr-defined]
    return wrapped


# An API list stored for a token is served for this long at most: a sync that pulls again
# at once may miss rows that committed just before the list was drawn (behind its horizon)
# for these seconds, never for good, as they come after the cursor it was given.
LIST_SECONDS = 5


def stored_list(request: Any, draw: Callable[[], HttpResponse]) -> HttpResponse:
    """An API list for a token's caller (`request` is DRF's, authenticated and throttled
    already), served from the cache while the data stands still, else drawn by `draw`."""
    token = getattr(request, "auth", None)
    if token is None or not hasattr(token, "key_hash"):
        return draw()
    drawn: list[HttpResponse] = []

    def page() -> StoredPage | None:
        drawn.append(draw())
        response = drawn[0]
        # A list the database built (bytes already); DRF's own responses render later.
        ok = type(response) is HttpResponse and response.status_code == 200
        return StoredPage.of(response) if ok else None

    part = "\n".join(
        [
            str(request.user.pk),
            str(token.pk),
            request.scheme or "",
            request.get_host(),
            request.get_full_path(),
            request.META.get("HTTP_ACCEPT", ""),
        ]
    )
    fresh = wants_fresh(request)
    stored = remembered(
        request, "api-list", part, page, seconds=LIST_SECONDS, readers=True, fresh=fresh
    )
    # Nothing drawn: it came from the cache, so it is there.
    return drawn[0] if drawn else cast(StoredPage, stored).response(request)


def remembered[T](
    request: Any,
    name: str,
    part: str,
    compute: Callable[[], T | None],
    *,
    seconds: int = PAGE_SECONDS,
    readers: bool = False,
    fresh: bool = False,
) -> T | None:
    """What `compute` gives for `part`, kept while the data stands still (and `seconds` at
    most), under the same rules as a page: stored only when nothing is in flight (see
    nothing_in_flight for `readers`), never inside a transaction; with `fresh`, computed
    afresh and stored for the next. Nothing is kept of a None."""
    generation = None if connection.in_atomic_block else generation_of(request)
    if generation is None:
        return compute()
    key = _key(name, generation, part)
    stored = None if fresh else cache.get(key)
    if stored is not None:
        return cast(T, stored)
    storable = nothing_in_flight(readers=readers)
    value = compute()
    if storable and value is not None:
        cache.set(key, value, seconds)
    return value
