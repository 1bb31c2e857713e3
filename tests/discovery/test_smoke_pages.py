from __future__ import annotations

from django.urls import reverse

from discovery.models import FailureCostAnalysis
from engagements.models import Engagement
from tcp.models import User
from tests.conftest import client_for


def test_every_discovery_page_opens_for_the_account_owner(
    owner: User, discovered: Engagement
) -> None:
    analysis = FailureCostAnalysis.objects.get(engagement=discovered)
    client = client_for(owner)
    urls = [
        reverse("discovery:profile", args=[discovered.account.uuid]),
        reverse("discovery:checklist", args=[discovered.uuid]),
        reverse("discovery:analysis", args=[discovered.uuid, analysis.uuid]),
        reverse("discovery:tco", args=[discovered.uuid]),
        reverse("discovery:tco_chart", args=[discovered.uuid]),
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
