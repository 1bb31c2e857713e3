"""Rows edited in place on their parent's page: scenarios in an interview, targets in a
profile, cost lines in a TCO.

With htmx each row saves itself as the person types (autosave) and the reply updates only
what changed around the inputs (version, errors beside the fields, derived figures, a
"saved" note, totals), so the caret never jumps. Without JavaScript each row is a plain
form with a Save button that posts and comes back to the page. Every save goes through the
app's service and carries the version the person started from; a save over someone else's
newer change is refused with their values shown (tcp.services.EditConflict).

Templates: components/row_card.html (one row), components/row_add.html (the add form),
components/row_reply.html (the htmx reply).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect, reswap

from tcp.http import AuthedRequest
from tcp.services import EditConflict


@dataclass(frozen=True)
class Rows:
    """One kind of row edited in place."""

    name: str  # used in element ids: "<name>-<pk>", "<name>-list", "<name>-add"
    noun: str  # for people: "failure scenario"
    figures: str = ""  # template of a row's derived figures, updated on every save
    extras: str = ""  # template of out-of-band updates around the rows (totals)
    # The page's one object (a profile, an interview's header): ids without the primary
    # key, which it may not have yet when the page is shown.
    single: bool = False


@dataclass
class RowEdit:
    """What a row card needs: the row, its form and where it posts."""

    row: models.Model
    form: Any
    save_url: str
    delete_url: str
    status: str = ""
    error: str = ""
    card_id: str = ""


def row_edits(
    rows: Rows,
    items: Any,
    make_form: FormFactory,
    urls: Callable[[models.Model], tuple[str, str]],
    failed: RowEdit | None = None,
) -> list[RowEdit]:
    """The cards of a page: one per row, the refused one (no-JavaScript save) as it was sent."""
    edits = []
    for item in items:
        if failed is not None and failed.card_id == _card_id(rows, item):
            edits.append(failed)
        else:
            edits.append(edit_for(rows, item, form_for(rows, make_form, item), urls))
    return edits


def edit_for(
    rows: Rows,
    row: models.Model,
    form: Any,
    urls: Callable[[models.Model], tuple[str, str]],
    **state: str,
) -> RowEdit:
    save_url, delete_url = urls(row) if row.pk else ("", "")
    return RowEdit(row, form, save_url, delete_url, card_id=_card_id(rows, row), **state)


def _card_id(rows: Rows, row: models.Model) -> str:
    return rows.name if rows.single else f"{rows.name}-{row.pk}"


FormFactory = Callable[..., Any]


def _prefix(rows: Rows, item: models.Model | None) -> str:
    if rows.single:
        return rows.name
    return f"{rows.name}-{item.pk if item is not None and item.pk else 'new'}"


def form_for(
    rows: Rows, make_form: FormFactory, item: models.Model | None, data: Any = None
) -> Any:
    return make_form(data, instance=item, prefix=_prefix(rows, item))


def _errors_onto(form: Any, error: ValidationError) -> str:
    """Put a service's refusal beside the fields it names; return what has no field."""
    if hasattr(error, "error_dict"):
        loose = []
        for name, errors in error.error_dict.items():
            if name in form.fields:
                form.add_error(name, errors)
            else:
                loose += [m for e in errors for m in e.messages]
        return " ".join(loose)
    return " ".join(error.messages)


def row_save(
    request: AuthedRequest,
    *,
    rows: Rows,
    item: models.Model | None,
    make_form: FormFactory,
    save: Callable[[Mapping[str, Any], int | None], models.Model],
    urls: Callable[[models.Model], tuple[str, str]],
    context: Callable[[], dict[str, Any]],
    page: Callable[..., HttpResponse],
    back_url: str,
    refetch: Callable[[models.Model], models.Model] = lambda row: row,
    card_form: FormFactory | None = None,
) -> HttpResponse:
    """Create (`item` None) or update one row through `save(data, version)`.

    `urls(row)` gives the row's save and delete URLs; `context()` the page context the
    extras template needs; `page(**extra)` renders the whole page (the no-JavaScript reply
    to a refused save); `refetch(row)` reloads a saved row with its derived figures;
    `card_form` is the form of a saved row's card when the add form is shorter.
    """
    creating = item is None
    form = form_for(rows, make_form, item, request.POST)
    row: models.Model | None = None
    conflict = False
    error = ""
    if form.is_valid():
        data, version = form.data_and_version()
        try:
            row = save(data, version)
        except EditConflict as refusal:
            conflict, error = True, refusal.messages[0]
            row = refetch(refusal.current)
            form = form_for(rows, card_form or make_form, row)
        except ValidationError as refusal:
            error = _errors_onto(form, refusal)
            if creating and error:
                form.add_error(None, error)  # the add form shows it above its fields
    else:
        error = " ".join(form.non_field_errors())
    ok = row is not None and not conflict

    if not request.htmx:
        if ok:
            assert row is not None
            messages.success(request, f"{rows.noun.capitalize()} saved.")
            return redirect(f"{back_url}#{rows.name}-{row.pk}")
        failed = edit_for(
            rows,
            row or item or form.instance,
            form,
            urls,
            error=error or "Not saved: fix the marked fields.",
        )
        return page(failed=failed)

    if ok:
        assert row is not None
        row = refetch(row)
        form = form_for(rows, card_form or make_form, row)
    edit = edit_for(
        rows,
        row or item or form.instance,
        form,
        urls,
        status=f"Saved {timezone.localtime():%H:%M:%S}" if ok else "",
        error=error or ("" if ok else "Not saved: fix the marked fields."),
    )
    reply_context = {
        "can_edit": True,  # only editors reach a save
        "rows": rows,
        "edit": edit,
        "created": creating and ok,
        "conflict": conflict,
        "add_failed": creating and not ok,
        "add_form": form_for(rows, make_form, None) if creating and ok else form,
        "add_url": request.path if creating else "",
        **(context() if ok or conflict else {}),
    }
    response = render(request, "components/row_reply.html", reply_context)
    if creating and not ok:
        reswap(response, "none")
    return response


def service_call(
    save: Callable[..., models.Model], **bound: Any
) -> Callable[[Mapping[str, Any], int | None], models.Model]:
    """Adapt a service (keyword-only, with `data` and `version`) to row_save's save."""

    def call(data: Mapping[str, Any], version: int | None) -> models.Model:
        return save(data=data, version=version, **bound)

    return call


def redirect_to(request: AuthedRequest, url: str) -> HttpResponse:
    """Go to `url`: a full page load for htmx requests too."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def row_delete(
    request: AuthedRequest,
    *,
    rows: Rows,
    item: models.Model,
    delete: Callable[[], None],
    back_url: str,
    context: Callable[[], dict[str, Any]],
) -> HttpResponse:
    """Ask first (GET: a confirmation page), then delete through the service (POST)."""
    if request.method != "POST":
        return render(
            request,
            "engagements/confirm_delete.html",
            {"object": item, "kind": rows.noun, "cancel_url": back_url},
        )
    try:
        delete()
    except ValidationError as refusal:
        if not request.htmx:
            messages.error(request, " ".join(refusal.messages))
            return redirect(back_url)
        response = render(
            request,
            "components/row_reply.html",
            {
                "rows": rows,
                "refused": " ".join(refusal.messages),
                "edit": edit_for(rows, item, None, lambda row: ("", "")),
            },
        )
        return reswap(response, "none")
    if not request.htmx:
        messages.success(request, f"{rows.noun.capitalize()} removed.")
        return redirect(back_url)
    return render(
        request, "components/row_reply.html", {"rows": rows, "deleted": True, **context()}
    )
