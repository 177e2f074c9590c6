"""The fakes' admin routes against a web page on the same machine (issue 13 review).

Adversary: a page open in the presenter's browser while `plantech demo` (or a fake) runs. It
is a loopback client like the tests, so "loopback only" does not stop it: it could approve a
pending Salesforce login or switch faults on. The admin routes refuse requests a browser
marks (Origin, Sec-Fetch-Site), and a state-changing route answers POST only (a page's <img>
GET carries no Origin). Tests, the demo's presenter keys and curl send neither mark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plantech_tui.partners.redtail.fake import FakeRedtailServer, load_demo_data
from plantech_tui.partners.salesforce import fake as sf_fake

PAGE = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}


@pytest.fixture
def salesforce() -> Iterator[Any]:
    with sf_fake.FakeSalesforceServer(sf_fake.load_demo_data(), device_interval=0) as srv:
        yield srv


@pytest.mark.parametrize("marks", [{"Origin": "http://evil.example"},
                                   {"Sec-Fetch-Site": "cross-site"}, PAGE])
def test_a_web_page_cannot_approve_a_salesforce_login(salesforce: Any,
                                                      marks: dict[str, str]) -> None:
    """The page POSTs to /__admin/device/approve: 403, and the code stays pending; the same
    call without a browser's marks (the demo, a test) approves it."""
    login = salesforce.login_url
    httpx.post(f"{login}/services/oauth2/token", data={
        "response_type": "device_code", "client_id": salesforce.client_id,
        "scope": "api refresh_token"}, timeout=10).raise_for_status()
    [code] = salesforce.state.pending()
    refused = httpx.post(f"{salesforce.admin_url}/device/approve", json={}, headers=marks,
                         timeout=10)
    assert refused.status_code == 403
    assert salesforce.state.pending() == [code]
    done = httpx.post(f"{salesforce.admin_url}/device/approve", json={}, timeout=10)
    assert done.status_code == 200 and salesforce.state.pending() == []


def test_a_get_never_changes_the_salesforce_fake(salesforce: Any) -> None:
    """An <img src=…/__admin/tokens/expire> (a GET, no Origin) changes nothing: 405; the
    read-only admin routes still answer GET."""
    before = dict(salesforce.state.access)
    salesforce.state.access["token-x"] = "refresh-x"
    r = httpx.get(f"{salesforce.admin_url}/tokens/expire", timeout=10)
    assert r.status_code == 405 and "token-x" in salesforce.state.access
    assert httpx.get(f"{salesforce.admin_url}/requests", timeout=10).status_code == 200
    assert set(salesforce.state.access) == set(before) | {"token-x"}


def test_a_web_page_cannot_set_the_redtail_fake_s_faults() -> None:
    """The same page against the fake Redtail: switching faults on is refused (403) and no
    fault is set; the presenter's own call (no marks) still works."""
    with FakeRedtailServer(load_demo_data()) as server:
        refused = httpx.post(f"{server.admin_url}/faults", json={"faults": "rate_limit"},
                             headers=PAGE, timeout=10)
        assert refused.status_code == 403
        assert server.state.faults.spec == []
        done = httpx.post(f"{server.admin_url}/faults", json={"faults": "rate_limit"},
                          timeout=10)
        assert done.status_code == 200 and server.state.faults.spec == ["rate_limit"]
