"""The async Redtail client: auth, paging, retries, errors, leniency and secrets.

Two halves. The first drives the client with small `httpx.MockTransport` handlers, which pins
exact request counts and headers. The second drives it against the fake Redtail server
(`plantech_tui.partners.redtail.fake`), in-process through `httpx.ASGITransport` and over real loopback, so
faults reach the client as real HTTP responses (SPEC §10).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import socket
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from plantech_tui.domain.errors import PlantechError, ValidationFailed
from plantech_tui.domain.money import to_money_or_none
from plantech_tui.partners.base import (
    AccountLocked,
    BadResponse,
    Forbidden,
    InvalidCredentials,
    PartnerError,
    PartnerNotFound,
    PartnerTimeout,
    RateLimited,
    ServerError,
    Unreachable,
)
from plantech_tui.partners.http import RetryPolicy, validate_base_url
from plantech_tui.partners.redtail.client import MAX_PAGES, RedtailClient
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
    create_app,
    load_demo_data,
)
from plantech_tui.partners.redtail.models import (
    AuthResult,
    RedtailAccount,
    RedtailContact,
)

BASE = "http://127.0.0.1/api/public/v1"
API_KEY = "TestApiKey-7d3f2a91"
USERNAME = "gomez"
PASSWORD = "Pa55-Wörd:Cara_Mia!"
USER_KEY = "6F9619FF-8B86-D011-B42D-00C04FC964FF"

Handler = Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]


class SleepRecorder:
    """The retry `sleep` hook: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fast_retry(attempts: int = 4) -> tuple[RetryPolicy, SleepRecorder]:
    recorder = SleepRecorder()
    return RetryPolicy(attempts=attempts, sleep=recorder), recorder


def make_client(
    handler: Handler,
    *,
    user_key: str | None = USER_KEY,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> RedtailClient:
    return RedtailClient(
        BASE,
        API_KEY,
        user_key,
        retry=retry or fast_retry()[0],
        transport=httpx.MockTransport(handler),
        **kwargs,
    )


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers)
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def account(aid: int | str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": aid,
        "contact_id": 101,
        "number": f"XX{aid}",
        "company": "Fidelity",
        "balance": "1000.0",
        "account_type": "Rollover IRA",
        "account_type_id": 3,
        "taxqualified": True,
        "taxqualified_type": 2,
        "product": "Brokerage",
        "status": "Active",
        "deleted": False,
        "created_at": "2020-09-10T23:32:29.000Z",
        "updated_at": "2020-09-10T23:32:29.000Z",
    }
    base.update(fields)
    return base


class PagedServer:
    """A listing served page by page, with the misbehaviours a real server might have."""

    def __init__(
        self,
        items: list[dict[str, Any]],
        key: str = "accounts",
        *,
        honour_pagesize: bool = True,
        server_size: int = 50,
        total_pages: int | None | str = "real",
        total_records: int | None | str = "real",
        past_end: str = "empty",  # "empty" | "repeat_last"
        meta: bool = True,
    ) -> None:
        self.items = items
        self.key = key
        self.honour_pagesize = honour_pagesize
        self.server_size = server_size
        self.total_pages = total_pages
        self.total_records = total_records
        self.past_end = past_end
        self.meta = meta
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        size = self.server_size
        if self.honour_pagesize and "pagesize" in request.headers:
            size = int(request.headers["pagesize"])
        page = int(request.url.params.get("page", "1"))
        pages = max(1, -(-len(self.items) // size))
        if page > pages and self.past_end == "repeat_last":
            page = pages
        chunk = self.items[(page - 1) * size : page * size]
        body: dict[str, Any] = {self.key: chunk}
        if self.meta:
            tp = pages if self.total_pages == "real" else self.total_pages
            tr = len(self.items) if self.total_records == "real" else self.total_records
            body["meta"] = {"total_pages": tp, "total_records": tr}
        return reply(200, body)

    @property
    def pages_requested(self) -> list[int]:
        return [int(r.url.params.get("page", "0")) for r in self.requests]


# =========================================================================== validate_base_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://crm.redtailtechnology.com/api/public/v1", None),
        ("https://crm.redtailtechnology.com/api/public/v1/", None),
        ("  https://review.crm.redtailtechnology.com/api/public/v1  ", None),
        ("HTTPS://crm.redtailtechnology.com:8443/api/public/v1", None),
        ("http://127.0.0.1:8765/api/public/v1", None),
        ("http://127.5.6.7/api/public/v1", None),
        ("http://localhost:9000/api/public/v1/", None),
        ("http://[::1]:9000/api/public/v1", None),
    ],
)
def test_validate_base_url_accepts(url: str, expected: str | None) -> None:
    out = validate_base_url(url, "Redtail")
    assert out == url.strip().rstrip("/")
    assert not out.endswith("/")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://crm.redtailtechnology.com/api/public/v1", "https"),
        ("http://10.0.0.5/api/public/v1", "loopback"),
        ("http://128.0.0.1/api/public/v1", "loopback"),
        ("http://localhost.evil.com/api", "loopback"),
        ("ftp://crm.redtailtechnology.com/api", "https"),
        ("crm.redtailtechnology.com/api/public/v1", "https"),
        ("", "empty"),
        ("https://user:secret@crm.redtailtechnology.com/api", "user name or password"),
        ("https://crm.redtailtechnology.com/api?x=1", "query"),
        ("https://crm.redtailtechnology.com:99999/api", "port"),
    ],
)
def test_validate_base_url_refuses(url: str, needle: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_base_url(url, "Redtail")
    assert needle in info.value.message
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
    assert "secret" not in info.value.message


def test_client_refuses_plain_http_to_remote_host() -> None:
    with pytest.raises(ValidationFailed):
        RedtailClient("http://crm.redtailtechnology.com/api/public/v1", API_KEY)


# =========================================================================== authentication


async def test_authenticate_nested_then_userkeyauth_on_next_call() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/authentication"):
            return reply(
                200,
                {
                    "authenticated_user": {
                        "user_key": USER_KEY,
                        "redtail_user_id": "280717",
                        "redtail_database_id": 280718,
                        "extra": "ignored",
                    }
                },
            )
        return reply(200, {"contact": {"id": 101, "first_name": "Gomez", "last_name": "Addams"}})

    async with make_client(handler, user_key=None) as client:
        assert not client.has_user_key
        result = await client.authenticate(USERNAME, PASSWORD)
        assert result.user_key == USER_KEY
        assert result.redtail_user_id == 280717
        assert result.redtail_database_id == 280718
        contact = await client.get_contact(101)
    assert contact.full_name == "Gomez Addams"
    assert seen[0].method == "GET"
    assert seen[0].url.path == "/api/public/v1/authentication"
    assert seen[0].headers["authorization"] == "Basic " + b64(f"{API_KEY}:{USERNAME}:{PASSWORD}")
    assert seen[1].url.path == "/api/public/v1/contacts/101"
    assert seen[1].headers["authorization"] == "Userkeyauth " + b64(f"{API_KEY}:{USER_KEY}")
    assert client.request_count == 2


async def test_authenticate_flat_answer() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"user_key": USER_KEY, "redtail_user_id": 7})

    async with make_client(handler, user_key=None) as client:
        result = await client.authenticate(USERNAME, PASSWORD)
    assert result.user_key == USER_KEY
    assert result.redtail_user_id == 7
    assert result.redtail_database_id is None


@pytest.mark.parametrize(
    "body",
    [
        {"authenticated_user": {"redtail_user_id": 1}},
        {"authenticated_user": []},
        {"authenticated_user": {"user_key": ""}},
        {"something": "else"},
    ],
)
async def test_authenticate_wrong_shape_is_bad_response(body: dict[str, Any]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, body)

    async with make_client(handler, user_key=None) as client:
        with pytest.raises(BadResponse):
            await client.authenticate(USERNAME, PASSWORD)
        assert not client.has_user_key


