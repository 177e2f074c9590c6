"""Issue 10 items 4 and 7: Redtail's text is data, never a terminal command, and bounded.

A hostile Redtail (`plantech_tui.partners.redtail.fake.hostile`) over real loopback HTTP names a contact
and companies with terminal escapes (OSC 0 title, OSC 52 clipboard write, CSI clear screen,
8-bit CSI/OSC), bidi overrides, Textual markup and a 10 MB company; an error message carries
the same plus 100 kB. What is stored, and what `plan show` and `sync` print, must hold none
of it, and what was cut must be reported.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from plantech_tui.domain.text import TEXT_CAP, clean_line, clean_line_cut, safe_for_terminal
from plantech_tui.partners.redtail.fake import FakeRedtailServer
from plantech_tui.partners.redtail.fake.hostile import HUGE_ACCOUNT, hostile_data

from .conftest import Cli, connect

# ESC, 8-bit CSI/OSC/ST, BEL, every other C0/C1 control, bidi overrides/isolates/marks
BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bad_chars(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in BAD.finditer(text)})


def db_text(db: Path) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every text value stored anywhere in the database."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cur = con.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - sqlite_master names
            names = [d[0] for d in cur.description]
            for row in cur:
                for name, value in zip(names, row, strict=True):
                    if isinstance(value, str):
                        yield table, name, value
    finally:
        con.close()


def hostile_plan(run: Cli, server: FakeRedtailServer) -> int:
    integration = connect(run, server)
    plan = run.ok("plan", "create", "Addams Family", "--clients", "Gomez Addams;Morticia Addams")
    for contact in ("101", "102"):
        run.ok("plan", "link-contact", str(plan["id"]), "--integration", str(integration),
               "--contact", contact)
    return int(plan["id"])


@pytest.fixture
def hostile() -> Iterator[FakeRedtailServer]:
    with FakeRedtailServer(hostile_data()) as server:
        yield server


@pytest.fixture
def huge() -> Iterator[FakeRedtailServer]:
    with FakeRedtailServer(hostile_data(huge=True)) as server:
        yield server


def test_clean_line_and_safe_for_terminal() -> None:
    assert clean_line("Go\x1b]0;pwned\x07mez\u202e\tX\n") == "Go ]0;pwned mez X"
    assert clean_line("  plain  text ") == "plain text"
    assert clean_line("Zoë Ångström") == "Zoë Ångström"
    cut, was_cut = clean_line_cut("A" * 1000)
    assert was_cut and len(cut) == TEXT_CAP and cut.endswith("…")
    assert clean_line_cut("A" * TEXT_CAP) == ("A" * TEXT_CAP, False)
    # output: one for one, newlines kept (multi-line output), nothing a terminal obeys
    shown = safe_for_terminal("a\x1b]52;c;eA==\x07\nb\x9b2J\u202e")
    assert len(shown) == len("a\x1b]52;c;eA==\x07\nb\x9b2J\u202e") and "\n" in shown
    assert bad_chars(shown) == []
    assert "\n" not in safe_for_terminal("a\nb", multiline=False)


def test_item4_terminal_escapes_from_redtail_never_reach_the_terminal(
        run: Cli, hostile: FakeRedtailServer, db_path: Path) -> None:
    """Adversary: a hostile (or compromised) Redtail whose contact and company names hold
    OSC 0 / OSC 52 / CSI sequences, 8-bit C1 controls and bidi overrides, and whose error
    message holds them too; an advisor runs `sync` and `plan show` in a terminal."""
    plan = hostile_plan(run, hostile)
    hostile.set_faults("hostile_message:102")
    synced = run("sync", "--plan", str(plan))
    assert synced.rc == 1  # contact 102 failed: partial
    shown = run("plan", "show", str(plan))
    assert shown.rc == 0, shown.err
    for what, text in (("sync stdout", synced.out), ("sync stderr", synced.err),
                       ("plan show", shown.out)):
        assert bad_chars(text) == [], f"{what} printed {bad_chars(text)}"
    assert "Fidelity ]52;c;ZWNobyBwd25lZA==" in shown.out  # shown, defused
    assert "Charles [2J [H Schwab Inc" in shown.out
    assert "Boom [/] [@click=app.quit]quit[/]" in synced.out  # the server's text, defused
    # JSON escapes what it carries (json.dumps is ASCII-only): no raw control either
    as_json = run("plan", "show", str(plan), "--json")
    assert bad_chars(as_json.out) == []
    stored = [(t, c, bad_chars(v)) for t, c, v in db_text(db_path) if bad_chars(v)]
    assert stored == []
    names = {v for t, c, v in db_text(db_path) if t == "plan_contacts" or "name" in c}
    assert any("Go ]0;pwned mez" in n for n in names), names


def test_item7_a_ten_megabyte_company_is_cut_and_reported(
        run: Cli, huge: FakeRedtailServer, db_path: Path) -> None:
    """Adversary: a Redtail that sends a 10 MB company name (and a 100 kB error message):
    the database, the audit log and `plan show` must stay small, and the report must say
    what was cut."""
    plan = hostile_plan(run, huge)
    huge.set_faults("hostile_message:102")
    report = run("sync", "--plan", str(plan), "--json")
    doc = report.json["plans"][0]
    assert any(f"Redtail {HUGE_ACCOUNT}" in t and "company" in t for t in doc["truncated"]), doc
    assert all(len(e["message"]) <= 500 for e in doc["errors"]), doc["errors"]
    text = run("sync", "--plan", str(plan), "--dry-run")
    assert f"Redtail {HUGE_ACCOUNT}" in text.out and "cut" in text.out
    show = run.ok("plan", "show", str(plan))
    company = next(r for r in show["pending"] if r["redtail_account_id"] == HUGE_ACCOUNT)
    assert company["company"].startswith("Northern Trust XXX")
    assert len(company["company"]) <= TEXT_CAP and len(company["description"]) <= TEXT_CAP
    longest = max(len(v) for _t, _c, v in db_text(db_path))
    assert longest < 10_000, longest
    assert db_path.stat().st_size < 2_000_000
    assert len(run("plan", "show", str(plan)).out) < 50_000


def test_item7_models_cut_and_say_so_and_redtail_cannot_say_it() -> None:
    """Adversary: a Redtail that sends long fields, or claims fields were cut."""
    from plantech_tui.partners.redtail.models import RedtailAccount, RedtailContact

    acct = RedtailAccount.model_validate({"id": 1, "company": "Y" * 5000,
                                          "number": "\x1b" + "9" * 10_000 + "1234"})
    assert acct.truncated == ("company",) and len(acct.company or "") == TEXT_CAP
    assert acct.number.endswith("1234")  # only the last 4 are ever kept
    assert RedtailAccount.model_validate({"id": 2, "truncated": ["company"]}).truncated == ()
    contact = RedtailContact.model_validate({"id": 3, "first_name": "Go\x1b]0;x\x07mez",
                                             "last_name": "Z" * 500})
    assert bad_chars(contact.full_name) == [] and len(contact.full_name) <= TEXT_CAP
