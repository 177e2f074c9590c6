"""The Salesforce client against the fake (in-process ASGI): the device flow, tokens that die
and refresh, limits, retries, paging and cursors, SOQL quoting (SALESFORCE_FSC_API.md)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from plantech_tui.partners.base import (
    BadResponse,
    DeviceCode,
    InvalidCredentials,
    PartnerTimeout,
    RateLimited,
    ServerError,
)
from plantech_tui.partners.http import RetryPolicy
from plantech_tui.partners.salesforce import client as sf_client
from plantech_tui.partners.salesforce import fake
from plantech_tui.partners.salesforce.client import (
    SalesforceClient,
    Tokens,
    device_login,
    like_literal,
    soql_literal,
    valid_id,
)
from plantech_tui.partners.salesforce.fake import soql

from .conftest import LOGIN, InProcess, in_process, login, open_connection, partner


async def _no_wait(_seconds: float) -> None:
    return None


# ------------------------------------------------------------------ quoting


@pytest.mark.parametrize("text", [
    "d'Arcy", "a\\b", "50%_off", "x' OR Name LIKE '%", "\\'; DROP", 'say "hi"', "tab\there",
    "new\nline", "Zoë D'Arcy-Ñúñez", "%", "_", "\\", "'", "''", "\\\\'",
])
def test_a_literal_round_trips_through_the_fake_parser_as_itself(text: str) -> None:
    """Adversary: search text that tries to close the quote and add a condition. Quoted by the
    client, the fake's strict parser reads back exactly the text typed: one literal, nothing
    more (a LIKE pattern matches the text itself, its % and _ literal)."""
    query = soql.parse(f"SELECT Id FROM Account WHERE Name = {soql_literal(text)} AND "
                       f"Name LIKE {like_literal(text)}")
    equal, like = query.where
    assert equal.values[0].value == text.replace("\r", "")
    import re

    pattern = re.compile(like.values[0].like or "", re.I | re.S)
    assert pattern.fullmatch(f"before {text} after")
    assert not pattern.fullmatch("something else entirely")  # its % and _ are literal


def test_ids_are_checked_before_they_reach_a_query() -> None:
    """Adversary: a client id that is SOQL. Only 15/18 letters and digits pass."""
    assert valid_id("001000000000001AAA") and valid_id("001000000000001")
    for bad in ("001000000000001AA'", "001' OR Id != '0", "", "0" * 17, "0" * 19):
        assert not valid_id(bad)
    with pytest.raises(ValueError):
        sf_client.id_list(["001000000000001AAA", "x' OR '1'='1"])


@pytest.mark.parametrize(("query", "code"), [
    ("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE Name = 'unclosed", "MALFORMED_QUERY"),
    ("SELECT Nope FROM Account", "INVALID_FIELD"),
    ("SELECT Id FROM Account WHERE IsPersonAccount = 'true'", "INVALID_FIELD"),
    ("SELECT Id FROM Nothing__c", "INVALID_TYPE"),
    ("SELECT Id FROM Account WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
    ("SELECT RecordType.DeveloperName FROM Account", "MALFORMED_QUERY"),
])
def test_the_fake_refuses_what_salesforce_refuses(query: str, code: str) -> None:
    """A client developer relies on the fake to say no where Salesforce would: OR, a bad
    escape, an unknown column, a quoted boolean, an unknown object, a malformed id."""
    org = fake.load_demo_data()
    with pytest.raises(soql.SoqlError) as caught:
        from plantech_tui.partners.salesforce.fake.dataset import SCHEMAS

        soql.run(soql.parse(query), SCHEMAS, lambda o: list(org.rows[o].values()))
    assert caught.value.code == code


# ------------------------------------------------------------------ device flow


async def test_the_device_flow_shows_the_code_waits_for_approval_and_reads_the_username(
        sf: InProcess) -> None:
    """Advisor over SSH: the login prints a URL and an 8-character code, keeps polling while
    the approval is pending (three polls here), and once approved in a browser knows who
    logged in. The secret is the token pair and where it works, not a password."""
    shown: list[DeviceCode] = []
    polls = 0

    async def sleep(_seconds: float) -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            sf.state.approve()

    tokens, username = await device_login(LOGIN, fake.DEMO_CLIENT_ID, transport=sf.transport,
                                          prompt=shown.append, sleep=sleep)
    [code] = shown
    assert code.url == f"{LOGIN}/setup/connect" and len(code.code) == 8
    assert code.code in str(code) and code.url in str(code)
    assert polls == 3 and username == fake.DEMO_USERNAME
    assert tokens.instance_url.endswith(":9002")  # data goes to the instance, not the login
    assert set(json.loads(tokens.to_secret())) == {"access_token", "refresh_token",
                                                   "instance_url", "login_url", "client_id"}
    assert "***" in repr(tokens) and tokens.refresh_token not in repr(tokens)


async def test_slow_down_adds_five_seconds_to_the_interval() -> None:
    """Salesforce says slow_down when polled faster than the interval: the client waits
    five seconds more each time it hears it (RFC 8628), and still logs in."""
    sf = in_process(device_interval=5)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            sf.state.approve()
            sf.state.device_interval = 0  # the next poll is on time

    # the fake's clock is real: every poll but the first comes "too soon"
    await device_login(LOGIN, fake.DEMO_CLIENT_ID, transport=sf.transport, sleep=sleep)
    assert waits == [5.0, 10.0]


@pytest.mark.parametrize(("verb", "message"), [
    ("deny", "denied in the browser"), ("expire", "expired"),
])
async def test_a_denied_or_expired_code_stops_with_the_reason(sf: InProcess, verb: str,
                                                             message: str) -> None:
    """The user clicks Deny (or waits too long): the login stops at once with why, never
    polls for ever."""
    with pytest.raises(InvalidCredentials if verb == "deny" else BadResponse) as caught:
        await device_login(LOGIN, fake.DEMO_CLIENT_ID, transport=sf.transport,
                           prompt=lambda _c: getattr(sf.state, verb)(), sleep=_no_wait)
    assert message in caught.value.message  # type: ignore[attr-defined]


async def test_nobody_approving_gives_up_after_the_time_limit(sf: InProcess) -> None:
    """A login left waiting in cron's log: after the limit it ends with a clear message."""
    with pytest.raises(PartnerTimeout, match="nobody approved"):
        await device_login(LOGIN, fake.DEMO_CLIENT_ID, transport=sf.transport,
                           sleep=_no_wait, give_up=0)


