"""The fuzz suite's world (tenant acme, seeded) and its bounded, reproducible hypothesis settings."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz._world import World, build_world

# Bounded and derandomized: the same examples on every run, a fixed cost in CI. One world serves all
# the examples of a test (hence function_scoped_fixture): a refused request changes nothing, and
# what an accepted one writes is only more data for the next example.
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example,
                                       HealthCheck.filter_too_much])


@pytest.fixture
def world(app, client, tenant) -> World:
    return build_world(app, client, tenant)
