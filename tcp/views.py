from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from engagements.models import OPEN_STAGES, Engagement, Milestone
from engagements.services import awaiting_attendance
from tcp.celery import app as celery_app
from tcp.forms import ApiTokenForm, OrganisationSettingsForm
from tcp.http import AuthedRequest, database_lost
from tcp.models import ApiToken, OrganisationSettings, Role
from tcp.services import (
    api_token_create,
    api_token_revoke,
    audit_trail,
    organisation_update,
)

logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    """The answer to an unhandled error (handler500). When the database connection went
    away mid-request (a restart, a terminated session), the transaction under way went with
    it and the request may be checked and sent again: a 503 with Retry-After. Everything
    else is the plain 500 page; neither touches the database."""
    if database_lost(sys.exc_info()[1]):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "5"
        return response
    return HttpResponseServerError(render_to_string("500.html"))


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """One database query and one broker ping: 200 when both answer, 503 otherwise."""
    checks = {"database": "ok", "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("healthz: database check failed")
        checks["database"] = "unavailable"
    try:
        with celery_app.pool.acquire(block=True, timeout=2) as conn:
            # A pooled kombu connection; celery-types annotates the pool as holding producers.
            conn.default_channel.client.ping()  # type: ignore[attr-defined]
    except Exception:
        logger.exception("healthz: broker check failed")
        checks["broker"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    mine = Engagement.objects.visible_to(user).filter(
        Q(commercial_lead=user) | Q(delivery_manager=user)
    )
    by_stage = mine.values("stage").annotate(n=Count("id"), value=Sum("value")).order_by()
    recent = mine.select_related("account").order_by("-updated_at")[:8]
    open_pipeline = mine.filter(stage__in=OPEN_STAGES).aggregate(v=Sum("value"), n=Count("id"))
    year_ago = timezone.localdate() - dt.timedelta(days=365)
    missed = Milestone.objects.missed_by_lead().filter(held_on__gte=year_ago)
    return render(
        request,
        "tcp/home.html",
        {
            "by_stage": {row["stage"]: row for row in by_stage},
            "recent": recent,
            "open_pipeline": open_pipeline,
            "notifications": user.notifications.unread()[:5],
            # The lead's own flags: critical milestones of theirs held without them.
            "my_missed": missed.filter(engagement__commercial_lead=user)
            .select_related("engagement")
            .order_by("-held_on")[:5]
            if user.is_commercial
            else [],
            "missed_count": missed.count() if user.sees_everything else None,
            "awaiting_attendance": awaiting_attendance(user).count()
            if user.has_role(Role.DELIVERY_MANAGER)
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
def organisation_settings(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_administrator:
        raise Http404
    organisation = OrganisationSettings.load()
    form = OrganisationSettingsForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        organisation_update(organisation=organisation, actor=request.user, data=form.cleaned_data)
        messages.success(request, "Organisation settings saved.")
        return redirect("organisation_settings")
    if request.method == "POST":
        # A failed save leaves the stored settings as they were.
        organisation.refresh_from_db()
    return render(
        request,
        "tcp/organisation_settings.html",
        {"form": form, "organisation": organisation, "trail": audit_trail(organisation, limit=20)},
    )


@require_GET
def notifications(request: AuthedRequest) -> HttpResponse:
    page = Paginator(request.user.notifications.all(), 25).get_page(request.GET.get("page"))
    return render(request, "tcp/notifications.html", {"page": page})


@require_POST
def notifications_read(request: AuthedRequest) -> HttpResponse:
    request.user.notifications.unread().update(read_at=timezone.now())
    messages.success(request, "All notifications marked as read.")
    return redirect("notifications")


@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthedRequest) -> HttpResponse:
    """A person's API tokens: make one (shown once), see when each was last used."""
    form = ApiTokenForm(request.POST or None)
    context: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_at"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Shown in this response only: a redirect would have to carry the secret.
            context = {"new_token": raw, "new_token_name": token.name}
            form = ApiTokenForm()
    context["form"] = form
    context["tokens"] = ApiToken.objects.filter(user=request.user)
    return render(request, "tcp/api_tokens.html", context, status=400 if form.errors else 200)


@require_POST
def api_token_revoke_view(request: AuthedRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"“{token.name}” is revoked.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("api_tokens"))
    return redirect("api_tokens")
