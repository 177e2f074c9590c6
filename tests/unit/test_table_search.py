"""In-memory filtering of the windowed tables (QuerySource with a search index) returns exactly
what the SQL filter returns (LIKE over the searched columns and the contacts' names): for
many texts, every sort, while typing (narrowing) and deleting, and after the data changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantech_tui.domain.search import fold
from plantech_tui.service.workspace import TableQuery, Workspace
from plantech_tui.store import tables as T
from plantech_tui.widgets.record_table import QuerySource
from tests.helpers import make_integration, stage

GOMEZ, MORTICIA, ELSEWHERE = 101, 102, 103
SORTS = [(None, False), ("description", False), ("description", True), ("balance", False),
         ("balance", True), ("flags", True), ("company", False), ("reason", True)]
# values that tell a faithful copy of LIKE from a near miss: ASCII-only case folding (É, ß,
# the Kelvin sign and dotted İ keep their case), LIKE's wildcards and escape as literals,
# values spanning lines, NULL columns
ROWS = [
    dict(company="Fidelity", number_last4="4401", contacts=(GOMEZ,)),
    dict(company="VANGUARD", number_last4="0046", account_type="Roth IRA",
         default_investment_type="Roth IRA", contacts=(MORTICIA,), balance=None),
    dict(company=None, number_last4=None, account_type=None, description="Checking\nsavings",
         contacts=(GOMEZ, MORTICIA)),
    dict(company="Crédit Agricole", description="ÉPARGNE crédit 100% sûr", number_last4="0_9"),
    dict(company="Straße Bank", description="Maß \\ Kelvin \u212a", account_type="ß-Konto"),
    dict(company="İş Bankası", description="back\\slash_under%pct", contacts=()),
    dict(company="chase", description="Chase 7264", default_investment_type="Cash",
         contacts=(ELSEWHERE,)),
    dict(company="Ally\tBank", description="Ally 1", number_last4="0001"),
]
# LIKE reads a value only up to a NUL (Redtail may send "\u0000"): "elity" finds nothing
NUL_ROW = dict(company="Fid\x00elity", description="Nul\x00byte", number_last4="7777",
               contacts=())
IGNORED = [
    dict(company="Fidelity", description="Old Fidelity", reason="Held away at Fidelity"),
    dict(company="Schwab", description="Schwab 9", reason="Closed — dépôt 50%"),
    dict(company="Ally", description="Ally 2", reason=None),
]
TEXTS = ["", "f", "fid", "FIDELITY", "fIdElItY 4401", "gomez", "GOMEZ ADDAMS", "addams",
         "morticia checking", "checking savings", "checking\nsavings", "king sav", "100%", "%",
         "_", "0_9", "\\", "back\\slash", "é", "É", "épargne", "ÉPARGNE", "crédit", "CRÉDIT",
         "ß", "SS", "strasse", "straße", "STRAßE", "k", "K", "\u212a", "kelvin", "İ", "i̇", "iş", "IŞ",
         "ally", "ally bank", "bank ally", "\t", "wednesday", "held", "away", "dépôt", "50%",
         "closed", "roth ira", "cash", "chase", "0", "00", "a", "zzz", "  fid   44  ", "elity",
         "byte", "nul", "nul 7777"]


@dataclass
class Fixture:
    ws: Workspace
    plan_id: int
    integ: int
    other_integ: int
    ids: list[int]


@pytest.fixture
def f(db_path: Path) -> Iterator[Fixture]:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("Addams Family", ["Gomez Addams", "Morticia Addams"])
    integ = make_integration(ws, ws.user.id)
    other_integ = make_integration(ws, ws.user.id)
    ws.link_contact(plan.id, integ, GOMEZ, "Gomez Addams", "Gomez", party="client")
    ws.link_contact(plan.id, integ, MORTICIA, "Morticia Addams", "Morticia", party="co_client")
    # the same Redtail contact id through another integration names nobody in this one
    ws.link_contact(plan.id, other_integ, ELSEWHERE, "Wednesday Addams", "Wednesday")
    ids = []
    for n, row in enumerate(ROWS):
        row = dict(row)
        ids.append(stage(ws, plan.id, integ, 5000 + n, **row))  # type: ignore[arg-type]
    for n, row in enumerate(IGNORED):
        row = dict(row)
        reason = row.pop("reason")
        sid = stage(ws, plan.id, integ, 6000 + n, state="ignored", **row)  # type: ignore[arg-type]
        with ws.store.write() as db:
            db.execute("UPDATE staged_accounts SET ignore_reason = ? WHERE id = ?", [reason, sid])
        ids.append(sid)
    ids.append(stage(ws, plan.id, integ, 7000, **NUL_ROW))  # type: ignore[arg-type]
    yield Fixture(ws, plan.id, integ, other_integ, ids)
    ws.close()


def sql_keys(f: Fixture, state: str) -> Callable[[str, str | None, bool], list[str]]:
    def keys(text: str, sort: str | None, descending: bool) -> list[str]:
        return [str(k) for k in f.ws.staged_keys(f.plan_id, state,
                                                 TableQuery(text, sort, descending))]
    return keys


def indexed_source(f: Fixture, state: str) -> QuerySource:
    source = QuerySource(lambda text, sort, desc: f.ws.staged_keys(
        f.plan_id, state, TableQuery(text, sort, desc)), lambda ids: [],
        search=partial(f.ws.staged_search, f.plan_id, state))
    load = source.search_loader()
    assert load is not None
    load()  # what the table runs in a worker thread
    assert source.search_ready
    return source


@pytest.mark.parametrize("state", ["pending", "ignored"])
def test_in_memory_filter_returns_what_sql_returns(f: Fixture, state: str) -> None:
    source = indexed_source(f, state)
    sql = sql_keys(f, state)
    nonempty = 0
    for sort, descending in SORTS:
        for text in TEXTS:
            expected = sql(text, sort, descending)
            assert source.keys(text, sort, descending) == expected, (text, sort, descending)
            nonempty += bool(expected) and bool(text.strip())
    assert nonempty > 50  # the texts do find rows: the comparison is not vacuous


def test_the_known_answers(f: Fixture) -> None:
    """A few answers spelled out, so that SQL and memory cannot agree on a wrong one."""
    source = indexed_source(f, "pending")
    a, b, c, credit, strasse, isbank, chase, ally = (str(i) for i in f.ids[:8])

    def keys(text: str) -> list[str]:
        return source.keys(text, None, False)

    nul = str(f.ids[-1])
    assert keys("fid") == [a, nul] and keys("elity") == [a] and keys("byte") == []
    assert keys("nul 7777") == [nul]
    assert keys("gomez") == [a, c, credit, strasse, ally]  # contacts by name
    assert keys("morticia") == [b, c] and keys("gomez morticia") == [c]
    assert keys("checking savings") == [c] and keys("savings checking") == [c]
    assert keys("crédit") == [credit] and keys("CRÉDIT") == []  # only ASCII ignores case
    assert keys("100%") == [credit] and keys("0_9") == [credit] and keys("_") == [credit, isbank]
    assert keys("\\") == [strasse, isbank]
    assert keys("strasse") == [] and keys("STRAßE") == [strasse]
    assert keys("\u212a") == [strasse]  # the Kelvin sign is no K, nor is K one
    assert keys("wednesday") == []  # linked through another integration
    assert keys("ally bank") == [ally] and keys("bank ally") == [ally]
    ignored = indexed_source(f, "ignored")
    assert ignored.keys("away", None, False) == [str(f.ids[8])]  # the ignore reason
    assert ignored.keys("dépôt 50%", None, False) == [str(f.ids[9])]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # f is only read
@given(st.lists(st.sampled_from(["f", "i", "d", "e", "l", "I", "É", "é", " ", "%", "_", "\\",
                                 "a", "ß", "S", "0", "4", "g", "o", "m", "z", "K", "k", "\u212a", "\n"]),
                max_size=12))
def test_typing_and_deleting_narrow_and_widen_exactly(f: Fixture, chars: list[str]) -> None:
    """Type the text one character at a time, then delete it from the end: every step (the
    narrowing from the previous result, and the widening back) agrees with SQL."""
    source = indexed_source(f, "pending")
    sql = sql_keys(f, "pending")
    texts = ["".join(chars[:n]) for n in range(len(chars) + 1)]
    for text in texts + texts[::-1]:
        assert source.keys(text, "description", False) == sql(text, "description", False), text


def test_a_change_is_found_after_invalidate(f: Fixture) -> None:
    """The kept keys and texts are dropped when the data changed (RecordTable.reload does
    this): a new row, and a row whose description changed, are found by the same filter."""
    source = indexed_source(f, "pending")
    assert source.keys("zebra", None, False) == []
    new = stage(f.ws, f.plan_id, f.integ, 7001, company="Zebra Trust")
    f.ws.edit_staged_description(f.plan_id, f.ids[0], "Zebra old Fidelity")
    source.invalidate()
    assert not source.search_ready
    assert source.keys("zebra", None, False) == [str(f.ids[0]), str(new)]  # SQL, no index yet
    load = source.search_loader()
    assert load is not None
    load()
    assert source.keys("zebra", None, False) == [str(f.ids[0]), str(new)]
    assert source.keys("zebra trust", None, False) == [str(new)]
    assert source.keys("", None, False)[-1] == str(new)  # the unfiltered list too


def test_a_load_begun_before_a_change_is_dropped(f: Fixture) -> None:
    source = QuerySource(lambda text, sort, desc: f.ws.staged_keys(
        f.plan_id, "pending", TableQuery(text, sort, desc)), lambda ids: [],
        search=partial(f.ws.staged_search, f.plan_id, "pending"))
    stale = source.search_loader()
    assert stale is not None and source.search_loader() is None  # one load at a time
    stage(f.ws, f.plan_id, f.integ, 7001, company="Zebra Trust")
    source.invalidate()  # the data changed while the load was on its way
    stale()
    assert not source.search_ready  # its (possibly stale) index was not kept
    fresh = source.search_loader()
    assert fresh is not None
    fresh()
    assert source.search_ready and len(source.keys("zebra", None, False)) == 1


def test_other_tables_search_texts_match_their_sql(f: Fixture) -> None:
    """Inbox, plan accounts and audit log: the same equivalence, a few texts each."""
    ws = f.ws
    ws.add_account(f.plan_id, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                               "balance": "250000.00", "notes": "Rolled over 100%"})
    ws.link_to_existing(f.plan_id, f.ids[1], ws.add_account(
        f.plan_id, {"description": "Joint Brokerage", "investment_type": "Taxable Brokerage",
                    "balance": "10.00"}).id)
    ws.ignore(f.plan_id, [f.ids[0]], "Held AWAY")
    cases: list[tuple[Callable[[TableQuery], list[int]], Callable[[], tuple[list[str], list[str]]],
                      list[str | None]]] = [
        (ws.inbox_keys, ws.inbox_search, [None, "plan", "description"]),
        (partial(ws.account_keys, f.plan_id), partial(ws.account_search, f.plan_id),
         [None, "balance", "link"]),
        (partial(ws.audit_keys, f.plan_id), partial(ws.audit_search, f.plan_id),
         [None, "who", "action"]),
    ]
    texts = ["", "gomez", "GOMEZ 401", "morticia", "vanguard", "100%", "_", "addams", "joint",
             "held away", "ignore", "é", "É", "brokerage", "zzz"]
    for keys_of, search, sorts in cases:
        source = QuerySource(lambda text, sort, desc, k=keys_of: k(TableQuery(text, sort, desc)),
                             lambda ids: [], search=search)
        load = source.search_loader()
        assert load is not None
        load()
        hits = 0
        for sort in sorts:
            for text in texts:
                expected = [str(k) for k in keys_of(TableQuery(text, sort, False))]
                assert source.keys(text, sort, False) == expected, (keys_of, text, sort)
                hits += bool(expected)
        assert hits > len(sorts) * 3


def test_search_texts_keep_rows_apart(f: Fixture) -> None:
    """One text per row, the fields apart, newlines inside values no row separator."""
    keys, texts = f.ws.staged_search(f.plan_id, "pending")
    assert sorted(keys, key=int) == [str(i) for i in (*f.ids[:len(ROWS)], f.ids[-1])]
    by_key = dict(zip(keys, texts, strict=True))
    assert by_key[str(f.ids[2])].startswith("checking savings\t")
    assert by_key[str(f.ids[0])].endswith("\tgomez addams")
    assert by_key[str(f.ids[3])].startswith("Épargne crédit 100% sûr\t")  # É kept as it was
    assert T.search_texts(f.ws.store.db, "s.id", "FROM staged_accounts s WHERE 0", [],
                          T.STAGED_SEARCHED) == ([], [])


def test_fold_lowers_ascii_only() -> None:
    assert fold("FiDeLiTy 100%") == "fidelity 100%"
    assert fold("ÉPARGNE Straße İŞ \u212a") == "Épargne straße İŞ \u212a"


def test_keystrokes_during_the_load_and_after_a_failed_one_use_sql(f: Fixture) -> None:
    import threading

    sql_texts: list[str] = []
    release = threading.Event()
    fail = [True]

    def keys(text: str, sort: str | None, desc: bool) -> list[int]:
        sql_texts.append(text)
        return f.ws.staged_keys(f.plan_id, "pending", TableQuery(text, sort, desc))

    def search() -> tuple[list[str], list[str]]:
        release.wait(5)
        if fail[0]:
            raise RuntimeError("the disk went away")
        return f.ws.staged_search(f.plan_id, "pending")

    source = QuerySource(keys, lambda ids: [], search=search)
    load = source.search_loader()
    assert load is not None and source.search_loader() is None  # one load at a time
    assert source.keys("fid", None, False) == [str(f.ids[0]), str(f.ids[-1])]  # SQL meanwhile
    release.set()
    with pytest.raises(RuntimeError, match="disk"):
        load()
    assert not source.search_ready
    assert source.keys("gomez", None, False) == [str(i) for i in (f.ids[0], f.ids[2], f.ids[3],
                                                                 f.ids[4], f.ids[7])]
    assert sql_texts == ["fid", "gomez"]

    fail[0] = False  # a later load (the next `/`) may work
    load = source.search_loader()
    assert load is not None
    load()
    assert source.search_ready
    assert source.keys("gomez", None, False) == [str(i) for i in (f.ids[0], f.ids[2], f.ids[3],
                                                                 f.ids[4], f.ids[7])]
    assert sql_texts == ["fid", "gomez", ""]  # then only the unfiltered list, from SQL


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_search_texts_in_chunks_are_the_same_texts(f: Fixture, chunk: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The texts are built a chunk of rows per statement (100k rows: 5 chunks); any chunk
    size, including one that divides the row count, gives every row once with its own text."""
    whole = dict(zip(*f.ws.staged_search(f.plan_id, "pending"), strict=True))
    audit = dict(zip(*f.ws.audit_search(f.plan_id), strict=True))
    monkeypatch.setattr(T, "SEARCH_CHUNK", chunk)
    keys, texts = f.ws.staged_search(f.plan_id, "pending")
    assert len(keys) == len(set(keys)) == len(whole)
    assert dict(zip(keys, texts, strict=True)) == whole
    assert dict(zip(*f.ws.audit_search(f.plan_id), strict=True)) == audit