async def test_an_unknown_client_id_says_what_a_client_id_is(sf: InProcess) -> None:
    """A firm admin pastes the wrong key: the message says it must be the connected app's
    consumer key with device flow on."""
    with pytest.raises(InvalidCredentials, match="consumer key"):
        await device_login(LOGIN, "3MVG9-not-ours", transport=sf.transport, sleep=_no_wait)


# ------------------------------------------------------------------ tokens


async def test_an_access_token_that_dies_mid_listing_is_refreshed_once_for_everyone(
        sf: InProcess) -> None:
    """The org's session timeout strikes during a pull: eight requests in flight all see
    401; exactly one refresh happens, every request is retried once and succeeds, and the
    new token is handed to save_secret (the keyring keeps it)."""
    saved: list[str] = []
    conn = await open_connection(sf, saved)
    async with conn:
        people = {r["FirstName"]: r["Id"] for r in sf.org.rows["Account"].values()
                  if r.get("IsPersonAccount")}
        await conn.accounts(people["Herman"])  # warm: version and model known
        sf.state.expire_access_tokens()
        listings = await asyncio.gather(*(conn.accounts(people[n]) for n in
                                          ("Herman", "Lily", "Sam", "Zoë") * 2))
        assert all(listing.accounts for listing in listings)
        assert sf.state.refresh_count == 1 and conn.client.refreshes == 1
    [secret] = saved
    assert Tokens.from_secret(secret).access_token in sf.state.access


