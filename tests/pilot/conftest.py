from __future__ import annotations

from collections.abc import Iterator

import pytest

from plantech_tui.partners.redtail.fake import FakeRedtailServer

from .helpers import fake_redtail


@pytest.fixture
def fake() -> Iterator[FakeRedtailServer]:
    """The fake Redtail over real loopback HTTP, fresh for each test."""
    with fake_redtail() as srv:
        yield srv
