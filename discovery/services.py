"""Discovery workflows, and the rule that discovery precedes every proposal.

Every entry point (pages, API, admin, tasks) calls these; the stage service applies
`proposal_guard` through engagements.services.STAGE_GUARDS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from discovery.models import (
    AlternativeKind,
    ClientIntelligenceProfile,
    CostCategory,
    FailureCostAnalysis,
    FailureScenario,
    GrowthTarget,
    NeverEvent,
    RegulatoryObligation,
    Stakeholder,
    TcoAlternative,
    TcoComparison,
    TcoCostLine,
)
from engagements.models import Account, Contact, Engagement, Stage
from engagements.services import Blocker
from tcp.models import OrganisationSettings, User
from tcp.services import (
    audit_record,
    record_create,
    record_delete,
    record_save,
    record_update,
)

# The rule ------------------------------------------------------------------------------


def profile_url(account: Account, anchor: str = "") -> str:
    url = reverse("discovery:profile", args=[account.uuid])
    return f"{url}#{anchor}" if anchor else url


def discovery_url(engagement: Engagement) -> str:
    return reverse("discovery:checklist", args=[engagement.uuid]) if engagement.pk else ""


def profile_with_counts(account: Account) -> ClientIntelligenceProfile:
    """The account's profile with the counts completeness needs (an empty one if none yet)."""
    profile = ClientIntelligenceProfile.objects.with_counts().filter(account=account).first()
    if profile is None:
        profile = ClientIntelligenceProfile(account=account)
        profile.n_targets = profile.n_obligations = profile.n_economic = profile.n_technical = 0
    return profile


def discovery_blockers(
    *,
    engagement: Engagement,
    profile: ClientIntelligenceProfile | None = None,
    has_analysis: bool | None = None,
) -> list[Blocker]:
    """What is missing before this engagement may have a proposal (empty: discovery complete).

    Discovery is complete when the account's client intelligence profile is complete and at
    least one of the engagement's Failure-Cost Analyses is complete. `profile`: the account's
    profile from profile_with_counts(), and `has_analysis`: whether one is complete, when the
    caller has them already (a list computes both for a page at once).
    """
    profile = profile or profile_with_counts(engagement.account)
    blockers = [
        Blocker(f"Client intelligence profile: {message}", profile_url(engagement.account, anchor))
        for message, anchor in profile.missing()
    ]
    if has_analysis is None:
        has_analysis = (
            engagement.pk is not None
            and FailureCostAnalysis.objects.complete().filter(engagement=engagement).exists()
        )
    if not has_analysis:
        blockers.append(
            Blocker(
                "Complete a Failure-Cost Analysis for this engagement: at least one failure "
                "scenario, each quantified on operational, financial and reputational cost.",
                discovery_url(engagement),
            )
        )
    return blockers


def proposal_guard(
    engagement: Engagement, to_stage: str, on: dt.date, organisation: OrganisationSettings
) -> list[Blocker]:
    """Discovery precedes proposal, without exception from the TCP adoption date on.

    A proposal dated before adoption is history from before the model existed, and exempt.
    """
    if to_stage != Stage.PROPOSAL or on < organisation.tcp_adoption_date:
        return []
    return discovery_blockers(engagement=engagement)


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    done: bool
    url: str
    detail: str = ""


def discovery_checklist(
    *, engagement: Engagement, profile: ClientIntelligenceProfile | None = None
) -> list[ChecklistItem]:
    """The discovery page's checklist: each condition of the rule and whether it holds."""
    profile = profile or profile_with_counts(engagement.account)
    gaps = profile.missing()
    analyses = FailureCostAnalysis.objects.filter(engagement=engagement)
    complete, total = analyses.complete().count(), analyses.count()
    interviews = (
        f"{complete} of {total} interview{'' if total == 1 else 's'} complete."
        if total
        else "No interview recorded yet."
    )
    return [
        ChecklistItem(
            "Client intelligence profile complete",
            not gaps,
            profile_url(engagement.account),
            " ".join(message for message, _ in gaps),
        ),
        ChecklistItem(
            "A Failure-Cost Analysis completed",
            complete > 0,
            discovery_url(engagement) + "#analyses",
            interviews,
        ),
    ]


# Client intelligence profile -----------------------------------------------------------


@transaction.atomic
def profile_get_or_create(*, account: Account, actor: User | None) -> ClientIntelligenceProfile:
    """The account's profile; the first edit starts it, and the audit trail says who did."""
    profile, created = ClientIntelligenceProfile.objects.get_or_create(account=account)
    if created:
        audit_record(actor=actor, action="profile.create", obj=profile)
    return profile