async def test_wrong_password_is_invalid_credentials_after_exactly_one_request() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(401, {"message": "Invalid username or password"})

    retry, waits = fast_retry(attempts=4)
    async with make_client(handler, user_key=None, retry=retry) as client:
        with pytest.raises(InvalidCredentials) as info:
            await client.authenticate(USERNAME, PASSWORD)
    err = info.value
    assert err.kind == "invalid_credentials"
    assert err.status == 401
    assert err.exit_code == 1
    assert str(err) == "Redtail refused the login: Invalid username or password (HTTP 401)"
    assert client.request_count == 1
    assert waits.waits == []


@pytest.mark.parametrize(
    "response",
    [
        lambda: reply(500, "<html><title>500 Internal Server Error</title></html>"),
        lambda: reply(429, {"message": "slow down"}, **{"Retry-After": "1"}),
        lambda: reply(401, {"message": "504 Gateway Time-out"}),
        lambda: reply(503, {"message": "maintenance"}),
    ],
)
async def test_authenticate_is_never_retried(response: Callable[[], httpx.Response]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return response()

    retry, waits = fast_retry(attempts=4)
    async with make_client(handler, user_key=None, retry=retry) as client:
        with pytest.raises(PartnerError):
            await client.authenticate(USERNAME, PASSWORD)
    assert client.request_count == 1
    assert waits.waits == []


async def test_authenticate_network_error_is_not_retried() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    async with make_client(handler, user_key=None) as client:
        with pytest.raises(Unreachable) as info:
            await client.authenticate(USERNAME, PASSWORD)
    assert client.request_count == 1
    assert "connection refused" in info.value.message
    assert "attempt" not in info.value.message


async def test_locked_account() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(401, {"message": "Account Locked: too many failed attempts"})

    async with make_client(handler, user_key=None) as client:
        with pytest.raises(AccountLocked) as info:
            await client.authenticate(USERNAME, PASSWORD)
    assert info.value.kind == "account_locked"
    assert "Account Locked: too many failed attempts" in info.value.message
    assert client.request_count == 1


async def test_401_on_a_call_needs_reauthentication_and_is_not_retried() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(401, {"message": "Invalid user key"})

    async with make_client(handler) as client:
        with pytest.raises(InvalidCredentials) as info:
            await client.get_contact(101)
    assert "re-authentication" in info.value.message
    assert "Invalid user key" in info.value.message
    assert client.request_count == 1


async def test_call_without_user_key_fails_without_a_request() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with make_client(handler, user_key=None) as client:
        with pytest.raises(InvalidCredentials):
            await client.get_contact(1)
    assert client.request_count == 0


# =========================================================================== retries


async def test_gateway_timeout_401_is_retried_then_succeeds() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return reply(401, "<html><body><h1>504 Gateway Time-out</h1></body></html>")
        return reply(200, {"contact": {"id": 101, "full_name": "Gomez Addams"}})

    retry, waits = fast_retry()
    async with make_client(handler, retry=retry) as client:
        contact = await client.get_contact(101)
    assert contact.id == 101
    assert client.request_count == 3
    assert len(waits.waits) == 2


async def test_gateway_timeout_forever_gives_up_as_server_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(401, {"message": "Gateway Time-out"})

    async with make_client(handler) as client:
        with pytest.raises(ServerError) as info:
            await client.get_contact(101)
    assert client.request_count == 4
    assert "gave up after 4 attempts" in info.value.message


async def test_rate_limit_honours_retry_after_then_succeeds() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return reply(429, {"message": "Too many requests"}, **{"Retry-After": "3"})
        return reply(200, {"account": account(5001)})

    retry, waits = fast_retry()
    async with make_client(handler, retry=retry) as client:
        acct = await client.get_account(5001)
    assert acct.id == 5001
    assert client.request_count == 2
    assert len(waits.waits) == 1
    assert waits.waits[0] >= 3.0


async def test_rate_limit_retry_after_http_date_and_cap() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    answers = [
        reply(429, {}, **{"Retry-After": when}),
        reply(429, {}, **{"Retry-After": "3600"}),
        reply(429, {}, **{"Retry-After": "soon"}),
        reply(200, {"account": account(1)}),
    ]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    retry, waits = fast_retry()
    async with make_client(handler, retry=retry) as client:
        await client.get_account(1)
    assert 15.0 <= waits.waits[0] <= 20.5
    assert waits.waits[1] == 60.0  # capped
    assert 0 < waits.waits[2] <= 8.0  # unparseable: plain backoff


async def test_rate_limit_gives_up_with_message() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(429, {"message": "Rate limit exceeded"}, **{"Retry-After": "1"})

    retry, waits = fast_retry()
    async with make_client(handler, retry=retry) as client:
        with pytest.raises(RateLimited) as info:
            await client.get_contact(101)
    assert client.request_count == 4
    assert len(waits.waits) == 3
    assert all(w >= 1.0 for w in waits.waits)
    msg = info.value.message
    assert msg.startswith("Redtail rate limit")
    assert "gave up after 4 attempts" in msg
    assert "Rate limit exceeded" in msg
    assert msg.endswith("(HTTP 429)")
    assert info.value.kind == "rate_limited"


async def test_retry_after_is_honoured_in_real_time() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return reply(429, {"message": "slow down"}, **{"Retry-After": "1"})
        return reply(200, {"contact": {"id": 5}})

    client = RedtailClient(
        BASE,
        API_KEY,
        USER_KEY,
        retry=RetryPolicy(attempts=2, base_delay=0.01),
        transport=httpx.MockTransport(handler),
    )
    async with client:
        started = time.monotonic()
        await client.get_contact(5)
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0


async def test_server_error_is_retried_with_growing_backoff_then_gives_up() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        html = "<html><head><title>500 Internal Server Error</title></head><body>x</body></html>"
        return httpx.Response(500, text=html, headers={"content-type": "text/html"})

    recorder = SleepRecorder()
    retry = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0, jitter=0.0, sleep=recorder)
    async with make_client(handler, retry=retry) as client:
        with pytest.raises(ServerError) as info:
            await client.contact_accounts(101)
    assert client.request_count == 4
    assert recorder.waits == [0.5, 1.0, 2.0]
    msg = info.value.message
    assert "500 Internal Server Error" in msg
    assert "gave up after 4 attempts" in msg
    assert "<" not in msg
    assert info.value.status == 500


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=0.5)
    for n in range(1, 12):
        d = policy.delay(n)
        full = min(8.0, 0.5 * 2 ** (n - 1))
        assert full * 0.5 <= d <= full
    assert policy.delay(1, retry_after=2.0) >= 2.0
    assert policy.delay(1, retry_after=1000.0) == 60.0
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


async def test_server_error_then_success() -> None:
    answers = [reply(502, "Bad Gateway"), reply(503, {"message": "busy"})]

    async def handler(request: httpx.Request) -> httpx.Response:
        if answers:
            return answers.pop(0)
        return reply(200, {"contact": {"id": 101}})

    async with make_client(handler) as client:
        contact = await client.get_contact(101)
    assert contact.id == 101
    assert client.request_count == 3


async def test_connection_errors_are_retried_then_unreachable() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    retry, waits = fast_retry(attempts=3)
    async with make_client(handler, retry=retry) as client:
        with pytest.raises(Unreachable) as info:
            await client.get_contact(101)
    assert client.request_count == 3
    assert len(waits.waits) == 2
    assert info.value.message == (
        f"cannot reach Redtail at {BASE}: connection refused (gave up after 3 attempts)"
    )
    assert info.value.kind == "unreachable"


