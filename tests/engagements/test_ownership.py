import pytest

from engagements.models import Responsibility, TeamRole, responsibility_owner

VP, PRE, POST = (
    Responsibility.VALUE_PROPOSITION,
    Responsibility.TCO_PRE_SALES,
    Responsibility.TCO_POST_SALES,
)


@pytest.mark.parametrize(
    ("level", "partner_led", "responsibility", "owner"),
    [
        (1, False, VP, TeamRole.TECHNOLOGY_MANAGER),
        (1, False, PRE, TeamRole.TECHNOLOGY_MANAGER),
        (1, True, PRE, TeamRole.TECHNOLOGY_MANAGER),
        (2, False, VP, TeamRole.ACCOUNT_MANAGER),
        (2, True, PRE, TeamRole.TECHNOLOGY_MANAGER),
        (3, True, PRE, TeamRole.PARTNER_MANAGER),
        (3, False, PRE, TeamRole.TECHNOLOGY_MANAGER),
        (3, True, POST, TeamRole.PARTNER_MANAGER),
        (4, False, POST, TeamRole.DELIVERY_MANAGER),
        (4, True, POST, TeamRole.DELIVERY_MANAGER),
        (4, True, PRE, TeamRole.PARTNER_MANAGER),
        (4, False, VP, TeamRole.ACCOUNT_MANAGER),
    ],
)
def test_ownership_follows_the_maturity_level(
    level: int, partner_led: bool, responsibility: str, owner: TeamRole
) -> None:
    assert (
        responsibility_owner(responsibility, maturity_level=level, partner_led=partner_led) == owner
    )
