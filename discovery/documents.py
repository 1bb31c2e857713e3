"""What discovery puts into a proposal: the client's context, the failure costs and the
constraints they justify, and the TCO comparison. Registered with the engagement's documents
from DiscoveryConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from django.db.models import Prefetch

from discovery.charts import tco_chart
from discovery.models import (
    ClientIntelligenceProfile,
    FailureScenario,
    NeverEvent,
    Severity,
    TcoAlternative,
    TcoComparison,
)
from engagements.documents import (
    Context,
    DocumentSection,
    SectionData,
    document_section_register,
    number,
    svg_data_uri,
)
from engagements.models import BuyerRole, DocumentKind


def _profile(context: Context) -> ClientIntelligenceProfile | None:
    """The account's profile, read once for the sections that show it."""
    return context.once(
        "profile",
        lambda: (
            ClientIntelligenceProfile.objects.filter(account=context.document.account)
            .prefetch_related("growth_targets", "obligations", "stakeholders__contact")
            .first()
        ),
    )


def client_context(context: Context) -> SectionData:
    profile = _profile(context)
    if profile is None:
        return {"business": "", "constraints": "", "targets": [], "stakeholders": []}
    return {
        "business": profile.business_context,
        "constraints": profile.operational_constraints,
        "targets": [
            {
                "metric": t.metric,
                "baseline": f"{number(t.baseline, 2)} {t.unit}".strip(),
                "target": f"{number(t.target, 2)} {t.unit}".strip(),
                "year": t.horizon_year,
            }
            for t in profile.growth_targets.all()
        ],
        "stakeholders": [
            {
                "name": str(s.contact),
                "title": s.contact.job_title,
                "role": BuyerRole(s.buyer_role).label,
                "notes": s.notes,
            }
            for s in profile.stakeholders.all()
        ],
    }


def regulatory(context: Context) -> SectionData:
    profile = _profile(context)
    return {
        "obligations": [
            {"framework": o.framework_name, "requirement": o.requirement}
            for o in (profile.obligations.all() if profile else [])
        ],
        "none_apply": bool(profile and profile.no_regulatory_obligations),
    }


def _scenario_text(scenario: FailureScenario, fmt: Callable[[Any], str]) -> dict[str, str]:
    severity = scenario.reputational_severity
    return {
        "id": f"scenario-{scenario.pk}",
        "what": scenario.what_fails,
        "analysis": scenario.analysis.title,
        "incident_cost": fmt(scenario.incident_cost),  # type: ignore[attr-defined]
        "expected_loss": fmt(scenario.expected_loss),  # type: ignore[attr-defined]
        "likelihood": number(scenario.likelihood_per_year, 3),
        "hours": number(scenario.disruption_hours, 2),
        "severity": Severity(severity).label if severity else "—",
        "regulatory": scenario.regulatory_exposure,
        "downtime": (
            number(scenario.tolerable_downtime_hours, 2)
            if scenario.tolerable_downtime_hours is not None
            else "—"
        ),
    }


def failure_costs(context: Context) -> SectionData:
    """The scenarios of the engagement's complete interviews (the figures the client signed
    up to), and each "must never happen" constraint with the scenarios behind it."""
    scenarios = list(
        FailureScenario.objects.filter(
            analysis__engagement=context.engagement, analysis__completed_at__isnull=False
        )
        .with_figures()
        .select_related("analysis__signed_off_by")
        .order_by("-expected_loss", "id")  # type: ignore[misc]  # an annotation
    )
    totals = FailureScenario.objects.filter(pk__in=[s.pk for s in scenarios]).totals()
    analyses = {s.analysis_id: s.analysis for s in scenarios}
    by_id = {s.pk: _scenario_text(s, context.money) for s in scenarios}
    constraints = NeverEvent.objects.filter(engagement=context.engagement).prefetch_related(
        Prefetch("scenarios", queryset=FailureScenario.objects.order_by("id"))
    )
    return {
        "interviews": [
            {
                "title": a.title,
                "held": f"{a.held_on:%-d %b %Y}",
                "signed_off": (
                    f"signed off by {a.signed_off_by} on {a.signed_off_on:%-d %b %Y}"
                    if a.signed_off_by and a.signed_off_on
                    else "not signed off yet"
                ),
            }
            for a in analyses.values()
        ],
        "scenarios": list(by_id.values()),
        "expected_loss": context.money(totals["expected_loss"]),
        "worst_case": context.money(totals["worst_case"]),
        "constraints": [
            {
                "statement": c.statement,
                "because": [
                    by_id[s.pk]
                    for s in c.scenarios.all()
                    if s.pk in by_id  # a draft interview's scenario is not evidence yet
                ],
            }
            for c in constraints
        ],
    }


def tco(context: Context) -> SectionData | None:
    comparison = TcoComparison.objects.filter(engagement=context.engagement).first()
    if comparison is None:
        return {"alternatives": [], "chart": "", "lifespan": 0}
    alternatives = list(
        TcoAlternative.objects.filter(comparison=comparison)
        .with_totals()
        .select_related("comparison")
    )
    ours = next((a for a in alternatives if a.kind == "ours"), None)
    rows = []
    for a in alternatives:
        difference = (a.lifetime - ours.lifetime) if ours is not None and a is not ours else None
        rows.append(
            {
                "name": a.name,
                "kind": a.get_kind_display(),
                "one_off": context.money(a.one_off),
                "yearly": context.money(a.yearly),
                "lifetime": context.money(a.lifetime),
                "difference": context.money(difference) if difference is not None else "",
                "ours": a is ours,
            }
        )
    currency = context.organisation.currency
    chart_rows = [
        SimpleNamespace(
            name=a.name,
            one_off=a.one_off,
            yearly=a.yearly,
            lifetime=a.lifetime,
            comparison=a.comparison,
        )
        for a in alternatives
    ]
    return {
        "lifespan": comparison.lifespan_years,
        "alternatives": rows,
        "chart": svg_data_uri(tco_chart(chart_rows, currency=currency)) if alternatives else "",
        "reward": comparison.expected_reward,
        "risks": comparison.risks,
    }


SECTIONS = (
    DocumentSection(
        "client-context",
        "The client's context and growth targets",
        10,
        "discovery/documents/_client_context.html",
        client_context,
    ),
    DocumentSection(
        "regulatory",
        "Regulatory obligations",
        20,
        "discovery/documents/_regulatory.html",
        regulatory,
    ),
    DocumentSection(
        "failure-costs",
        "What a failure would cost, and what must never happen",
        30,
        "discovery/documents/_failure_costs.html",
        failure_costs,
    ),
    DocumentSection("tco", "Total cost of ownership", 50, "discovery/documents/_tco.html", tco),
)


def register() -> None:
    for section in SECTIONS:
        document_section_register(DocumentKind.PROPOSAL, section)