async def test_timeout_is_retried_then_raises_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        raise AssertionError("not reached")

    retry, _ = fast_retry(attempts=2)
    async with make_client(handler, retry=retry, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(PartnerTimeout) as info:
            await client.get_contact(101)
    assert time.monotonic() - started < 2.0
    assert client.request_count == 2
    assert info.value.kind == "timeout"
    assert "contact 101" in info.value.message
    assert "0.2 s" in info.value.message


async def test_httpx_timeout_exception_is_a_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    retry, _ = fast_retry(attempts=1)
    async with make_client(handler, retry=retry) as client:
        with pytest.raises(PartnerTimeout):
            await client.get_account(5)


@pytest.mark.parametrize(
    ("status", "exc", "kind"),
    [(403, Forbidden, "forbidden"), (404, PartnerNotFound, "not_found")],
)
async def test_403_and_404_are_typed_and_not_retried(
    status: int, exc: type[PartnerError], kind: str
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(
            status,
            {"message": "User Forbidden from contact" if status == 403 else "Contact not found"},
        )

    async with make_client(handler) as client:
        with pytest.raises(exc) as info:
            await client.contact_accounts(101)
    assert client.request_count == 1
    assert info.value.kind == kind
    assert info.value.status == status
    assert "contact 101" in info.value.message
    assert f"(HTTP {status})" in info.value.message
    expected = "User Forbidden from contact" if status == 403 else "Contact not found"
    assert expected in info.value.message


async def test_unexpected_status_is_bad_response() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(400, {"message": "bad page"})

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.get_contact(1)
    assert "bad page" in info.value.message
    assert client.request_count == 1


# =========================================================================== bad responses


@pytest.mark.parametrize(
    "response",
    [
        lambda: httpx.Response(
            200, text="<html>" + "x" * 5000 + "</html>", headers={"content-type": "text/html"}
        ),
        lambda: httpx.Response(200, text=""),
        lambda: httpx.Response(200, text='{"contact": '),
        lambda: reply(200, [1, 2, 3]),
        lambda: reply(200, {"contacts": {"id": 1}}),
        lambda: reply(200, {"contact": [{"id": 1}]}),
        lambda: reply(200, {"contact": {"first_name": "no id"}}),
        lambda: reply(200, {"contact": {"id": "abc"}}),
        lambda: reply(200, '"just a string"'),
    ],
)
async def test_malformed_answers_are_bad_response(response: Callable[[], httpx.Response]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return response()

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.get_contact(101)
    msg = info.value.message
    assert "\n" not in msg
    assert len(msg) <= 300
    assert info.value.kind == "bad_response"
    assert client.request_count == 1


@pytest.mark.parametrize(
    "body",
    [
        {"accounts": "nope"},
        {"meta": {"total_pages": 1}},
        {"accounts": [1, 2]},
        {"accounts": [{"id": None}]},
    ],
)
async def test_malformed_listing_is_bad_response(body: dict[str, Any]) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, body)

    async with make_client(handler) as client:
        with pytest.raises(BadResponse):
            await client.contact_accounts(101)


async def test_garbage_balance_names_the_account() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        items = [account(5001), account(5002, balance="lots")]
        return reply(200, {"accounts": items, "meta": {"total_pages": 1, "total_records": 2}})

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    assert "account 5002" in info.value.message
    assert "balance" in info.value.message


# =========================================================================== paging


def accounts_range(n: int, start: int = 5000) -> list[dict[str, Any]]:
    return [account(start + i) for i in range(n)]


async def test_paging_honest_server_sends_pagesize_header_and_page_param() -> None:
    server = PagedServer(accounts_range(120))
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert [a.id for a in got] == list(range(5000, 5120))
    assert server.pages_requested == [1, 2, 3]
    assert all(r.headers["pagesize"] == "50" for r in server.requests)
    assert all("pagesize" not in r.url.params for r in server.requests)
    assert client.request_count == 3


async def test_paging_custom_page_size() -> None:
    server = PagedServer(accounts_range(25))
    async with make_client(server, page_size=10) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 25
    assert server.pages_requested == [1, 2, 3]
    assert server.requests[0].headers["pagesize"] == "10"


@pytest.mark.parametrize(
    ("n", "requests"),
    # a short last page stops at once; a full last page (or a lone first page) is asked for
    # once more, and its repeat stops the listing
    [(1, 2), (49, 2), (50, 2), (51, 2), (100, 3), (120, 3), (173, 4)],
)
async def test_lying_total_pages_terminates_with_exactly_the_real_accounts(
    n: int, requests: int
) -> None:
    server = PagedServer(
        accounts_range(n), total_pages=9999, total_records=None, past_end="repeat_last"
    )
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert [a.id for a in got] == list(range(5000, 5000 + n))
    assert client.request_count == requests


async def test_lying_pages_with_no_meta_and_full_last_page() -> None:
    server = PagedServer(accounts_range(100), meta=False, past_end="repeat_last")
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 100
    assert server.pages_requested == [1, 2, 3]


@pytest.mark.parametrize("meta", [True, False])
async def test_server_ignoring_pagesize_still_gives_every_account(meta: bool) -> None:
    server = PagedServer(accounts_range(95), honour_pagesize=False, server_size=20, meta=meta)
    async with make_client(server, page_size=50) as client:
        got = await client.contact_accounts(101)
    assert [a.id for a in got] == list(range(5000, 5095))
    assert server.pages_requested == [1, 2, 3, 4, 5]


async def test_server_ignoring_pagesize_with_bigger_pages() -> None:
    server = PagedServer(accounts_range(230), honour_pagesize=False, server_size=100, meta=False)
    async with make_client(server, page_size=50) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 230
    assert server.pages_requested == [1, 2, 3]


async def test_short_page_stops_without_meta() -> None:
    server = PagedServer(accounts_range(80), meta=False)
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 80
    assert server.pages_requested == [1, 2]


async def test_small_first_page_without_meta_asks_once_more() -> None:
    server = PagedServer(accounts_range(7), meta=False)
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 7
    assert server.pages_requested == [1, 2]


async def test_total_records_stops_paging() -> None:
    server = PagedServer(accounts_range(100), total_pages=None)
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 100
    assert server.pages_requested == [1, 2]


async def test_meta_as_strings_and_garbage() -> None:
    server = PagedServer(accounts_range(60), total_pages="2", total_records="lots")
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 60
    assert server.pages_requested == [1, 2]


async def test_empty_listing() -> None:
    server = PagedServer([], total_pages=0, total_records=0)
    async with make_client(server) as client:
        assert await client.contact_accounts(101) == []
    assert server.pages_requested == [1]


async def test_partly_repeated_ids_are_dropped_and_paging_continues() -> None:
    pages = {
        1: [account(1), account(2), account(3)],
        2: [account(3), account("4"), account(5)],  # 3 repeats; "4" is a string id
        3: [account(6), account(7), account(8)],
        4: [account(1), account(2), account(3)],  # all repeat → stop
        5: [account(99)],
    }
    requested: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        requested.append(page)
        return reply(200, {"accounts": pages.get(page, []), "meta": {"total_pages": 5}})

    async with make_client(handler) as client:
        got = await client.contact_accounts(101)
    assert [a.id for a in got] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert requested == [1, 2, 3, 4]


async def test_endless_server_stops_after_max_pages() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return reply(200, {"accounts": [account(page * 10), account(page * 10 + 1)]})

    async with make_client(handler) as client:
        got = await client.contact_accounts(101)
    assert client.request_count == MAX_PAGES == 1000
    assert len(got) == 2 * MAX_PAGES


async def test_deleted_accounts_are_dropped_but_count_for_paging() -> None:
    items = accounts_range(50) + [account(9001, deleted=True), account(9002, deleted="true")]
    server = PagedServer(items)
    async with make_client(server) as client:
        got = await client.contact_accounts(101)
    assert len(got) == 50
    assert all(not a.deleted for a in got)
    assert server.pages_requested == [1, 2]


async def test_page_failure_fails_the_whole_listing() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["page"] == "2":
            return reply(500, {"message": "page 2 broke"})
        return reply(200, {"accounts": accounts_range(50), "meta": {"total_pages": 3}})

    async with make_client(handler) as client:
        with pytest.raises(ServerError) as info:
            await client.contact_accounts(101)
    assert "page 2" in info.value.message


# =========================================================================== search


async def test_search_needs_a_criterion() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with make_client(handler) as client:
        with pytest.raises(ValueError):
            await client.search_contacts()
        with pytest.raises(ValueError):
            await client.search_contacts(name="   ")
    assert client.request_count == 0


async def test_search_sends_criteria_and_parses_contacts() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        contacts = [
            {
                "id": "101",
                "first_name": "Gomez",
                "last_name": "Addams",
                "emails": [{"address": "gomez@addams.example", "is_primary": True}],
                "type": "Crm::Contact::Individual",
                "status_id": 1,
            },
            {
                "id": 102,
                "first_name": "Morticia",
                "middle_name": None,
                "last_name": "Addams",
                "full_name": "Morticia Addams",
                "nickname": None,
            },
        ]
        return reply(200, {"contacts": contacts, "meta": {"total_pages": 1, "total_records": 2}})

    async with make_client(handler) as client:
        found, truncated = await client.search_contacts(last_name="Addams", email=" a@b ")
    assert not truncated
    assert [c.id for c in found] == [101, 102]
    assert found[0].full_name == "Gomez Addams"
    assert found[0].emails == ["gomez@addams.example"]
    assert found[0].type == "Crm::Contact::Individual"
    assert found[1].middle_name == "" and found[1].nickname == ""
    assert seen[0].url.path == "/api/public/v1/contacts/search"
    params = dict(seen[0].url.params)
    assert params == {"last_name": "Addams", "email": "a@b", "page": "1"}


@pytest.mark.parametrize(("n", "truncated"), [(199, False), (200, False), (201, True), (260, True)])
async def test_search_limit_and_truncation(n: int, truncated: bool) -> None:
    contacts = [{"id": i, "full_name": f"C {i}"} for i in range(1, n + 1)]
    server = PagedServer(contacts, key="contacts")
    async with make_client(server) as client:
        found, was_truncated = await client.search_contacts(name="C", limit=200)
    assert len(found) == min(n, 200)
    assert was_truncated is truncated
    assert client.request_count <= 5


# =========================================================================== other endpoints


async def test_family_and_lookups() -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        path = request.url.path.removeprefix("/api/public/v1")
        if path == "/contacts/101/family":
            return reply(
                200,
                {
                    "contact_family": {
                        "id": 9,
                        "name": "Addams Family",
                        "members": [
                            {
                                "contact_id": 101,
                                "first_name": "Gomez",
                                "last_name": "Addams",
                                "hoh": True,
                                "relationship_name": "Head of Household",
                            },
                            {"id": "103", "full_name": "Wednesday Addams"},
                            {"contact_id": 104, "name": "Pugsley Addams", "relationship": "Child"},
                        ],
                    }
                },
            )
        if path == "/lists/account_types":
            return reply(
                200,
                {
                    "account_types": [
                        {"id": 1, "name": "Rollover IRA"},
                        {"id": "2", "name": "Indexed Annuity"},
                    ],
                    "meta": {"total_pages": 1},
                },
            )
        if path == "/lists/account_tax_qualified_types":
            return reply(
                200,
                {
                    "account_tax_qualified_types": [{"id": 1, "name": "IRA"}],
                    "meta": {"total_pages": 1},
                },
            )
        return reply(404, {"message": "nope"})

    async with make_client(handler) as client:
        family = await client.contact_family(101)
        types = await client.account_types()
        types_again = await client.account_types()
        tq = await client.tax_qualified_types()
    assert family.id == 9 and family.name == "Addams Family"
    assert [(m.contact_id, m.name) for m in family.members] == [
        (101, "Gomez Addams"),
        (103, "Wednesday Addams"),
        (104, "Pugsley Addams"),
    ]
    assert family.members[0].relationship == "Head of Household"
    assert family.members[0].hoh is True
    assert [(t.id, t.name) for t in types] == [(1, "Rollover IRA"), (2, "Indexed Annuity")]
    assert types_again == types
    assert [(t.id, t.name) for t in tq] == [(1, "IRA")]
    assert seen.count("/api/public/v1/lists/account_types") == 1  # cached per client


async def test_family_null_is_empty() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"contact_family": None})

    async with make_client(handler) as client:
        family = await client.contact_family(5)
    assert family.members == [] and family.id is None