async def test_a_dead_refresh_token_is_reconnect_needed_and_never_retried(
        sf: InProcess) -> None:
    """Cron at night with a revoked grant: one refresh attempt, then InvalidCredentials
    saying "reconnect needed" (the integration gets marked); no loop of refreshes."""
    conn = await open_connection(sf)
    async with conn:
        sf.state.expire_access_tokens()
        sf.state.set_faults("dead_refresh")
        with pytest.raises(InvalidCredentials, match="reconnect needed"):
            await conn.search_contacts({"name": "Munster"})
    assert sf.state.refresh_count == 1


async def test_a_rotated_refresh_token_is_kept(sf: InProcess) -> None:
    """An org that rotates refresh tokens: the new one is stored at once, and the old one
    no longer works, so the next run must use the saved one."""
    saved: list[str] = []
    conn = await open_connection(sf, saved)
    old = conn.client.tokens.refresh_token
    async with conn:
        sf.state.set_faults("rotate_refresh")
        sf.state.expire_access_tokens()
        await conn.search_contacts({"name": "Munster"})
    new = Tokens.from_secret(saved[-1]).refresh_token
    assert new != old and new in sf.state.refresh and old not in sf.state.refresh


async def test_the_request_limit_stops_at_once(sf: InProcess) -> None:
    """REQUEST_LIMIT_EXCEEDED is the org's daily allowance: retrying only burns more. One
    attempt, RateLimited, saying so."""
    conn = await open_connection(sf)
    async with conn:
        await conn.check()
        before = sf.state.request_count
        sf.state.set_faults("request_limit:5")
        with pytest.raises(RateLimited, match="request limit"):
            await conn.search_contacts({"name": "Munster"})
        assert sf.state.request_count == before + 1


async def test_server_errors_are_retried_then_reported(sf: InProcess) -> None:
    """A 503 blip is retried and the call succeeds; a lasting outage fails after three tries
    with the server's words."""
    conn = await open_connection(sf, retry=RetryPolicy(attempts=3, sleep=_no_wait))
    async with conn:
        await conn.check()
        sf.state.set_faults("server_error:2")
        found, _ = await conn.search_contacts({"name": "Munster"})
        assert len(found) == 2
        sf.state.set_faults("server_error:3")
        with pytest.raises(ServerError, match="SERVER_UNAVAILABLE|temporarily"):
            await conn.search_contacts({"name": "Munster"})


