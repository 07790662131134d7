"""One private PostgreSQL server for the fault tests of a session (tests/private_pg.py): each test
module makes a database of its own in it, and may stop and start it."""
from __future__ import annotations

import pytest

from tests.private_pg import PrivatePostgres


@pytest.fixture(scope="session")
def private_pg():
    reason = PrivatePostgres.unavailable()
    if reason:
        pytest.skip(f"no private PostgreSQL server: {reason}")
    with PrivatePostgres() as pg:
        yield pg