async def test_get_account_envelope() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/public/v1/accounts/5001"
        return reply(200, {"account": account("5001", balance=None)})

    async with make_client(handler) as client:
        acct = await client.get_account(5001)
    assert acct.id == 5001 and acct.balance is None


# =========================================================================== leniency twins


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("750000.0", Decimal("750000.00")),
        ("1234.565", Decimal("1234.56")),
        ("-12.5", Decimal("-12.50")),
        (750000, Decimal("750000.00")),
        (0, Decimal("0.00")),
        (None, None),
        ("", None),
    ],
)
async def test_balance_forms(raw: Any, expected: Decimal | None) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"accounts": [account(1, balance=raw)], "meta": {"total_pages": 1}})

    async with make_client(handler) as client:
        (acct,) = await client.contact_accounts(101)
    assert acct.balance == expected
    assert acct.balance is None or type(acct.balance) is Decimal


async def test_json_number_balance_is_decimal_never_float() -> None:
    text = (
        '{"accounts": [{"id": 1, "balance": 1234.505}, {"id": 2, "balance": 0.1}],'
        ' "meta": {"total_pages": 1}}'
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=text, headers={"content-type": "application/json"})

    async with make_client(handler) as client:
        accts = await client.contact_accounts(101)
    assert [a.balance for a in accts] == [Decimal("1234.50"), Decimal("0.10")]
    assert all(type(a.balance) is Decimal for a in accts)


@pytest.mark.parametrize("bad", ["lots", "NaN", "1e400", [1], {"amount": 1}, True, "1" * 20])
async def test_garbage_balances_are_bad_response(bad: Any) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"accounts": [account(42, balance=bad)], "meta": {"total_pages": 1}})

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    assert "account 42" in info.value.message


async def test_nan_literal_balance_is_bad_response_not_float() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text='{"accounts": [{"id": 3, "balance": NaN}]}')

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    assert "account 3" in info.value.message


@pytest.mark.parametrize(
    ("number", "expected"),
    [("123456789", "123456789"), ("12", "12"), ("", ""), (None, ""), (987654, "987654")],
)
async def test_account_number_forms(number: Any, expected: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"account": account(1, number=number)})

    async with make_client(handler) as client:
        acct = await client.get_account(1)
    assert acct.number == expected


async def test_account_leniency_twins() -> None:
    raw = {
        "id": "5001",
        "contact_id": "101",
        "number": None,
        "company": None,
        "balance": 125000,
        "account_type": {"id": 3, "name": "Rollover IRA"},
        "account_type_id": "3",
        "taxqualified": "true",
        "taxqualified_type": None,
        "product": None,
        "status": 1,
        "deleted": None,
        "updated_at": "not a date",
        "brand_new_field": {"nested": [1, 2]},
        "another": None,
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, {"accounts": [raw], "meta": {"total_pages": "1"}, "extra": 1})

    async with make_client(handler) as client:
        (acct,) = await client.contact_accounts(101)
    assert acct == RedtailAccount(
        id=5001,
        contact_id=101,
        number="",
        company=None,
        balance=Decimal("125000.00"),
        account_type="Rollover IRA",
        account_type_id=3,
        taxqualified=True,
        taxqualified_type=None,
        product=None,
        status="1",
        deleted=False,
        updated_at=None,
    )


def test_account_full_fields_parse() -> None:
    acct = RedtailAccount.model_validate(account(7, taxqualified=False, company=""))
    assert acct.updated_at == datetime(2020, 9, 10, 23, 32, 29, tzinfo=UTC)
    assert acct.taxqualified is False
    assert acct.company == ""
    assert acct.account_type_id == 3 and acct.taxqualified_type == 2


