"""Hiring in a real Chromium: two panel members score an audition without seeing each
other's marks first, the comparison ranks the candidates, the hiring manager hires one and
sales leadership finds the new colleague in the certification team view."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from certification.models import Enrollment
from hiring import services
from hiring.models import Candidate, JobProfile, Opening, Stage
from tcp.models import Role, User
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WEAK = {
    "business_applicability": 1,
    "technical_clarity": 2,
    "audience_engagement": 1,
    "presentation_style": 2,
}


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def _at_audition(opening: Opening, manager: User, first: str, last: str, rating: int) -> Candidate:
    """A candidate walked through screening and interview by the services, with every
    planned question rated `rating`."""
    candidate = services.candidate_add(
        opening=opening,
        first_name=first,
        last_name=last,
        email=f"{first.lower()}@example.org",
        actor=manager,
    )
    questions = opening.profile.plan.values_list("question_id", flat=True)
    for stage in (Stage.INTERVIEW, Stage.AUDITION):
        services.candidate_advance(candidate=candidate, stage=stage, actor=manager)
        if stage == Stage.INTERVIEW:
            services.interview_record(
                candidate=candidate,
                ratings=dict.fromkeys(questions, (rating, "")),
                interviewer=manager,
            )
    return candidate


def _score(page: Page, scores: dict[str, str], would_buy: str, notes: str) -> None:
    # Each criterion is a row of radio buttons under the criterion's name.
    for label, value in {**scores, "Would you buy from this candidate?": would_buy}.items():
        field = page.locator(".field", has=page.get_by_text(label, exact=True))
        field.get_by_label(value, exact=True).check()
    page.get_by_label("Notes").fill(notes)
    page.get_by_role("button", name="Submit my scores").click()


def test_a_panel_scores_an_audition_and_the_hire_appears_in_the_certification_team(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    manager = UserFactory.create(
        username="harper", first_name="Harper", last_name="Quinn", roles=[Role.HIRING_MANAGER]
    )
    priya = UserFactory.create(
        username="priya", first_name="Priya", last_name="Shah", roles=[Role.DELIVERY_MANAGER]
    )
    omar = UserFactory.create(
        username="omar", first_name="Omar", last_name="Haddad", roles=[Role.DELIVERY_MANAGER]
    )
    UserFactory.create(
        username="sam", first_name="Sam", last_name="Reyes", roles=[Role.SALES_LEADERSHIP]
    )
    opening = services.opening_create(
        title="Technical seller, public sector",
        profile=services.profile_create_starter(actor=manager),
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
        panel=[priya, omar],
        actor=manager,
    )
    ada = _at_audition(opening, manager, "Ada", "Lovelace", rating=3)
    grace = _at_audition(opening, manager, "Grace", "Hopper", rating=4)
    # Ada's audition is already behind her: both panel members found it weak.
    for member in (priya, omar):
        services.audition_score_submit(
            candidate=ada, panelist=member, scores=WEAK, would_buy=False, notes=""
        )
    base = str(live_server)
    grace_url = f"{base}/hiring/candidates/{grace.uuid}/"

    # Priya scores Grace first; before that she sees nobody's marks.
    _sign_in(page, base, "priya")
    page.goto(grace_url)
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_text("The panel's scores show once you have submitted")).to_be_visible()
    page.get_by_role("link", name="Score the audition").click()
    expect(page.get_by_text("No panel scores yet.")).to_have_count(0)
    expect(page.get_by_text("You will see the rest of the panel's scores")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "audition-form.png"), full_page=True)
    _score(
        page,
        {
            "Business applicability": "3",
            "Technical clarity": "3",
            "Audience engagement": "3",
            "Presentation style": "2",
        },
        would_buy="Yes",
        notes="Tied the platform to the council's budget cycle",
    )
    expect(page.get_by_text("Your scores are in.")).to_be_visible()
    expect(page.get_by_text("You gave 11 of 12 and would buy")).to_be_visible()
    expect(page.get_by_text("1 panel score ·")).to_be_visible()
    _sign_out(page)

    # Omar, not yet scored, sees none of Priya's marks: not on the candidate, the audition
    # page or the comparison.
    _sign_in(page, base, "omar")
    page.goto(grace_url)
    expect(page.get_by_text("The panel's scores show once you have submitted")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("council's budget cycle")
    page.get_by_role("link", name="Score the audition").click()
    expect(page.get_by_role("button", name="Submit my scores")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("council's budget cycle")
    expect(page.locator("main")).not_to_contain_text("11/12")
    page.goto(f"{base}/hiring/openings/{opening.uuid}/compare/")
    grace_row = page.locator("#comparison tbody tr", has_text="Grace Hopper")
    expect(grace_row).to_contain_text("hidden until you score")
    page.screenshot(path=str(artifacts_dir / "comparison-before-scoring.png"), full_page=True)
    page.goto(f"{base}/hiring/candidates/{grace.uuid}/audition/")
    _score(
        page,
        {
            "Business applicability": "3",
            "Technical clarity": "2",
            "Audience engagement": "2",
            "Presentation style": "2",
        },
        would_buy="Yes",
        notes="Clear on the architecture, a little quiet with questions",
    )
    # Now both, with the spread and not only the mean.
    expect(page.get_by_text("You gave 9 of 12 and would buy")).to_be_visible()
    summary = page.locator("main")
    expect(summary).to_contain_text("2 panel scores")
    expect(summary).to_contain_text("mean 10.0, lowest 9, highest 11")
    expect(summary).to_contain_text("2 would buy")
    expect(summary).to_contain_text("Priya Shah: 11/12, would buy — Tied the platform")
    page.screenshot(path=str(artifacts_dir / "audition-panel-scores.png"), full_page=True)
    _sign_out(page)

    # The hiring manager compares the two: Grace leads overall and on the audition.
    _sign_in(page, base, "harper")
    page.get_by_role("link", name="Hiring").click()
    page.get_by_role("link", name="Technical seller, public sector").click()
    page.get_by_role("link", name="Compare candidates").click()
    rows = page.locator("#comparison tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Grace Hopper")
    expect(rows.nth(0)).to_contain_text("10.0 (9–11, 2/2 would buy)")
    expect(rows.nth(1)).to_contain_text("Ada Lovelace")
    expect(rows.nth(1)).to_contain_text("6.0 (6–6, 0/2 would buy)")
    page.get_by_role("link", name="Audition").click()
    expect(page).to_have_url(f"{base}/hiring/openings/{opening.uuid}/compare/?sort=audition")
    expect(rows.nth(0)).to_contain_text("Grace Hopper")
    page.get_by_role("link", name="Audition ▲").click()
    expect(rows.nth(0)).to_contain_text("Ada Lovelace")
    page.screenshot(path=str(artifacts_dir / "comparison.png"), full_page=True)

    # Grace moves on to the decision and is hired.
    page.get_by_role("link", name="Grace Hopper").click()
    page.get_by_label("Stage").select_option(label="Move on to decision")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Stage: Decision")).to_be_visible()
    hire = page.locator("section", has=page.get_by_role("heading", name="Hire", exact=True))
    # A username taken already is refused beside the field, in place.
    hire.get_by_label("Username").fill("priya")
    hire.get_by_label("Why this candidate").fill("Strongest interview and audition of the two.")
    page.get_by_role("button", name="Hire Grace Hopper").click()
    expect(hire.get_by_text("Someone already has this username.")).to_be_visible()
    expect(page.get_by_text("Stage: Decision")).to_be_visible()
    hire.get_by_label("Username").fill("grace.hopper")
    # The new colleague reports to the opening's hiring manager unless another is chosen.
    expect(hire.get_by_label("Reports to")).to_have_value(str(manager.pk))
    page.screenshot(path=str(artifacts_dir / "hire-form.png"), full_page=True)
    page.get_by_role("button", name="Hire Grace Hopper").click()
    expect(
        page.get_by_text("is hired as grace.hopper, reports to Harper Quinn, and is enrolled")
    ).to_be_visible()
    expect(page.get_by_text("Stage: Hired")).to_be_visible()
    expect(page.locator("main")).to_contain_text("now grace.hopper, reporting to Harper Quinn")
    page.screenshot(path=str(artifacts_dir / "hired.png"), full_page=True)

    hired = User.objects.get(username="grace.hopper")
    assert (hired.first_name, hired.last_name, hired.roles, hired.manager) == (
        "Grace",
        "Hopper",
        [Role.ACCOUNT_MANAGER],
        manager,
    )
    assert Enrollment.objects.filter(person=hired, closed_on__isnull=True).count() == 1
    grace.refresh_from_db()
    assert (grace.stage, grace.hired_user, grace.decided_by) == (Stage.HIRED, hired, manager)
    assert Candidate.objects.get(pk=ada.pk).stage == Stage.AUDITION

    # Harper now manages Grace: she is in Harper's own certification team.
    page.get_by_role("link", name="Certification").click()
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team certification")).to_be_visible()
    expect(page.get_by_text("The people who report to you")).to_be_visible()
    row = page.locator("#results tbody tr", has_text="Grace Hopper")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("0 of")
    page.screenshot(path=str(artifacts_dir / "certification-team.png"), full_page=True)
    _sign_out(page)

    # Sales leadership sees everyone enrolled, the new colleague among them, with her manager.
    _sign_in(page, base, "sam")
    page.goto(f"{base}/certification/team/")
    row = page.locator("#results tbody tr", has_text="Grace Hopper")
    expect(row).to_contain_text("Harper Quinn")


def test_a_hiring_manager_shapes_a_profile_and_the_panel_in_place(
    live_server: object, page: Page, artifacts_dir: Path
) -> None:
    manager = UserFactory.create(
        username="harper", first_name="Harper", last_name="Quinn", roles=[Role.HIRING_MANAGER]
    )
    priya = UserFactory.create(
        username="priya", first_name="Priya", last_name="Shah", roles=[Role.DELIVERY_MANAGER]
    )
    omar = UserFactory.create(
        username="omar", first_name="Omar", last_name="Haddad", roles=[Role.DELIVERY_MANAGER]
    )
    services.question_bank_install(actor=manager)
    base = str(live_server)
    _sign_in(page, base, "harper")
    page.goto(f"{base}/hiring/")
    page.get_by_role("link", name="Job profiles and interview plans").click()
    expect(page.get_by_text("No job profiles yet")).to_be_visible()
    page.get_by_label("Title").fill("Technical seller, health")
    page.get_by_label("Objectives").fill("Win clinical and IT buyers; own the relationship.")
    page.get_by_role("button", name="Create the profile").click()
    expect(page.get_by_role("heading", name="Technical seller, health")).to_be_visible()
    expect(page.get_by_text("No attribute yet: interviews cannot be weighted.")).to_be_visible()

    # An attribute added, then its weight changed as one types: the weights follow.
    add = page.locator("#attribute-add")
    add.get_by_label("Category").select_option("technical")
    add.get_by_label("Attribute").fill("Explains integration on a whiteboard")
    add.get_by_label("Weight").fill("4")
    add.get_by_role("button", name="Add attribute").click()
    card = page.locator("#attribute-list .row-card").first
    expect(card.get_by_label("Attribute")).to_have_value("Explains integration on a whiteboard")
    weights = page.locator("#profile-weights")
    expect(weights.get_by_role("row", name="Technical 4 100%")).to_be_visible()
    card.get_by_label("Weight").fill("12")
    expect(card.get_by_text("Give a whole number from 1 to 10.")).to_be_visible()
    card.get_by_label("Weight").fill("6")
    expect(card.locator(".save-status")).to_contain_text("Saved")
    expect(weights.get_by_role("row", name="Technical 6 100%")).to_be_visible()

    # A question from the bank, found by a word, goes into the plan with its guidance.
    page.get_by_label("Search the bank").fill("whiteboard")
    bank = page.locator("#bank")
    expect(bank.locator("li")).to_have_count(1)
    bank.get_by_role("button", name="Add to the plan").click()
    plan = page.locator("#plan-list")
    expect(plan.locator("li")).to_have_count(1)
    expect(plan).to_contain_text("Describe a technology solution you helped put in place")
    expect(plan).to_contain_text("Look for:")
    expect(page.get_by_text("Added to the plan")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "profile.png"), full_page=True)
    # Taking it out asks first.
    page.once("dialog", lambda dialog: dialog.accept())
    plan.get_by_role("link", name="Remove").click()
    expect(page.get_by_text("No questions planned yet")).to_be_visible()
    profile = JobProfile.objects.get()
    assert profile.attributes.get().weight == 6
    assert not profile.plan.exists()

    # The opening's panel: Priya and Omar first, then Omar taken off after a warning.
    opening = services.opening_create(
        title="Technical seller, health",
        profile=profile,
        role=Role.ACCOUNT_MANAGER,
        hiring_manager=manager,
        panel=[priya, omar],
        actor=manager,
    )
    page.goto(f"{base}/hiring/openings/{opening.uuid}/")
    page.get_by_role("link", name="Change the panel").click()
    page.get_by_label("Omar Haddad").uncheck()
    page.get_by_role("button", name="Save the panel").click()
    expect(page.get_by_text("Take Omar Haddad off the panel?")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "panel-confirm.png"), full_page=True)
    page.get_by_role("button", name="Yes, save the panel").click()
    expect(page.get_by_text("Panel saved.")).to_be_visible()
    expect(page.locator("#panel-members li")).to_have_text(["Priya Shah"])
    assert list(opening.panel.all()) == [priya]
