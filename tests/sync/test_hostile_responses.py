"""Hostile response bodies from Redtail fail the one contact, over real loopback HTTP
(issue 10, items 6 and 7): a page over the size cap, a body that never ends, invalid UTF-8.

The fake serves them (faults ``huge_page``, ``endless_body``, ``bad_utf8``); the sync runs
against it as `plantech sync` does. Nothing here is timed: the fake counts the padding bytes it
sent and signals when a hostile body is over, and the client's reads are measured with
tracemalloc.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

from plantech_tui.partners.redtail.client import MAX_RESPONSE_BYTES

from .conftest import Cli, staged_map
from .test_pull_faults import fast_client_for, pull

ACCOUNTS_102 = ("GET", "/contacts/102/accounts")


def _prepare(run: Cli, fake, pid: int) -> dict[int, dict]:
    """A first clean pull, then Gomez's and Morticia's balances move at Redtail."""
    run.ok("sync", "--plan", str(pid))
    before = staged_map(run.ok("plan", "show", str(pid)))
    for account_id in (5001, 5011):
        fake.data.accounts[account_id].balance = "777.0"
    return before


def _assert_only_morticia_failed(run: Cli, pid: int, before: dict[int, dict]) -> None:
    after = staged_map(run.ok("plan", "show", str(pid)))
    assert after[5001]["balance"] == "777.00"  # Gomez applied
    assert after[5011] == before[5011]  # Morticia's rows untouched
    assert set(after) == set(before)  # nothing removed, nothing flagged


def _peak_bytes_during(fn):
    tracemalloc.start()
    try:
        result = fn()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_item6_a_page_over_the_cap_fails_the_contact_alone(run: Cli, fake, addams,
                                                           db_path: Path) -> None:
    """Adversary: a Redtail (or a proxy in front of it) that answers one contact's account
    listing with an 11 MB page, honestly labelled by its Content-Length. The client refuses it
    before reading the body, once (a cap overflow is not retried), and only that contact fails."""
    pid = addams["plan"]
    before = _prepare(run, fake, pid)
    fake.set_faults("huge_page:102")
    fake.request_log.clear()
    report, peak = _peak_bytes_during(lambda: pull(db_path, pid, fast_client_for([])))
    assert report.status == "partial"
    assert [(e.redtail_contact_id, e.kind) for e in report.errors] == [(102, "bad_response")]
    message = report.errors[0].message
    assert "over 10 MB" in message and "GET /contacts/102/accounts" in message, message
    assert fake.request_log.count(ACCOUNTS_102) == 1  # not retried
    assert peak < MAX_RESPONSE_BYTES // 2  # the body was never read into memory
    _assert_only_morticia_failed(run, pid, before)
    # the CLI says why, on one line, and exits 1
    r = run("sync", "--plan", str(pid), "--json")
    assert r.rc == 1 and "Traceback" not in r.err
    assert "over 10 MB" in r.err and "contact 102" in r.err


def test_item6_an_endless_body_stops_at_the_cap_not_the_timeout(run: Cli, fake, addams,
                                                                db_path: Path) -> None:
    """Adversary: a server that starts a chunked answer for one contact's accounts and never
    ends it (no Content-Length to refuse). The client stops reading at the cap, well before the
    fake's own 64 MB give-up point and without waiting for its read timeout, attempts it once,
    and keeps at most about one capped body in memory."""
    pid = addams["plan"]
    before = _prepare(run, fake, pid)
    fake.set_faults("endless_body:102")
    fake.request_log.clear()
    state = fake.state
    report, peak = _peak_bytes_during(
        lambda: pull(db_path, pid, fast_client_for([], timeout=600.0))
    )
    with state.body_faults_done:  # the fake notices the hang-up and stops sending
        assert state.body_faults_done.wait_for(
            lambda: state.body_faults_finished["endless_body"] >= 1, timeout=60
        )
    assert [(e.redtail_contact_id, e.kind) for e in report.errors] == [(102, "bad_response")]
    message = report.errors[0].message
    assert "over 10 MB" in message and "GET /contacts/102/accounts" in message, message
    assert fake.request_log.count(ACCOUNTS_102) == 1  # not retried
    sent = state.body_fault_bytes["endless_body"]
    # the client hung up at the cap: what the fake sent is the cap plus the socket buffers,
    # far from the 64 MB the fake would send to a client that never stops reading
    assert MAX_RESPONSE_BYTES <= sent < state.endless_body_limit // 2, sent
    assert peak < 3 * MAX_RESPONSE_BYTES, peak
    _assert_only_morticia_failed(run, pid, before)


def _db_text(db_path: Path) -> str:
    con = sqlite3.connect(db_path)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def test_item7_invalid_utf8_fails_the_contact(run: Cli, fake, addams, db_path: Path) -> None:
    """Adversary: a Redtail answer whose company name carries bytes that are not UTF-8. They
    are not stored as replacement characters: that contact fails with the reason, the other
    contacts still apply."""
    pid = addams["plan"]
    before = _prepare(run, fake, pid)
    fake.set_faults("bad_utf8:102")
    report = pull(db_path, pid, fast_client_for([]))
    assert report.status == "partial"
    assert [(e.redtail_contact_id, e.kind) for e in report.errors] == [(102, "bad_response")]
    assert "invalid UTF-8 in the response" in report.errors[0].message
    _assert_only_morticia_failed(run, pid, before)
    assert "\ufffd" not in _db_text(db_path)
    r = run("sync", "--plan", str(pid), "--json")
    assert r.rc == 1 and "Traceback" not in r.err
    assert "invalid UTF-8" in r.err and "contact 102" in r.err
    assert "\ufffd" not in _db_text(db_path)
