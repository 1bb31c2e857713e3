"""What certification puts into a proposal: the people on the engagement and where each
stands with the technical certification. Registered from CertificationConfig.ready()."""

from __future__ import annotations

from certification.models import Enrollment, Status
from engagements.documents import (
    Context,
    DocumentSection,
    SectionData,
    day,
    document_section_register,
)
from engagements.models import AccountTeamMember, DocumentKind


def team(context: Context) -> SectionData:
    engagement = context.engagement
    seats = [
        (seat.user, seat.get_role_display())
        for seat in AccountTeamMember.objects.filter(account=engagement.account)
        .select_related("user")
        .order_by("role", "user__first_name", "user__last_name")
    ]
    people = [(engagement.commercial_lead, "Commercial lead")]
    if engagement.delivery_manager is not None:
        people.append((engagement.delivery_manager, "Delivery manager"))
    seen = {person.pk for person, _ in people}
    people += [(user, role) for user, role in seats if user.pk not in seen and user.is_active]
    enrollments = {
        e.person_id: e
        for e in Enrollment.objects.active()
        .filter(person__in=[person.pk for person, _ in people])
        .with_status(context.today)
    }
    rows = []
    for person, role in people:
        enrollment = enrollments.get(person.pk)
        if enrollment is None:
            status = "not in a commercial role" if not person.is_commercial else "not enrolled"
        elif enrollment.standing == Status.CERTIFIED:  # type: ignore[attr-defined]
            status = f"Certified on {day(enrollment.certified_on)}"
        else:
            label = Status(enrollment.standing).label  # type: ignore[attr-defined]
            status = (
                f"{label}: {enrollment.passed} of {enrollment.modules} modules, "  # type: ignore[attr-defined]
                f"due {day(enrollment.due_on)}"
            )
        rows.append({"name": str(person), "role": role, "certification": status})
    return {"people": rows}


SECTION = DocumentSection(
    "team",
    "The account team and their certification",
    70,
    "certification/documents/_team.html",
    team,
)


def register() -> None:
    document_section_register(DocumentKind.PROPOSAL, SECTION)
