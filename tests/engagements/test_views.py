"""Pages: happy paths, wrong methods, bad input (field errors, nothing saved) and query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from engagements.models import Account, AccountTeamMember, Contact, Engagement, Stage
from tcp.models import AuditLogEntry, Role, User
from tests.conftest import client_for
from tests.factories import (
    AccountFactory,
    ContactFactory,
    EngagementFactory,
    TeamMemberFactory,
    UserFactory,
    complete_discovery,
    contracted_values,
)

pytestmark = pytest.mark.django_db


def test_the_account_list_searches_filters_and_sorts(leadership: User) -> None:
    AccountFactory.create(name="Granite Lending", industry="banking")
    AccountFactory.create(name="Beacon Mutual", industry="insurance")
    AccountFactory.create(name="Albion Bank", industry="banking")
    client = client_for(leadership)
    url = reverse("engagements:account_list")

    banking = client.get(url, {"industry": "banking", "sort": "name"}).text
    assert banking.index("Albion Bank") < banking.index("Granite Lending")
    assert "Beacon Mutual" not in banking
    assert "Granite" in client.get(url, {"q": "granite"}).text
    assert "Albion" not in client.get(url, {"q": "granite"}).text
    descending = client.get(url, {"sort": "-name"}).text
    assert descending.index("Granite Lending") < descending.index("Albion Bank")


def test_the_account_list_pages_by_fifty(leadership: User) -> None:
    AccountFactory.create_batch(51)
    client = client_for(leadership)
    first = client.get(reverse("engagements:account_list"))
    assert first.context["page"].paginator.num_pages == 2
    assert len(first.context["page"].object_list) == 50
    assert "Page 1 of 2" in first.text
    assert (
        len(
            client.get(reverse("engagements:account_list"), {"page": 2}).context["page"].object_list
        )
        == 1
    )


def test_an_htmx_filter_answers_with_the_results_only(leadership: User) -> None:
    AccountFactory.create(name="Beacon Mutual")
    response = client_for(leadership).get(
        reverse("engagements:account_list"), {"q": "beacon"}, HTTP_HX_REQUEST="true"
    )
    assert "Beacon Mutual" in response.text
    assert "<html" not in response.text
    assert 'id="results"' in response.text


def test_an_unknown_filter_value_is_ignored_not_an_error(leadership: User) -> None:
    response = client_for(leadership).get(
        reverse("engagements:account_list"), {"industry": "piracy", "sort": "x;drop"}
    )
    assert response.status_code == 200


def test_lists_only_accept_get(leadership: User) -> None:
    assert client_for(leadership).post(reverse("engagements:account_list")).status_code == 405
    assert client_for(leadership).post(reverse("engagements:engagement_list")).status_code == 405


def test_an_account_manager_creates_an_account_and_takes_its_seat(owner: User) -> None:
    response = client_for(owner).post(
        reverse("engagements:account_create"),
        {
            "name": "Tideway Energy",
            "industry": "energy",
            "region": "uk_ireland",
            "segment": "white_space",
        },
    )
    account = Account.objects.get(name="Tideway Energy")
    assert response.status_code == 302
    assert response["Location"] == account.get_absolute_url()
    assert AccountTeamMember.objects.filter(
        account=account, user=owner, role="account_manager"
    ).exists()
    assert AuditLogEntry.objects.filter(action="account.create", actor=owner).exists()


def test_a_bad_account_form_shows_errors_beside_the_fields_and_saves_nothing(owner: User) -> None:
    response = client_for(owner).post(
        reverse("engagements:account_create"),
        {
            "name": "",
            "industry": "piracy",
            "region": "uk_ireland",
            "segment": "established",
            "website": "not a url",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "industry", "website"}
    assert 'id="id_name_error"' in response.text
    assert (
        not Account.objects.filter(region="uk_ireland", segment="established")
        .exclude(name="")
        .exists()
    )
    assert not AuditLogEntry.objects.exists()


def test_a_duplicate_crm_id_is_a_field_error(owner: User, account: Account) -> None:
    AccountFactory.create(external_id="CRM-1")
    response = client_for(owner).post(
        reverse("engagements:account_edit", args=[account.uuid]),
        {
            "name": "Renamed",
            "industry": "healthcare",
            "region": "uk_ireland",
            "segment": "established",
            "external_id": "CRM-1",
        },
    )
    assert "external_id" in response.context["form"].errors
    account.refresh_from_db()
    assert (account.name, account.external_id) == ("Northvale Radiology Network", None)


def test_editing_an_account_records_what_changed(owner: User, account: Account) -> None:
    client_for(owner).post(
        reverse("engagements:account_edit", args=[account.uuid]),
        {
            "name": "Northvale Imaging",
            "industry": "healthcare",
            "region": "apac",
            "segment": "established",
        },
    )
    account.refresh_from_db()
    assert (account.name, account.region) == ("Northvale Imaging", "apac")
    entry = AuditLogEntry.objects.get(action="account.update")
    assert entry.changes == {
        "name": ["Northvale Radiology Network", "Northvale Imaging"],
        "region": ["uk_ireland", "apac"],
    }


def test_a_contact_is_added_inline_with_htmx(owner: User, account: Account) -> None:
    response = client_for(owner).post(
        reverse("engagements:contact_add", args=[account.uuid]),
        {
            "contact-name": "Ruth Osei",
            "contact-email": "ruth@example.org",
            "contact-buyer_role": "technical",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Ruth Osei" in response.text
    assert "<html" not in response.text
    assert Contact.objects.get(account=account).buyer_role == "technical"


def test_a_bad_contact_gets_its_errors_and_is_not_saved(owner: User, account: Account) -> None:
    response = client_for(owner).post(
        reverse("engagements:contact_add", args=[account.uuid]),
        {"contact-name": "", "contact-email": "nope", "contact-buyer_role": "wizard"},
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "email", "buyer_role"}
    assert not Contact.objects.exists()


def test_removing_a_contact_asks_first_then_removes_it(owner: User, account: Account) -> None:
    contact = ContactFactory.create(account=account, name="Gone Soon")
    url = reverse("engagements:contact_delete", args=[account.uuid, contact.uuid])
    confirm = client_for(owner).get(url)
    assert "Remove this contact?" in confirm.text
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert client_for(owner).post(url).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_a_team_seat_needs_the_matching_role(
    owner: User, account: Account, delivery_manager: User
) -> None:
    response = client_for(owner).post(
        reverse("engagements:team_add", args=[account.uuid]),
        {"team-user": delivery_manager.pk, "team-role": "technology_manager"},
    )
    assert "does not hold the role" in response.text
    assert not AccountTeamMember.objects.filter(user=delivery_manager).exists()
    client_for(owner).post(
        reverse("engagements:team_add", args=[account.uuid]),
        {"team-user": delivery_manager.pk, "team-role": "delivery_manager"},
    )
    assert AccountTeamMember.objects.filter(user=delivery_manager, role="delivery_manager").exists()


def test_the_same_seat_twice_is_refused(owner: User, account: Account) -> None:
    response = client_for(owner).post(
        reverse("engagements:team_add", args=[account.uuid]),
        {"team-user": owner.pk, "team-role": "account_manager"},
    )
    assert "already holds this seat" in response.text
    assert account.team.count() == 1


def test_opening_an_engagement_starts_it_in_discovery(owner: User, account: Account) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_create", args=[account.uuid]),
        {
            "name": "Zero-downtime PACS upgrade",
            "commercial_lead": owner.pk,
            "value": "350000",
            "opened_on": "2024-05-02",
            "poc": "none",
        },
    )
    engagement = Engagement.objects.get(name="Zero-downtime PACS upgrade")
    assert response.status_code == 302
    assert (engagement.stage, engagement.account, engagement.commercial_lead) == (
        Stage.DISCOVERY,
        account,
        owner,
    )


def test_a_bad_engagement_form_names_each_field_and_changes_nothing(
    owner: User, engagement: Engagement
) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_edit", args=[engagement.uuid]),
        {
            "name": "Renamed",
            "commercial_lead": owner.pk,
            "value": "-5",
            "opened_on": "2024-01-15",
            "contracted_start": "2024-06-01",
            "contracted_end": "2024-05-01",
            "poc": "successful",
            "contracted_effort_days": "abc",
        },
    )
    errors = response.context["form"].errors
    assert set(errors) == {"value", "contracted_end", "poc_concluded_on", "contracted_effort_days"}
    engagement.refresh_from_db()
    assert (engagement.name, engagement.value) == ("PACS migration", Decimal("250000.00"))


def test_a_delivery_manager_cannot_be_made_commercial_lead(
    owner: User, engagement: Engagement, delivery_manager: User
) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_edit", args=[engagement.uuid]),
        {
            "name": "PACS migration",
            "commercial_lead": delivery_manager.pk,
            "value": "1",
            "opened_on": "2024-01-15",
            "poc": "none",
        },
    )
    assert "commercial_lead" in response.context["form"].errors
    engagement.refresh_from_db()
    assert engagement.commercial_lead == owner


def test_the_stage_form_moves_an_engagement_and_redirects(
    owner: User, discovered: Engagement
) -> None:
    engagement = discovered
    response = client_for(owner).post(
        reverse("engagements:engagement_advance", args=[engagement.uuid]),
        {"to_stage": "proposal", "on": "2024-02-01", "note": "Proposal sent"},
    )
    assert response.status_code == 302
    engagement.refresh_from_db()
    assert (engagement.stage, engagement.proposal_on) == (Stage.PROPOSAL, dt.date(2024, 2, 1))


def test_a_refused_stage_change_names_what_is_missing_with_links(owner: User) -> None:
    account = AccountFactory.create()
    TeamMemberFactory.create(account=account, user=owner)
    engagement = EngagementFactory.create(
        account=account,
        stage=Stage.PROPOSAL,
        proposal_on=dt.date(2024, 2, 1),
        commercial_lead=owner,
    )
    response = client_for(owner).post(
        reverse("engagements:engagement_advance", args=[engagement.uuid]),
        {"to_stage": "contracted", "on": "2024-03-01"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "The stage was not changed" in response.text
    assert "Add the contracted start date." in response.text
    assert reverse("engagements:engagement_edit", args=[engagement.uuid]) in response.text
    engagement.refresh_from_db()
    assert engagement.stage == Stage.PROPOSAL


def test_a_stage_not_offered_is_a_field_error(owner: User, engagement: Engagement) -> None:
    response = client_for(owner).post(
        reverse("engagements:engagement_advance", args=[engagement.uuid]),
        {"to_stage": "completed", "on": "bad"},
    )
    assert set(response.context["stage_form"].errors) == {"to_stage", "on"}
    engagement.refresh_from_db()
    assert engagement.stage == Stage.DISCOVERY


def test_the_stage_change_only_accepts_post(owner: User, engagement: Engagement) -> None:
    assert (
        client_for(owner)
        .get(reverse("engagements:engagement_advance", args=[engagement.uuid]))
        .status_code
        == 405
    )


def test_pre_adoption_history_is_marked_on_the_engagement(
    leadership: User, organisation: object
) -> None:
    old = EngagementFactory.create(
        stage=Stage.PROPOSAL, opened_on=dt.date(2017, 3, 1), proposal_on=dt.date(2017, 4, 1)
    )
    assert "pre-adoption history" in client_for(leadership).get(old.get_absolute_url()).text
    new = EngagementFactory.create(
        stage=Stage.PROPOSAL, opened_on=dt.date(2024, 3, 1), proposal_on=dt.date(2024, 4, 1)
    )
    assert "pre-adoption history" not in client_for(leadership).get(new.get_absolute_url()).text


def test_administrators_edit_the_organisation_settings(
    administrator: User, organisation: object
) -> None:
    response = client_for(administrator).post(
        reverse("organisation_settings"),
        {
            "name": "Meridian",
            "currency": "eur",
            "scope_tolerance_pct": "12.5",
            "timeline_grace_days": "5",
            "tcp_adoption_date": "2018-07-01",
            "maturity_level": "3",
            "one_on_one_cadence_days": "21",
        },
    )
    assert response.status_code == 302
    from tcp.models import OrganisationSettings

    settings = OrganisationSettings.load()
    assert (settings.currency, settings.scope_tolerance_pct, settings.maturity_level) == (
        "EUR",
        Decimal("12.5"),
        3,
    )
    assert AuditLogEntry.objects.filter(action="organisation.update", actor=administrator).exists()


def test_bad_organisation_settings_are_refused_beside_each_field(
    administrator: User, organisation: object
) -> None:
    response = client_for(administrator).post(
        reverse("organisation_settings"),
        {
            "name": "Meridian",
            "currency": "pounds",
            "scope_tolerance_pct": "-1",
            "timeline_grace_days": "x",
            "tcp_adoption_date": "2018-07-01",
            "baseline_start": "2019-01-01",
            "maturity_level": "7",
            "one_on_one_cadence_days": "0",
        },
    )
    assert set(response.context["form"].errors) == {
        "currency",
        "scope_tolerance_pct",
        "timeline_grace_days",
        "baseline_end",
        "maturity_level",
        "one_on_one_cadence_days",
    }
    from tcp.models import OrganisationSettings

    assert OrganisationSettings.load().currency == "GBP"


# Query counts: the same for a small and a bigger organisation -----------------------------


def _count_queries(django_assert_max_num_queries, client, url: str, limit: int) -> None:
    with django_assert_max_num_queries(limit):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("rows", [3, 40])
def test_the_account_list_runs_a_fixed_number_of_queries(
    rows: int, leadership: User, django_assert_num_queries
) -> None:
    for account in AccountFactory.create_batch(rows):
        EngagementFactory.create_batch(2, account=account)
    client = client_for(leadership)
    client.get(reverse("engagements:account_list"))  # warm the session
    # The person with the navigation's figures; the page of accounts with their total.
    with django_assert_num_queries(2):
        client.get(
            reverse("engagements:account_list"),
            {"industry": "healthcare", "sort": "-open_pipeline"},
        )


@pytest.mark.parametrize("rows", [2, 30])
def test_the_engagement_list_runs_a_fixed_number_of_queries(
    rows: int, leadership: User, django_assert_num_queries
) -> None:
    EngagementFactory.create_batch(rows)
    client = client_for(leadership)
    client.get(reverse("engagements:engagement_list"))
    # The person with the navigation's figures; the page of engagements with their total.
    with django_assert_num_queries(2):
        client.get(reverse("engagements:engagement_list"), {"stage": "discovery"})


@pytest.mark.parametrize("rows", [1, 25])
def test_the_account_page_runs_a_fixed_number_of_queries(
    rows: int, leadership: User, django_assert_num_queries
) -> None:
    account = AccountFactory.create()
    for _ in range(rows):
        TeamMemberFactory.create(
            account=account,
            role="technology_manager",
            user=UserFactory.create(roles=[Role.TECHNOLOGY_MANAGER]),
        )
        ContactFactory.create(account=account)
        EngagementFactory.create(
            account=account, delivery_manager=UserFactory.create(roles=[Role.DELIVERY_MANAGER])
        )
    client = client_for(leadership)
    client.get(account.get_absolute_url())
    # The person (with the navigation's figures), the account, the organisation, its latest
    # engagements, team, contacts and history.
    with django_assert_num_queries(7):
        client.get(account.get_absolute_url())


@pytest.mark.parametrize("changes", [0, 6])
def test_the_engagement_page_runs_a_fixed_number_of_queries(
    changes: int, owner: User, leadership: User, django_assert_num_queries
) -> None:
    engagement = EngagementFactory.create(commercial_lead=owner, **contracted_values())
    complete_discovery(engagement)
    for i in range(changes):
        target = Stage.PROPOSAL if i % 2 == 0 else Stage.DISCOVERY
        from engagements.services import engagement_advance

        engagement_advance(
            engagement=engagement, to_stage=target, actor=owner, on=dt.date(2024, 2, 1 + i)
        )
    client = client_for(leadership)
    client.get(engagement.get_absolute_url())
    # The person (with the navigation's figures), the engagement, the organisation, missed
    # milestones, product lines, stage history, history, and whether the commercial lead's
    # certification is overdue (a notice).
    with django_assert_num_queries(8):
        client.get(engagement.get_absolute_url())


def test_the_team_form_is_fetched_inline_when_asked_for(owner: User, account: Account) -> None:
    UserFactory.create(first_name="Tariq", last_name="Haddad", roles=[Role.TECHNOLOGY_MANAGER])
    page = client_for(owner).get(account.get_absolute_url())
    assert "Tariq Haddad" not in page.text
    form = client_for(owner).get(
        reverse("engagements:team_add", args=[account.uuid]), HTTP_HX_REQUEST="true"
    )
    assert "Tariq Haddad" in form.text
    assert "<html" not in form.text


def test_the_account_page_shows_the_latest_engagements_and_links_to_all(
    leadership: User, account: Account
) -> None:
    EngagementFactory.create_batch(26, account=account)
    oldest = EngagementFactory.create(
        account=account, name="Oldest work", opened_on=dt.date(2017, 1, 2)
    )
    page = client_for(leadership).get(account.get_absolute_url())
    assert len(page.context["engagements"]) == 25
    assert "Oldest work" not in page.text
    all_url = f"{reverse('engagements:engagement_list')}?account={account.uuid}"
    assert all_url in page.text
    listed = client_for(leadership).get(all_url, {"sort": "opened_on"})
    assert listed.context["page"].paginator.count == 27
    assert oldest.name in listed.text