@pytest.mark.parametrize(
    ("raw", "full_name"),
    [
        ({"id": 1, "first_name": "Gomez", "last_name": "Addams"}, "Gomez Addams"),
        (
            {
                "id": 1,
                "first_name": "Gomez",
                "middle_name": "J",
                "last_name": "Addams",
                "full_name": None,
            },
            "Gomez J Addams",
        ),
        ({"id": 1, "full_name": "Cousin Itt"}, "Cousin Itt"),
        ({"id": "1", "company_name": "Addams Estates LLC"}, "Addams Estates LLC"),
        ({"id": 1, "first_name": "Zoë", "last_name": "O'Brien"}, "Zoë O'Brien"),
        ({"id": 1}, ""),
    ],
)
def test_contact_name_fallbacks(raw: dict[str, Any], full_name: str) -> None:
    assert RedtailContact.model_validate(raw).full_name == full_name


def test_contact_emails_forms() -> None:
    c = RedtailContact.model_validate(
        {"id": 1, "emails": ["a@x", {"address": "b@x"}, {"email_address": "c@x"}, {}, 5, None]}
    )
    assert c.emails == ["a@x", "b@x", "c@x"]
    assert RedtailContact.model_validate({"id": 1, "emails": None}).emails == []


# =========================================================================== concurrency


async def test_max_in_flight_bounds_concurrent_requests() -> None:
    in_flight = 0
    peak = 0
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight >= 3:
            gate.set()
        await gate.wait()
        await asyncio.sleep(0)
        in_flight -= 1
        cid = int(request.url.path.rsplit("/", 1)[1])
        return reply(200, {"contact": {"id": cid}})

    async with make_client(handler, max_in_flight=3) as client:
        got = await asyncio.gather(*(client.get_contact(i) for i in range(1, 11)))
    assert [c.id for c in got] == list(range(1, 11))
    assert peak == 3
    assert client.request_count == 10


# =========================================================================== repr / secrets


def secret_forms() -> list[str]:
    """Raw, base64 and URL-encoded forms of every secret and of both credential headers."""
    raws = [
        PASSWORD,
        USER_KEY,
        API_KEY,
        f"{API_KEY}:{USERNAME}:{PASSWORD}",
        f"{API_KEY}:{USER_KEY}",
    ]
    forms: set[str] = set()
    for raw in raws:
        forms.add(raw)
        forms.add(b64(raw))
        forms.add(urllib.parse.quote(raw, safe=""))
        forms.add(urllib.parse.quote_plus(raw))
    return sorted(forms)


def secret_fragments(width: int = 10) -> set[str]:
    """Every `width`-character piece of each pure secret's forms: a message cut in the middle
    of a secret must not leak its first half either."""
    fragments: set[str] = set()
    for raw in (PASSWORD, USER_KEY, API_KEY):
        for form in {raw, b64(raw), urllib.parse.quote(raw, safe=""), urllib.parse.quote_plus(raw)}:
            for i in range(len(form) - width + 1):
                fragments.add(form[i : i + width])
    return fragments


def assert_no_secrets(texts: list[str]) -> None:
    blob = "\n".join(texts)
    for form in secret_forms():
        assert form not in blob, f"secret form leaked: {form[:4]}…"
    for fragment in secret_fragments():
        assert fragment not in blob, f"part of a secret leaked: {fragment[:4]}…"


def test_auth_result_and_client_reprs_hide_secrets() -> None:
    result = AuthResult(user_key=USER_KEY, redtail_user_id=1)
    client = RedtailClient(BASE, API_KEY, USER_KEY)
    assert_no_secrets([repr(result), str(result), repr(client), str(client)])
    assert result.user_key == USER_KEY  # still readable on purpose


FAULT_MATRIX: list[Callable[[httpx.Request], httpx.Response]] = [
    lambda r: reply(401, {"message": "Invalid username or password"}),
    lambda r: reply(401, {"message": "Account Locked"}),
    lambda r: reply(401, {"message": "Gateway Time-out"}),
    lambda r: reply(403, {"message": "User Forbidden from contact"}),
    lambda r: reply(404, {"message": "Contact not found"}),
    lambda r: reply(429, {"message": "slow"}, **{"Retry-After": "1"}),
    lambda r: reply(500, "<html><title>Oops</title></html>"),
    lambda r: reply(200, "not json at all"),
    lambda r: reply(200, {"accounts": [{"id": 1, "balance": "junk"}]}),
]


async def test_no_secret_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="plantech")
    texts: list[str] = []

    async def ok(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/authentication"):
            return reply(200, {"authenticated_user": {"user_key": USER_KEY}})
        return reply(200, {"accounts": [account(1)], "meta": {"total_pages": 1}})

    async with make_client(ok, user_key=None) as client:
        result = await client.authenticate(USERNAME, PASSWORD)
        await client.contact_accounts(101)
        texts += [repr(result), str(result), repr(client), str(client)]

    handlers: list[Callable[[httpx.Request], httpx.Response]] = [*FAULT_MATRIX]
    for status in (400, 401, 403, 404, 429, 500):
        handlers.append(functools.partial(_echo_reply, status=status))

    def raising(r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {r.headers['authorization']}", request=r)

    handlers.append(raising)

    for fault in handlers:

        async def handler(
            request: httpx.Request, fault: Callable[[httpx.Request], httpx.Response] = fault
        ) -> httpx.Response:
            return fault(request)

        for login in (True, False):
            async with make_client(handler, user_key=None if login else USER_KEY) as client:
                try:
                    if login:
                        await client.authenticate(USERNAME, PASSWORD)
                    else:
                        await client.contact_accounts(101)
                except PlantechError as exc:
                    texts += [str(exc), repr(exc), exc.message, str(exc.args)]
                texts += [repr(client), str(client)]

    texts += [caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    assert any(
        "GET /contacts/101/accounts?page=1 -> 200" in r.getMessage()
        for r in caplog.records
        if r.name == "plantech.redtail"
    )
    assert_no_secrets(texts)


def _echo_reply(request: httpx.Request, status: int) -> httpx.Response:
    auth = request.headers.get("authorization", "")
    token = auth.split(" ", 1)[-1]
    decoded = base64.b64decode(token).decode() if token else ""
    quoted = urllib.parse.quote(decoded, safe="")
    # only what this request carried: the client cannot know a secret it never sent
    msg = f"bad header {auth} decoded {decoded} quoted {quoted} " + "padding " * 40
    return reply(status, {"message": msg})


async def test_error_reprs_and_kinds() -> None:
    kinds = {
        InvalidCredentials: "invalid_credentials",
        AccountLocked: "account_locked",
        Forbidden: "forbidden",
        PartnerNotFound: "not_found",
        RateLimited: "rate_limited",
        ServerError: "server_error",
        BadResponse: "bad_response",
        Unreachable: "unreachable",
        PartnerTimeout: "timeout",
    }
    for cls, kind in kinds.items():
        err = cls("line one\nline two", status=500)
        assert err.kind == kind
        assert issubclass(cls, PartnerError) and issubclass(cls, PlantechError)
        assert err.exit_code == 1
        assert err.message == "line one line two"
        assert kind in repr(err)


# =========================================================================== real sockets


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_closed_port() -> None:
    port = closed_port()
    retry, waits = fast_retry(attempts=2)
    client = RedtailClient(
        f"http://127.0.0.1:{port}/api/public/v1", API_KEY, USER_KEY, retry=retry, timeout=2.0
    )
    async with client:
        with pytest.raises(Unreachable) as info:
            await client.get_contact(101)
    assert info.value.message == (
        f"cannot reach Redtail at http://127.0.0.1:{port}/api/public/v1: connection refused "
        "(gave up after 2 attempts)"
    )
    assert client.request_count == 2
    assert len(waits.waits) == 1


async def test_unreachable_closed_port_on_login_is_one_attempt() -> None:
    port = closed_port()
    client = RedtailClient(f"http://127.0.0.1:{port}/api/public/v1", API_KEY)
    async with client:
        with pytest.raises(Unreachable):
            await client.authenticate(USERNAME, PASSWORD)
    assert client.request_count == 1


# --------------------------------------------------------------------------- size cap, UTF-8
# (issue 10, items 6 and 7): every answer is read as it streams and never past the cap.


class Spout:
    """A response body that counts what the client pulled from it; "endless" unless `total`
    (it still gives up after 16 MB, so a client without a cap cannot make a test run forever)."""

    def __init__(self, chunk: bytes = b"x" * 4096, total: int | None = None,
                 head: bytes = b"") -> None:
        self.chunk = chunk
        self.total = total if total is not None else 16 * 1024 * 1024
        self.head = head
        self.pulled = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        if self.head:
            self.pulled += len(self.head)
            yield self.head
        while self.pulled < self.total:
            self.pulled += len(self.chunk)
            yield self.chunk


CAP = 64 * 1024


async def test_item6_a_content_length_over_the_cap_is_refused_unread_and_not_retried() -> None:
    """Adversary: a server announcing a 1 GB answer. Refused by its Content-Length, before a
    byte of the body is read, once."""
    spout = Spout(total=10 * CAP)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(1 << 30)}, content=spout)

    async with make_client(handler, max_response_bytes=CAP) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    assert info.value.message == (
        "Redtail sent a response over 65536 bytes from GET /contacts/101/accounts?page=1 for "
        "the accounts of contact 101; stopped reading it"
    )
    assert info.value.kind == "bad_response"
    assert spout.pulled == 0 and client.request_count == 1


async def test_item6_an_endless_body_is_read_to_the_cap_only() -> None:
    """Adversary: a chunked answer that never ends (no Content-Length to refuse)."""
    spout = Spout(head=b'{"accounts": [], "padding": "')

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=spout)

    async with make_client(handler, max_response_bytes=CAP) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    assert "over 65536 bytes from GET /contacts/101/accounts?page=1" in info.value.message
    assert CAP < spout.pulled <= CAP + 2 * len(spout.chunk)
    assert client.request_count == 1