PROFILE_FIELDS = ("business_context", "operational_constraints", "no_regulatory_obligations")


def profile_update(
    *,
    profile: ClientIntelligenceProfile,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> ClientIntelligenceProfile:
    return record_update(
        obj=profile, actor=actor, data=data, action="profile.update", expected_version=version
    )


def growth_target_save(
    *,
    profile: ClientIntelligenceProfile,
    actor: User | None,
    data: Mapping[str, Any],
    target: GrowthTarget | None = None,
    version: int | None = None,
) -> GrowthTarget:
    item = target or GrowthTarget(profile=profile)
    return record_save(
        item=item, actor=actor, data=data, noun="target", audit_on=profile, version=version
    )


def obligation_save(
    *,
    profile: ClientIntelligenceProfile,
    actor: User | None,
    data: Mapping[str, Any],
    obligation: RegulatoryObligation | None = None,
    version: int | None = None,
) -> RegulatoryObligation:
    item = obligation or RegulatoryObligation(profile=profile)
    return record_save(
        item=item, actor=actor, data=data, noun="obligation", audit_on=profile, version=version
    )


def stakeholder_save(
    *,
    profile: ClientIntelligenceProfile,
    actor: User | None,
    data: Mapping[str, Any],
    stakeholder: Stakeholder | None = None,
    version: int | None = None,
) -> Stakeholder:
    item = stakeholder or Stakeholder(profile=profile)
    return record_save(
        item=item, actor=actor, data=data, noun="stakeholder", audit_on=profile, version=version
    )


def profile_item_delete(
    *, item: GrowthTarget | RegulatoryObligation | Stakeholder, actor: User | None
) -> None:
    noun = {GrowthTarget: "target", RegulatoryObligation: "obligation", Stakeholder: "stakeholder"}
    record_delete(obj=item, actor=actor, action=f"{noun[type(item)]}.delete", audit_on=item.profile)


# Failure-Cost Analysis -----------------------------------------------------------------

ANALYSIS_FIELDS = ("title", "held_on", "interviewer", "interviewees", "notes")


def _check_contacts(engagement: Engagement, contacts: Any, field: str) -> None:
    foreign = [c for c in contacts or [] if c.account_id != engagement.account_id]
    if foreign:
        raise ValidationError({field: f"{foreign[0]} is not a contact at {engagement.account}."})


def fca_create(
    *, engagement: Engagement, actor: User | None, data: Mapping[str, Any]
) -> FailureCostAnalysis:
    """Start a Failure-Cost Analysis interview for an engagement."""
    _check_contacts(engagement, data.get("interviewees"), "interviewees")
    analysis = FailureCostAnalysis(engagement=engagement)
    return record_create(
        obj=analysis, actor=actor, data=data, action="fca.create", audit_on=engagement
    )


def fca_update(
    *,
    analysis: FailureCostAnalysis,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> FailureCostAnalysis:
    _check_contacts(analysis.engagement, data.get("interviewees"), "interviewees")
    return record_update(
        obj=analysis,
        actor=actor,
        data=data,
        action="fca.update",
        expected_version=version,
        audit_on=analysis.engagement,
    )


@transaction.atomic
def fca_delete(*, analysis: FailureCostAnalysis, actor: User | None) -> None:
    """Remove an interview with its scenarios (and constraints left with no scenario)."""
    orphans = NeverEvent.objects.filter(scenarios__analysis=analysis).exclude(
        scenarios__analysis__in=FailureCostAnalysis.objects.exclude(pk=analysis.pk)
    )
    for never_event in orphans.distinct():
        never_event_delete(never_event=never_event, actor=actor)
    record_delete(obj=analysis, actor=actor, action="fca.delete", audit_on=analysis.engagement)


def fca_incomplete_reasons(analysis: FailureCostAnalysis) -> list[str]:
    """Why the interview cannot be completed yet (empty: it can)."""
    scenarios = list(analysis.scenarios.all())
    if not scenarios:
        return ["Add at least one failure scenario."]
    return [
        f"Quantify “{s.what_fails}”: {', '.join(s.missing_dimensions())} impact missing."
        for s in scenarios
        if s.missing_dimensions()
    ]


def _lock(analysis: FailureCostAnalysis) -> FailureCostAnalysis:
    return FailureCostAnalysis.objects.select_for_update().get(pk=analysis.pk)


def _bump(analysis: FailureCostAnalysis, actor: User | None, *fields: str) -> None:
    analysis.updated_by = actor
    analysis.save(update_fields=[*fields, "version", "updated_by", "updated_at"])


@transaction.atomic
def fca_complete(*, analysis: FailureCostAnalysis, actor: User | None) -> FailureCostAnalysis:
    """Mark the interview complete.

    Preconditions: at least one scenario, each quantified on all three dimensions;
    otherwise ValidationError listing what is missing. Completing twice changes nothing.
    """
    locked = _lock(analysis)
    if locked.is_complete:
        return locked
    reasons = fca_incomplete_reasons(locked)
    if reasons:
        raise ValidationError(reasons)
    locked.completed_at = timezone.now()
    locked.completed_by = actor
    _bump(locked, actor, "completed_at", "completed_by")
    scenarios = locked.scenarios.count()
    audit_record(
        actor=actor,
        action="fca.complete",
        obj=locked.engagement,
        changes={"item": str(locked), "scenarios": scenarios},
    )
    return locked


@transaction.atomic
def fca_reopen(*, analysis: FailureCostAnalysis, actor: User | None) -> FailureCostAnalysis:
    """Take an interview back to draft (its sign-off no longer stands)."""
    locked = _lock(analysis)
    if not locked.is_complete:
        return locked
    locked.completed_at = locked.completed_by = None
    locked.signed_off_by = locked.signed_off_on = None
    _bump(locked, actor, "completed_at", "completed_by", "signed_off_by", "signed_off_on")
    audit_record(
        actor=actor, action="fca.reopen", obj=locked.engagement, changes={"item": str(locked)}
    )
    return locked


@transaction.atomic
def fca_sign_off(
    *, analysis: FailureCostAnalysis, actor: User | None, contact: Contact, on: dt.date
) -> FailureCostAnalysis:
    """Record that the client confirmed the figures of a complete interview."""
    locked = _lock(analysis)
    if not locked.is_complete:
        raise ValidationError("Complete the interview before the client signs it off.")
    _check_contacts(locked.engagement, [contact], "contact")
    if on > timezone.localdate():
        raise ValidationError({"on": "The sign-off date cannot be in the future."})
    locked.signed_off_by, locked.signed_off_on = contact, on
    _bump(locked, actor, "signed_off_by", "signed_off_on")
    audit_record(
        actor=actor,
        action="fca.sign_off",
        obj=locked.engagement,
        changes={"item": str(locked), "signed_off_by": str(contact), "on": on},
    )
    return locked


@transaction.atomic
def scenario_save(
    *,
    analysis: FailureCostAnalysis,
    actor: User | None,
    data: Mapping[str, Any],
    scenario: FailureScenario | None = None,
    version: int | None = None,
) -> FailureScenario:
    """Add or change a failure scenario.

    A complete interview stays complete: a scenario saved into it must be quantified on all
    three dimensions, or the save is refused (reopen the interview to draft it).
    """
    locked = _lock(analysis)
    item = scenario or FailureScenario(analysis=locked)
    saved = record_save(
        item=item,
        actor=actor,
        data=data,
        noun="scenario",
        audit_on=locked.engagement,
        version=version,
    )
    missing = saved.missing_dimensions()
    if locked.is_complete and missing:
        raise ValidationError(
            f"This interview is complete, so every scenario must stay quantified: add the "
            f"{', '.join(missing)} figures, or reopen the interview first."
        )
    return saved


@transaction.atomic
def scenario_delete(*, scenario: FailureScenario, actor: User | None) -> None:
    locked = _lock(scenario.analysis)
    if locked.is_complete and locked.scenarios.count() == 1:
        raise ValidationError(
            "A complete interview keeps at least one scenario: reopen it to remove the last one."
        )
    record_delete(obj=scenario, actor=actor, action="scenario.delete", audit_on=locked.engagement)


@transaction.atomic
def never_event_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    never_event: NeverEvent | None = None,
    version: int | None = None,
) -> NeverEvent:
    """Record a “must never happen” constraint and the scenarios that justify it (at least one,
    from this engagement's interviews)."""
    scenarios = list(data.get("scenarios") or [])
    if not scenarios:
        raise ValidationError(
            {"scenarios": "Link at least one failure scenario that justifies it."}
        )
    if any(s.analysis.engagement_id != engagement.pk for s in scenarios):
        raise ValidationError({"scenarios": "Choose scenarios from this engagement's interviews."})
    item = never_event or NeverEvent(engagement=engagement)
    return record_save(
        item=item, actor=actor, data=data, noun="constraint", audit_on=engagement, version=version
    )


def never_event_delete(*, never_event: NeverEvent, actor: User | None) -> None:
    record_delete(
        obj=never_event, actor=actor, action="constraint.delete", audit_on=never_event.engagement
    )


# TCO -----------------------------------------------------------------------------------


@transaction.atomic
def tco_get_or_create(*, engagement: Engagement, actor: User | None) -> TcoComparison:
    """The engagement's TCO comparison; a new one starts with our proposal and the status quo
    (the engagement's audit trail says who started it)."""
    comparison, created = TcoComparison.objects.get_or_create(engagement=engagement)
    if created:
        audit_record(actor=actor, action="tco.create", obj=engagement)
        TcoAlternative.objects.bulk_create(
            [
                TcoAlternative(
                    comparison=comparison, kind=AlternativeKind.OURS, name="Our proposal"
                ),
                TcoAlternative(
                    comparison=comparison, kind=AlternativeKind.STATUS_QUO, name="Status quo"
                ),
            ]
        )
    return comparison


@transaction.atomic
def tco_save(
    *,
    engagement: Engagement,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> TcoComparison:
    """Change the comparison's lifespan and value proposition, starting the comparison on
    the first save (nothing is written when the values are refused)."""
    comparison = tco_get_or_create(engagement=engagement, actor=actor)
    if comparison.version == 1 and version is None:
        version = 1
    return tco_update(comparison=comparison, actor=actor, data=data, version=version)


def tco_update(
    *,
    comparison: TcoComparison,
    actor: User | None,
    data: Mapping[str, Any],
    version: int | None = None,
) -> TcoComparison:
    return record_update(
        obj=comparison,
        actor=actor,
        data=data,
        action="tco.update",
        expected_version=version,
        audit_on=comparison.engagement,
    )


def alternative_save(
    *,
    comparison: TcoComparison,
    actor: User | None,
    data: Mapping[str, Any],
    alternative: TcoAlternative | None = None,
    version: int | None = None,
) -> TcoAlternative:
    item = alternative or TcoAlternative(comparison=comparison, kind=AlternativeKind.COMPETITOR)
    return record_save(
        item=item,
        actor=actor,
        data=data,
        noun="alternative",
        audit_on=comparison.engagement,
        version=version,
    )


def alternative_delete(*, alternative: TcoAlternative, actor: User | None) -> None:
    if alternative.kind != AlternativeKind.COMPETITOR:
        raise ValidationError(
            f"{alternative.get_kind_display()} is always part of the comparison; rename it instead."
        )
    record_delete(
        obj=alternative,
        actor=actor,
        action="alternative.delete",
        audit_on=alternative.comparison.engagement,
    )


def cost_line_save(
    *,
    alternative: TcoAlternative,
    actor: User | None,
    data: Mapping[str, Any],
    line: TcoCostLine | None = None,
    version: int | None = None,
) -> TcoCostLine:
    item = line or TcoCostLine(alternative=alternative)
    return record_save(
        item=item,
        actor=actor,
        data=data,
        noun="cost_line",
        audit_on=alternative.comparison.engagement,
        version=version,
    )


def cost_line_delete(*, line: TcoCostLine, actor: User | None) -> None:
    record_delete(
        obj=line,
        actor=actor,
        action="cost_line.delete",
        audit_on=line.alternative.comparison.engagement,
    )


def engagement_failure_costs(engagement: Engagement) -> dict[str, Any]:
    """Totals of the engagement's failure scenarios: from complete interviews when there are
    any (the client stands behind those figures), else from every interview."""
    scenarios = FailureScenario.objects.filter(analysis__engagement=engagement)
    complete = scenarios.filter(analysis__completed_at__isnull=False)
    if complete.exists():
        scenarios = complete
    return scenarios.totals()


@transaction.atomic
def downtime_from_failure_costs(*, alternative: TcoAlternative, actor: User | None) -> TcoCostLine:
    """Set an alternative's yearly downtime cost to the expected yearly loss found in the
    Failure-Cost Analysis. Refused when no scenario has been recorded."""
    engagement = alternative.comparison.engagement
    totals = engagement_failure_costs(engagement)
    if not totals["count"]:
        raise ValidationError("Record failure scenarios first: there is no failure cost to use.")
    amount = Decimal(totals["expected_loss"] or 0).quantize(Decimal("0.01"))
    line = TcoCostLine.objects.filter(
        alternative=alternative, category=CostCategory.DOWNTIME
    ).first()
    data = {
        "category": CostCategory.DOWNTIME,
        "amount": amount,
        "assumption": f"Expected yearly loss of {totals['count']} failure scenario(s) from the "
        "Failure-Cost Analysis.",
    }
    return cost_line_save(
        alternative=alternative,
        actor=actor,
        data=data,
        line=line,
        version=line.version if line else None,
    )
