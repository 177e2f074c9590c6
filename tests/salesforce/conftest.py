"""Fixtures for the Salesforce partner: the fake Salesforce in-process (ASGI) or over real
loopback HTTP, and the CLI runner of the pull tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from plantech_tui.domain.models import Integration
from plantech_tui.partners import registry
from plantech_tui.partners.salesforce import fake
from plantech_tui.partners.salesforce.partner import SalesforceConnection, SalesforcePartner
from tests.sync.conftest import Cli, run  # noqa: F401 - the CLI runner fixture

LOGIN = "http://127.0.0.1:9001"
INSTANCE = "http://127.0.0.1:9002"


@dataclass
class InProcess:
    """The fake as an ASGI app: `transport` for the client, `state` to steer it."""

    org: Any
    app: Any
    transport: httpx.ASGITransport

    @property
    def state(self) -> Any:
        return self.app.state.fake


def in_process(org: Any = None, faults: str | None = None, **kw: Any) -> InProcess:
    org = org if org is not None else fake.load_demo_data()
    app = fake.create_app(org, faults, login_url=LOGIN, instance_url=INSTANCE,
                          device_interval=kw.pop("device_interval", 0), **kw)
    return InProcess(org, app, httpx.ASGITransport(app=app))


@pytest.fixture
def sf() -> InProcess:
    return in_process()


def partner() -> SalesforcePartner:
    found = registry.get("salesforce-fsc")
    assert isinstance(found, SalesforcePartner)
    return found


async def login(sf: InProcess) -> tuple[Integration, str]:
    """A connected integration (device code approved as soon as it is shown) and its secret."""
    connected = await partner().connect(
        {"login_url": LOGIN, "client_id": fake.DEMO_CLIENT_ID}, transport=sf.transport,
        prompt=lambda _code: sf.state.approve())
    integration = Integration(id=7, owner_user_id=1, partner=partner().name,
                              environment="Custom", base_url=connected.base_url,
                              username=connected.username, secret_ref="ref",
                              status="connected", created_at="2026-12-05T00:00:00Z")
    return integration, connected.secret


async def open_connection(sf: InProcess, saved: list[str] | None = None,
                          **options: Any) -> SalesforceConnection:
    integration, secret = await login(sf)
    return partner().open(integration, secret, mapping=partner().default_mapping(),
                          save_secret=None if saved is None else saved.append,
                          transport=sf.transport, **options)


@pytest.fixture
def server() -> Iterator[Any]:
    """The fake over real loopback HTTP, approving device codes at once."""
    with fake.FakeSalesforceServer(fake.load_demo_data(), auto_approve=True,
                                   device_interval=0) as srv:
        yield srv


def ids(org: Any) -> dict[str, str]:
    """Person account ids of the demo org by first name."""
    return {r["FirstName"]: r["Id"] for r in org.rows["Account"].values()
            if r.get("IsPersonAccount")}