async def test_item6_the_default_cap_is_10_mb() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(10 * 1024 * 1024 + 1)},
                              content=Spout(total=0))

    async with make_client(handler) as client:
        with pytest.raises(BadResponse, match=r"over 10 MB from GET /contacts/101 "):
            await client.get_contact(101)


async def test_item6_an_answer_exactly_at_the_cap_is_read() -> None:
    body = json.dumps({"contact": {"id": 101, "first_name": "Gomez", "last_name": "Addams"}}).encode()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with make_client(handler, max_response_bytes=len(body)) as client:
        assert (await client.get_contact(101)).id == 101


CAPPED_CALLS: list[tuple[str, Callable[[RedtailClient], Coroutine[Any, Any, Any]]]] = [
    ("authentication", lambda c: c.authenticate(USERNAME, PASSWORD)),
    ("contacts/search", lambda c: c.search_contacts(name="Addams")),
    ("contacts/101/family", lambda c: c.contact_family(101)),
    ("lists/account_types", lambda c: c.account_types()),
    ("lists/account_tax_qualified_types", lambda c: c.tax_qualified_types()),
    ("accounts/5001", lambda c: c.get_account(5001)),
]


@pytest.mark.parametrize(("path", "call"), CAPPED_CALLS, ids=[p for p, _ in CAPPED_CALLS])
async def test_item6_every_call_is_capped(path: str, call: Any) -> None:
    spout = Spout()

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/" + path)
        return httpx.Response(200, content=spout)

    async with make_client(handler, max_response_bytes=CAP) as client:
        with pytest.raises(BadResponse, match=f"over 65536 bytes from GET /{path}"):
            await call(client)
    assert spout.pulled <= CAP + 2 * len(spout.chunk) and client.request_count == 1


async def test_item6_an_error_answer_is_read_for_its_message_only_and_still_retried() -> None:
    """Adversary: a 500 whose HTML body never ends. It is still a retried server error (the
    retry policy is unchanged); each attempt reads only the first 1 MB, for the message."""
    spouts: list[Spout] = []
    page = b"<html><head><title>502 Bad Gateway</title></head><body>"

    async def handler(request: httpx.Request) -> httpx.Response:
        spouts.append(Spout(head=page))
        return httpx.Response(502, headers={"Content-Type": "text/html"}, content=spouts[-1])

    retry, waits = fast_retry(attempts=3)
    async with make_client(handler, retry=retry) as client:
        with pytest.raises(ServerError) as info:
            await client.get_contact(101)
    assert info.value.message == (
        "Redtail server error on contact 101: gave up after 3 attempts: 502 Bad Gateway (HTTP 502)"
    )
    assert len(spouts) == 3 and len(waits.waits) == 2
    assert all(s.pulled <= 1024 * 1024 + 2 * len(s.chunk) for s in spouts)


async def test_item6_rate_limit_with_a_huge_body_keeps_retry_after() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "7"}, content=Spout(total=1 << 20)),
               reply(200, {"contact": {"id": 101, "first_name": "Gomez", "last_name": "Addams"}})]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    retry, waits = fast_retry()
    async with make_client(handler, retry=retry) as client:
        assert (await client.get_contact(101)).id == 101
    assert waits.waits and waits.waits[0] >= 7.0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=latin-1"])
async def test_item7_invalid_utf8_is_refused_not_replaced(content_type: str) -> None:
    """Adversary: an answer with bytes that are not UTF-8 in a company name (whatever charset
    it claims). Refused with the reason, not stored as U+FFFD, not retried."""
    body = json.dumps({"accounts": [account(5001)], "meta": {"total_pages": 1}}).encode()
    body = body.replace(b'"Fidelity"', b'"Fid\xc3\x28lity"')

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": content_type}, content=body)

    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.contact_accounts(101)
    message = info.value.message
    assert message.startswith(
        "Redtail sent invalid UTF-8 in the response from GET /contacts/101/accounts?page=1 for "
        "the accounts of contact 101 (at byte "
    )
    assert "\ufffd" not in message and client.request_count == 1


async def test_item7_valid_utf8_still_reads() -> None:
    body = json.dumps({"accounts": [account(5001, company="Société Générale ✓")],
                       "meta": {"total_pages": 1}}, ensure_ascii=False).encode()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with make_client(handler) as client:
        (only,) = await client.contact_accounts(101)
    assert only.company == "Société Générale ✓"


# =========================================================================== against the fake
#
# Faults reach the client as real HTTP answers of the fake Redtail (SPEC §10): in-process via
# httpx.ASGITransport, and over real loopback where a socket matters (timeouts, Retry-After).

GOMEZ, MORTICIA = 101, 102


def contact_id_by_first_name(data: Any, first_name: str) -> int:
    return next(c.id for c in data.contacts.values() if c.first_name == first_name)


def demo_user_key(data: Any) -> str:
    user = data.user(DEMO_USERNAME)
    assert user is not None
    return str(user.user_key)


def live_accounts(data: Any, contact_id: int) -> dict[int, Decimal | None]:
    """What the client must return for a contact: every listed account not deleted."""
    return {
        a.id: to_money_or_none(a.balance) for a in data.accounts_of(contact_id) if not a.deleted
    }


def asgi_client(app: Any, *, user_key: str | None = None, **kwargs: Any) -> RedtailClient:
    kwargs.setdefault("retry", fast_retry()[0])
    return RedtailClient(
        BASE, DEMO_API_KEY, user_key, transport=httpx.ASGITransport(app=app), **kwargs
    )


async def login(client: RedtailClient) -> AuthResult:
    return await client.authenticate(DEMO_USERNAME, DEMO_PASSWORD)