async def test_no_token_appears_in_any_error_or_log(sf: InProcess,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Adversary: someone reading logs and error text. Through a refresh, a limit error and
    a dead refresh token, neither token ever shows."""
    caplog.set_level("DEBUG")
    saved: list[str] = []
    conn = await open_connection(sf, saved)
    messages = []
    async with conn:
        tokens = conn.client.tokens
        sf.state.expire_access_tokens()
        await conn.check()
        sf.state.set_faults("request_limit:1")
        with pytest.raises(RateLimited) as limit:
            await conn.check()
        messages.append(limit.value.message)
        sf.state.expire_access_tokens()
        sf.state.set_faults("dead_refresh")
        with pytest.raises(InvalidCredentials) as dead:
            await conn.check()
        messages.append(dead.value.message + repr(dead.value))
    fresh = Tokens.from_secret(saved[-1])
    text = "\n".join(messages) + caplog.text + repr(conn.client)
    for secret in (tokens.access_token, tokens.refresh_token, fresh.access_token):
        assert secret not in text


# ------------------------------------------------------------------ paging


def _busy(extra: int, faults: str | None = None) -> tuple[InProcess, dict[str, object]]:
    """The demo org, its 450-account client given `extra` accounts more."""
    org = fake.load_demo_data()
    busy = org.by_name("Busy Client")
    for i in range(extra):
        org.account(busy, f"Extra {i}", f"EX-{i}", "Brokerage", "1.00")
    return in_process(org, faults), busy


async def test_a_query_pages_by_next_records_url_over_two_thousand_records() -> None:
    """A client with 2,500 accounts: the answer comes in pages of 2,000; the client follows
    nextRecordsUrl (a path on the instance) and gets every record once."""
    sf, busy = _busy(2050)
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(busy["Id"])
    assert len(listing.accounts) == 2500 and not listing.truncated
    assert len({a.source_id for a in listing.accounts}) == 2500
    # one query (page 2 came by its cursor, not by asking again)
    assert sum(1 for q in sf.state.queries if "WHERE FinServ__PrimaryOwner__c" in q) == 1


async def test_a_dead_cursor_runs_the_query_again_once(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """The cursor of page 2 expired (INVALID_QUERY_LOCATOR): the client runs the query again
    once and still gets every record."""
    sf, busy = _busy(1800, "dead_cursor")
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(busy["Id"])
    assert len(listing.accounts) == 2250


async def test_a_listing_cut_at_the_page_cap_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A runaway listing stops at the page cap and reports itself cut (partial), so nothing
    is flagged missing at source."""
    monkeypatch.setattr(sf_client, "MAX_PAGES", 1)
    sf, busy = _busy(1800)
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(busy["Id"])
    assert listing.truncated and "cut" in listing.note


async def test_limit_usage_is_read_from_every_answer(sf: InProcess) -> None:
    """The org's daily API use (Sforce-Limit-Info) is known after any data call, and a
    warning is logged from 80 %."""
    conn = await open_connection(sf)
    async with conn:
        await conn.check()
        used, most = conn.client.api_usage or (0, 0)
        assert most == 100_000 and used > 10_000 and not conn.client.limit_warned
        sf.state.api_used = 85_000
        await conn.check()
        assert conn.client.limit_warned


async def test_revoke_kills_the_refresh_token_and_its_sessions(sf: InProcess) -> None:
    """Remove Integration: the refresh token and the access tokens it made stop working."""
    integration, secret = await login(sf)
    tokens = Tokens.from_secret(secret)
    assert tokens.access_token in sf.state.access
    await partner().revoke(integration, secret, transport=sf.transport)
    assert tokens.refresh_token not in sf.state.refresh
    assert tokens.access_token not in sf.state.access
    await partner().revoke(integration, secret, transport=sf.transport)  # twice: no error


async def test_balances_are_decimal_from_json_numbers(sf: InProcess) -> None:
    """Money is Decimal: 152340.55 arrives as a JSON number and is kept exactly."""
    client = SalesforceClient(Tokens.from_secret((await login(sf))[1]), transport=sf.transport)
    async with client:
        records, _ = await client.query(
            "SELECT Id, FinServ__Balance__c FROM FinServ__FinancialAccount__c WHERE "
            "Name = 'Schwab Brokerage'", what="a balance")
    assert records[0]["FinServ__Balance__c"] == Decimal("152340.55")


async def test_an_unreadable_stored_login_says_reconnect_and_shows_nothing_of_it(
        sf: InProcess) -> None:
    """A credential file edited by hand (or cut short): opening the integration fails with
    "reconnect it", naming what is missing, never echoing the stored text."""
    from plantech_tui.partners.base import InvalidCredentials as Refused

    integration, secret = await login(sf)
    broken = secret[: len(secret) // 2]
    with pytest.raises(Refused, match="unreadable.*reconnect") as caught:
        partner().open(integration, broken, mapping=partner().default_mapping())
    assert broken not in caught.value.message
    half = json.dumps({k: v for k, v in json.loads(secret).items() if k != "client_id"})
    with pytest.raises(Refused, match="lacks client_id"):
        partner().open(integration, half, mapping=partner().default_mapping())
