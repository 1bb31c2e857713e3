"""The curriculum an organisation starts with: nine months, three tracks, twelve modules.

Administrators change it by publishing a new version in the back office; this text is only
the first version, installed when no curriculum exists yet.
"""

from __future__ import annotations

from typing import NamedTuple

from certification.models import Track

DEFAULT_NAME = "Technical certification for commercial staff"
DEFAULT_SUMMARY = (
    "Nine months to hold a technical conversation as an equal: how software is tested, how "
    "delivery is planned and steered, and how requirements and architecture are worked out. "
    "Each module ends with an assessment; the certificate needs every module passed."
)


class ModuleText(NamedTuple):
    track: str
    month: int
    title: str
    description: str
    pass_mark: int = 70


DEFAULT_MODULES = [
    ModuleText(
        Track.QUALITY_ASSURANCE,
        1,
        "How software fails",
        "Defects, their severity and priority, and what a defect costs depending on when it "
        "is found. Reading a test report and asking the question it does not answer.",
    ),
    ModuleText(
        Track.BUSINESS_ANALYSIS,
        1,
        "Stakeholders and the business case",
        "Mapping the economic, technical and user buyers; turning a client's growth targets "
        "into outcomes a solution can be measured against.",
    ),
    ModuleText(
        Track.PROJECT_MANAGEMENT,
        2,
        "Delivery lifecycles",
        "Plan-driven, iterative and agile delivery, and which one fits a fixed-price or a "
        "time-and-materials contract.",
    ),
    ModuleText(
        Track.QUALITY_ASSURANCE,
        3,
        "Test strategy",
        "Unit, integration, system and acceptance testing; risk-based test planning; what a "
        "credible test plan for a live migration contains.",
    ),
    ModuleText(
        Track.BUSINESS_ANALYSIS,
        3,
        "Requirements that hold",
        "User stories, use cases and acceptance criteria; the non-functional requirements an "
        "RFP leaves out, and how to draw them out in discovery.",
    ),
    ModuleText(
        Track.PROJECT_MANAGEMENT,
        4,
        "Estimation and planning",
        "Work breakdown, three-point estimates, contingency and the critical path; reading an "
        "estimate for the assumptions it hides.",
    ),
    ModuleText(
        Track.QUALITY_ASSURANCE,
        5,
        "Performance, resilience and security",
        "Load and soak tests, failover drills, recovery time and recovery point objectives, "
        "common security weaknesses; turning a failure cost into an acceptance test.",
    ),
    ModuleText(
        Track.PROJECT_MANAGEMENT,
        6,
        "Scope, change and risk",
        "Change control, risk and issue logs, and why a scoping miss becomes a change request "
        "half-way through delivery.",
    ),
    ModuleText(
        Track.BUSINESS_ANALYSIS,
        6,
        "Processes, data and integrations",
        "As-is and to-be process maps, data flows and an inventory of the systems a solution "
        "must talk to.",
    ),
    ModuleText(
        Track.BUSINESS_ANALYSIS,
        7,
        "Architecture trade-offs",
        "Monoliths and services, hosting models, integration patterns, build or buy: the "
        "choices a client's CTO weighs, and what each costs over its life.",
        75,
    ),
    ModuleText(
        Track.QUALITY_ASSURANCE,
        8,
        "Quality in the contract",
        "Acceptance criteria, definition of done, warranty and hypercare, service levels and "
        "how each is measured.",
        75,
    ),
    ModuleText(
        Track.PROJECT_MANAGEMENT,
        9,
        "Steering a delivery",
        "Status reporting that tells the truth, earned value in plain numbers, escalation "
        "paths and recovery plans for a delivery going off course.",
        75,
    ),
]