def calls(app: Any) -> list[tuple[str, str]]:
    """The fake's request log without the login."""
    return [entry for entry in app.state.request_log if entry[1] != "/authentication"]


async def test_fake_login_then_every_call() -> None:
    data = load_demo_data()
    app = create_app(data)
    pugsley = contact_id_by_first_name(data, "Pugsley")
    async with asgi_client(app) as client:
        result = await login(client)
        assert result.user_key == demo_user_key(data)
        assert result.redtail_user_id is not None
        gomez = await client.get_contact(GOMEZ)
        assert gomez.first_name == "Gomez" and gomez.full_name.startswith("Gomez")
        found, truncated = await client.search_contacts(last_name="Addams")
        assert not truncated
        assert {GOMEZ, MORTICIA, pugsley} <= {c.id for c in found}
        family = await client.contact_family(GOMEZ)
        members = {m.contact_id for m in family.members}
        wednesday = contact_id_by_first_name(data, "Wednesday")
        assert {GOMEZ, MORTICIA, wednesday, pugsley} <= members
        types = await client.account_types()
        tq = await client.tax_qualified_types()
        assert [t.id for t in types] == [t["id"] for t in data.account_types]
        assert [t.id for t in tq] == [t["id"] for t in data.tax_qualified_types]
        some_id = next(iter(live_accounts(data, GOMEZ)))
        acct = await client.get_account(some_id)
        assert acct.id == some_id


async def test_fake_wrong_password_one_request_and_one_failed_login() -> None:
    app = create_app(load_demo_data())
    async with asgi_client(app) as client:
        with pytest.raises(InvalidCredentials) as info:
            await client.authenticate(DEMO_USERNAME, "not-the-password")
    assert "Invalid username or password" in info.value.message
    assert info.value.message.endswith("(HTTP 401)")
    assert client.request_count == 1
    assert app.state.request_log == [("GET", "/authentication")]
    assert app.state.fake.failed_logins == {DEMO_USERNAME.casefold(): 1}


async def test_fake_locked() -> None:
    app = create_app(load_demo_data(), faults="locked")
    async with asgi_client(app) as client:
        with pytest.raises(AccountLocked) as info:
            await login(client)
    assert "Account Locked" in info.value.message
    assert client.request_count == 1


async def test_fake_three_failures_lock_then_locked_error() -> None:
    app = create_app(load_demo_data())
    async with asgi_client(app) as client:
        for _ in range(3):
            with pytest.raises(InvalidCredentials):
                await client.authenticate(DEMO_USERNAME, "wrong")
        with pytest.raises(AccountLocked):
            await login(client)
    assert client.request_count == 4


async def test_fake_wrong_api_key() -> None:
    app = create_app(load_demo_data())
    client = RedtailClient(BASE, "not-a-partner-key", transport=httpx.ASGITransport(app=app))
    async with client:
        with pytest.raises(InvalidCredentials) as info:
            await login(client)
    assert "Invalid API key" in info.value.message


async def test_fake_unauthorized_needs_reauthentication() -> None:
    app = create_app(load_demo_data(), faults="unauthorized")
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(InvalidCredentials) as info:
            await client.contact_accounts(GOMEZ)
    assert "re-authentication" in info.value.message
    assert "Invalid user key" in info.value.message
    assert len(calls(app)) == 1


async def test_fake_stored_user_key_works_without_login() -> None:
    data = load_demo_data()
    app = create_app(data)
    async with asgi_client(app, user_key=demo_user_key(data)) as client:
        assert (await client.get_contact(MORTICIA)).first_name == "Morticia"
    assert app.state.request_log == [("GET", f"/contacts/{MORTICIA}")]


