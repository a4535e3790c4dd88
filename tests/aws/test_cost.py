"""`roost deploy cost`: the design document's figure is reproduced line by line."""

from __future__ import annotations

import pytest

from roost.cloud.aws.cost import DESIGN_ESTIMATE, Load, Prices, estimate


def test_the_design_estimate_is_lambda_compute_at_one_gigabyte():
    lines = estimate(Load(users=10_000, requests_per_user_per_day=1_000))
    assert lines["lambda compute"] == pytest.approx(493.33, abs=0.01)
    assert round(lines["lambda compute"]) == pytest.approx(DESIGN_ESTIMATE, abs=1)
    assert lines["lambda requests"] == pytest.approx(59.80)
    assert lines["http api"] == pytest.approx(300.0)
    assert lines["total"] == pytest.approx(sum(v for k, v in lines.items() if k != "total"))


def test_small_loads_stay_in_the_free_tier_and_prices_are_parameters():
    small = estimate(Load(users=10, requests_per_user_per_day=100))
    assert small["lambda compute"] == 0 and small["lambda requests"] == 0
    arm = estimate(Load(10_000, 1_000, arm=True))["lambda compute"]
    assert arm < estimate(Load(10_000, 1_000))["lambda compute"]
    doubled = estimate(Load(10_000, 1_000), Prices(http_api_per_million=2.0))
    assert doubled["http api"] == pytest.approx(600.0)
    db = estimate(Load(10_000, 1_000, reads_per_request=2, writes_per_request=1))
    assert db["dynamodb reads"] == pytest.approx(75.0) and db["dynamodb writes"] == \
        pytest.approx(187.5)


def test_cognito_counts_users_past_its_free_ten_thousand():
    assert estimate(Load(10_000, 1_000))["cognito users"] == 0
    assert estimate(Load(50_000, 100))["cognito users"] == pytest.approx(40_000 * 0.0055)
