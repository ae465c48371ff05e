"""The period of healthy VMs' view refreshes against the fleet read through one ARM reads
bucket: the configured one until the refreshes would pass their share of the refill."""

from __future__ import annotations

import pytest

from vmroll.plan.view_refresh import REFRESH_SHARE, refresh_period


@pytest.mark.parametrize(
    ("vms", "configured", "period"),
    [
        pytest.param(0, 600.0, 600.0, id="no VMs"),
        pytest.param(1_000, 600.0, 600.0, id="small fleet: the configured period"),
        pytest.param(6_000, 600.0, 600.0, id="both agree"),
        pytest.param(10_000, 600.0, 1_000.0, id="issue 12's fleet"),
        pytest.param(20_000, 600.0, 2_000.0, id="a rollout surging to twice the fleet"),
        pytest.param(10_000, 1_800.0, 1_800.0, id="a longer configured period rules"),
    ],
)
def test_refresh_period(vms: int, configured: float, period: float) -> None:
    assert refresh_period(vms, configured, 25.0) == pytest.approx(period)


@pytest.mark.parametrize("vms", [1, 6_000, 10_000, 20_000, 1_000_000])
def test_refreshes_keep_to_their_share_of_the_refill(vms: int) -> None:
    assert vms / refresh_period(vms, 600.0, 25.0) <= REFRESH_SHARE * 25.0 + 1e-9