async def test_fake_gateway_timeout_retried_then_succeeds() -> None:
    data = load_demo_data()
    app = create_app(data, faults="gateway_timeout:2")
    retry, waits = fast_retry()
    async with asgi_client(app, retry=retry) as client:
        await login(client)
        got = await client.contact_accounts(GOMEZ)
    assert {a.id for a in got} == set(live_accounts(data, GOMEZ))
    assert len(waits.waits) == 2
    assert len(calls(app)) == 2 + -(-len(data.accounts_of(GOMEZ)) // 50)


async def test_fake_rate_limit_waits_retry_after_then_succeeds() -> None:
    data = load_demo_data()
    app = create_app(data, faults="rate_limit:2")
    retry, waits = fast_retry()
    async with asgi_client(app, retry=retry) as client:
        await login(client)
        contact = await client.get_contact(GOMEZ)
    assert contact.id == GOMEZ
    assert len(waits.waits) == 2
    assert all(w >= 1.0 for w in waits.waits)  # the fake sends Retry-After: 1
    assert client.request_count == 1 + 3


async def test_fake_rate_limit_gives_up() -> None:
    app = create_app(load_demo_data(), faults="rate_limit:10")
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(RateLimited) as info:
            await client.get_contact(GOMEZ)
    assert info.value.message == (
        f"Redtail rate limit on contact {GOMEZ}: gave up after 4 attempts: "
        "Rate limit exceeded (HTTP 429)"
    )
    assert len(calls(app)) == 4


async def test_fake_server_error_retried_then_succeeds_or_gives_up() -> None:
    app = create_app(load_demo_data(), faults="server_error:3")
    async with asgi_client(app) as client:
        await login(client)
        assert (await client.get_contact(GOMEZ)).id == GOMEZ
    assert len(calls(app)) == 4

    app = create_app(load_demo_data(), faults="server_error:10")
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(ServerError) as info:
            await client.get_contact(GOMEZ)
    assert "500 Internal Server Error" in info.value.message
    assert "gave up after 4 attempts" in info.value.message
    assert "<" not in info.value.message
    assert len(calls(app)) == 4


async def test_fake_server_error_contact() -> None:
    app = create_app(load_demo_data(), faults=f"server_error_contact:{GOMEZ}")
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(ServerError) as info:
            await client.contact_accounts(GOMEZ)
        assert await client.contact_accounts(MORTICIA)  # other contacts unaffected
    assert "Internal Server Error (HTTP 500)" in info.value.message
    assert f"contact {GOMEZ}" in info.value.message


@pytest.mark.parametrize(
    ("fault", "call", "exc", "text"),
    [
        (f"forbidden:{GOMEZ}", "accounts", Forbidden, "User Forbidden from accessing accounts"),
        (f"not_found:{GOMEZ}", "contact", PartnerNotFound, "Contact not found"),
        (f"not_found:{GOMEZ}", "accounts", PartnerNotFound, "Contact not found"),
        (f"malformed:{GOMEZ}", "accounts", BadResponse, "not JSON"),
    ],
)
async def test_fake_targeted_faults(
    fault: str, call: str, exc: type[PartnerError], text: str
) -> None:
    app = create_app(load_demo_data(), faults=fault)
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(exc) as info:
            if call == "accounts":
                await client.contact_accounts(GOMEZ)
            else:
                await client.get_contact(GOMEZ)
    assert text in info.value.message
    assert f"contact {GOMEZ}" in info.value.message
    assert "\n" not in info.value.message and len(info.value.message) < 300
    assert len(calls(app)) == 1  # never retried


async def test_fake_unknown_contact_is_not_found() -> None:
    app = create_app(load_demo_data())
    async with asgi_client(app) as client:
        await login(client)
        with pytest.raises(PartnerNotFound) as info:
            await client.get_contact(987654)
    assert info.value.message == "Redtail has no contact 987654: Contact not found (HTTP 404)"


async def test_fake_timeout_in_process() -> None:
    app = create_app(load_demo_data(), faults=f"timeout:{GOMEZ}")
    async with asgi_client(app, timeout=0.3, retry=RetryPolicy(attempts=1)) as client:
        await login(client)
        started = time.monotonic()
        with pytest.raises(PartnerTimeout) as info:
            await client.contact_accounts(GOMEZ)
    assert time.monotonic() - started < 5
    assert "0.3 s" in info.value.message


async def test_fake_timeout_over_loopback() -> None:
    with FakeRedtailServer(load_demo_data(), faults=f"timeout:{GOMEZ}") as srv:
        client = RedtailClient(
            srv.base_url, DEMO_API_KEY, timeout=0.5, retry=RetryPolicy(attempts=1)
        )
        async with client:
            await login(client)
            started = time.monotonic()
            with pytest.raises(PartnerTimeout) as info:
                await client.contact_accounts(GOMEZ)
            elapsed = time.monotonic() - started
            assert (await client.get_contact(MORTICIA)).id == MORTICIA  # client still usable
    assert 0.4 <= elapsed < 5
    assert info.value.kind == "timeout"
    assert f"contact {GOMEZ}" in info.value.message


async def test_fake_retry_after_honoured_over_loopback_in_real_time() -> None:
    with FakeRedtailServer(load_demo_data(), faults="rate_limit:1") as srv:
        client = RedtailClient(srv.base_url, DEMO_API_KEY, retry=RetryPolicy(base_delay=0.01))
        async with client:
            await login(client)
            started = time.monotonic()
            contact = await client.get_contact(GOMEZ)
            elapsed = time.monotonic() - started
    assert contact.id == GOMEZ
    assert 1.0 <= elapsed < 3.0
    assert client.request_count == 3


async def test_fake_pugsley_has_more_than_50_accounts_all_returned() -> None:
    data = load_demo_data()
    app = create_app(data)
    pugsley = contact_id_by_first_name(data, "Pugsley")
    expected = live_accounts(data, pugsley)
    assert len(expected) > 50
    async with asgi_client(app) as client:
        await login(client)
        got = await client.contact_accounts(pugsley)
    assert {a.id: a.balance for a in got} == expected
    assert len(got) == len(expected)
    pages = -(-len(data.accounts_of(pugsley)) // 50)
    assert len(calls(app)) == pages


async def test_fake_balances_are_decimal_null_kept_deleted_dropped() -> None:
    data = load_demo_data()
    app = create_app(data)
    everyone = sorted(data.contacts)
    async with asgi_client(app, max_in_flight=4) as client:
        await login(client)
        results = await asyncio.gather(*(client.contact_accounts(cid) for cid in everyone))
    seen_null = seen_deleted = False
    for cid, got in zip(everyone, results, strict=True):
        assert {a.id: a.balance for a in got} == live_accounts(data, cid)
        for acct in got:
            assert acct.balance is None or type(acct.balance) is Decimal
            assert not acct.deleted
            seen_null = seen_null or acct.balance is None
        seen_deleted = seen_deleted or any(a.deleted for a in data.accounts_of(cid))
    assert seen_null, "the demo has an account with a null balance"
    assert seen_deleted, "the demo has a deleted account"


async def test_fake_joint_account_listed_under_both() -> None:
    data = load_demo_data()
    app = create_app(data)
    async with asgi_client(app) as client:
        await login(client)
        gomez = {a.id: a for a in await client.contact_accounts(GOMEZ)}
        morticia = {a.id: a for a in await client.contact_accounts(MORTICIA)}
    joint = set(gomez) & set(morticia)
    assert joint
    for aid in joint:
        assert gomez[aid].contact_id == GOMEZ and morticia[aid].contact_id == MORTICIA


async def test_fake_lying_pages_bounded_and_exact() -> None:
    data = load_demo_data()
    app = create_app(data, faults="lying_pages")
    pugsley = contact_id_by_first_name(data, "Pugsley")
    async with asgi_client(app) as client:
        await login(client)
        got = await client.contact_accounts(pugsley)
        gomez = await client.contact_accounts(GOMEZ)
    assert {a.id: a.balance for a in got} == live_accounts(data, pugsley)
    assert {a.id for a in gomez} == set(live_accounts(data, GOMEZ))
    pages_p = -(-len(data.accounts_of(pugsley)) // 50)
    pages_g = -(-len(data.accounts_of(GOMEZ)) // 50)
    assert client.request_count <= 1 + (pages_p + 1) + (pages_g + 1)
    assert len(calls(app)) == client.request_count - 1


@pytest.mark.parametrize("page_size", [10, 20, 200])
async def test_fake_ignore_pagesize_still_gets_everything(page_size: int) -> None:
    data = load_demo_data()
    app = create_app(data, faults="ignore_pagesize")
    pugsley = contact_id_by_first_name(data, "Pugsley")
    async with asgi_client(app, page_size=page_size) as client:
        await login(client)
        got = await client.contact_accounts(pugsley)
    assert {a.id: a.balance for a in got} == live_accounts(data, pugsley)


async def test_fake_honours_our_pagesize() -> None:
    data = load_demo_data()
    app = create_app(data)
    pugsley = contact_id_by_first_name(data, "Pugsley")
    async with asgi_client(app, page_size=20) as client:
        await login(client)
        got = await client.contact_accounts(pugsley)
    assert len(got) == len(live_accounts(data, pugsley))
    assert len(calls(app)) == -(-len(data.accounts_of(pugsley)) // 20)


async def test_fake_unreachable_after_stop() -> None:
    srv = FakeRedtailServer(load_demo_data()).start()
    base = srv.base_url
    srv.stop()
    retry, _ = fast_retry(attempts=2)
    async with RedtailClient(base, DEMO_API_KEY, "some-user-key", retry=retry) as client:
        with pytest.raises(Unreachable) as info:
            await client.get_contact(GOMEZ)
    assert info.value.message.startswith(f"cannot reach Redtail at {base}: connection refused")


async def _matrix_call(client: RedtailClient, step: int) -> object:
    if step == 0:
        return await client.authenticate(DEMO_USERNAME, DEMO_PASSWORD)
    if step == 1:
        return await client.authenticate(DEMO_USERNAME, DEMO_PASSWORD + "x")
    if step == 2:
        return await client.get_contact(GOMEZ)
    if step == 3:
        return await client.contact_accounts(GOMEZ)
    return await client.search_contacts(name="Addams")


FAKE_FAULTS = [
    "unauthorized",
    "locked",
    "gateway_timeout:9",
    f"forbidden:{GOMEZ}",
    f"not_found:{GOMEZ}",
    "rate_limit:9",
    "server_error:9",
    f"server_error_contact:{GOMEZ}",
    f"malformed:{GOMEZ}",
    "malformed",
    "lying_pages",
    "ignore_pagesize",
    None,
]


async def test_fake_no_secret_anywhere_across_the_fault_matrix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="plantech")
    data = load_demo_data()
    user_key = demo_user_key(data)
    secrets = [
        DEMO_PASSWORD,
        user_key,
        DEMO_API_KEY,
        f"{DEMO_API_KEY}:{DEMO_USERNAME}:{DEMO_PASSWORD}",
        f"{DEMO_API_KEY}:{user_key}",
    ]
    texts: list[str] = []
    raised: set[str] = set()
    for fault in FAKE_FAULTS:
        app = create_app(data, faults=fault)
        async with asgi_client(app) as client:
            for step in range(5):
                try:
                    result = await _matrix_call(client, step)
                    texts += [repr(result), str(result)]
                except PlantechError as exc:
                    raised.add(type(exc).__name__)
                    texts += [str(exc), repr(exc), str(exc.args)]
            texts += [repr(client), str(client)]
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    blob = "\n".join(texts)
    for raw in secrets:
        for form in (raw, b64(raw), urllib.parse.quote(raw, safe=""), urllib.parse.quote_plus(raw)):
            assert form not in blob, f"secret leaked: {form[:4]}…"
    # the matrix really exercised the error paths
    assert {
        "InvalidCredentials",
        "AccountLocked",
        "ServerError",
        "Forbidden",
        "PartnerNotFound",
        "RateLimited",
        "BadResponse",
    } <= raised
