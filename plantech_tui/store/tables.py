"""Queries behind the windowed tables: filter and sort in SQLite, then fetch rows by id.

A table asks for the ordered ids of the rows that match its filter (one indexed query, a few
tens of milliseconds at 100k rows), keeps that list, and fetches only the rows it shows by id
(`… WHERE id IN (SELECT value FROM json_each(?))`). So paging is a slice of a list whatever the
sort order, the count is its length, "mark all in the filter" is the list itself, and nothing
builds a model object for a row nobody looks at.

Every join with `json_each` is a CROSS JOIN: that keeps the id list the outer loop (SQLite
would otherwise happily scan a plan's 100k rows and, for each, the 85k ids of a mark set).

Filtering: every whitespace-separated term must match one of the searched columns (LIKE,
case-insensitive for ASCII; domain/search.py). Sorting: by a named column, ties by id, in the
same direction.

Search texts (`*_search`): for each row of a table's unfiltered set, its searched columns (and
the names of the contacts listing it) joined into one folded string, so that a table can filter
in memory, keystroke by keystroke, with exactly the rows the LIKE query would return. SQLite
builds them a chunk of rows at a time as two strings (the ids, the texts), split in Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.search import FIELD_SEP
from .db import Database


@dataclass(frozen=True)
class TableQuery:
    """What a table shows: filter text, sort column (None: the table's default), direction."""

    text: str = ""
    sort: str | None = None
    descending: bool = False

    def terms(self) -> list[str]:
        return self.text.split()


def like(term: str) -> str:
    """A LIKE pattern matching `term` anywhere (with ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def id_list(ids: Iterable[int]) -> str:
    """The JSON array `json_each(?)` reads: one parameter for any number of ids."""
    return json.dumps([int(i) for i in ids])


def _filter(columns: Sequence[str], terms: list[str], extra: Sequence[str] = ()
            ) -> tuple[str, list[Any]]:
    """AND over terms of (OR over columns LIKE term); `extra` are whole conditions with one
    `?` each for the pattern (e.g. a contact-name subquery)."""
    sql: list[str] = []
    params: list[Any] = []
    for term in terms:
        pattern = like(term)
        ors = [f"{c} LIKE ? ESCAPE '\\'" for c in columns] + list(extra)
        sql.append("(" + " OR ".join(ors) + ")")
        params += [pattern] * len(ors)
    return (" AND " + " AND ".join(sql)) if sql else "", params


def _order(sorts: dict[str, tuple[str, ...]], query: TableQuery, default: str,
           id_column: str, default_desc: bool = False) -> str:
    """ORDER BY clause. Each sort is a tuple of expressions; a leading "!" marks an
    expression that keeps ascending order whatever the direction (e.g. unknowns last)."""
    key = query.sort if query.sort in sorts else default
    desc = query.descending if query.sort in sorts else default_desc
    direction = "DESC" if desc else "ASC"
    parts = []
    for expr in sorts[key]:
        if expr.startswith("!"):
            parts.append(f"{expr[1:]} ASC")
        else:
            parts.append(f"{expr} {direction}")
    parts.append(f"{id_column} {direction}")
    return " ORDER BY " + ", ".join(parts)


# ---------------------------------------------------------------- staged rows

STAGED_SORTS: dict[str, tuple[str, ...]] = {
    "id": (),
    "description": ("s.description COLLATE NOCASE",),
    "balance": ("!(s.balance IS NULL)", "CAST(s.balance AS REAL)"),
    "default": ("s.default_investment_type COLLATE NOCASE",),
    "type": ("s.account_type COLLATE NOCASE",),
    "company": ("s.company COLLATE NOCASE",),
    "last4": ("s.number_last4",),
    "reason": ("s.ignore_reason COLLATE NOCASE",),
    # whose account: the first (by name) of the plan's linked contacts that list it
    "contact": ("(SELECT min(pc.name COLLATE NOCASE) FROM staged_account_contacts c JOIN "
                "plan_contacts pc ON pc.source_contact_id = c.source_contact_id AND "
                "pc.integration_id = s.integration_id AND pc.plan_id = s.plan_id "
                "WHERE c.staged_id = s.id)",),
    # rows that need a look first (descending): missing at source, type to review, no balance
    "flags": ("(s.missing_at_source * 4 + s.review_type * 2 + (s.balance IS NULL))",),
}
STAGED_SEARCHED = ("s.description", "s.company", "s.number_last4", "s.account_type",
                   "s.default_investment_type")
# a contact listing the row, by name (the plan's linked contacts of the row's integration)
CONTACT_MATCH = (
    "s.id IN (SELECT c.staged_id FROM plan_contacts pc JOIN staged_account_contacts c ON "
    "c.source_contact_id = pc.source_contact_id JOIN staged_accounts s2 ON s2.id = c.staged_id "
    "AND s2.integration_id = pc.integration_id AND s2.plan_id = pc.plan_id "
    "WHERE pc.name LIKE ? ESCAPE '\\')"
)


# the names CONTACT_MATCH matches, for a row's search text (joined by FIELD_SEP, a tab)
CONTACT_NAMES = (
    "(SELECT group_concat(pc.name, char(9)) FROM staged_account_contacts c JOIN plan_contacts pc "
    "ON pc.source_contact_id = c.source_contact_id AND pc.integration_id = s.integration_id "
    "AND pc.plan_id = s.plan_id WHERE c.staged_id = s.id)"
)


def _staged_searched(state: str) -> tuple[str, ...]:
    return STAGED_SEARCHED + (("s.ignore_reason",) if state == "ignored" else ())


def staged_ids(db: Database, plan_id: int, state: str, query: TableQuery) -> list[int]:
    """Ids of the plan's staged rows in `state` that match the filter, in display order."""
    where, params = _filter(_staged_searched(state), query.terms(), (CONTACT_MATCH,))
    sql = ("SELECT s.id FROM staged_accounts s WHERE s.plan_id = ? AND s.state = ?"  # noqa: S608
           + where + _order(STAGED_SORTS, query, "id", "s.id"))
    return [r[0] for r in db.execute(sql, [plan_id, state, *params]).fetchall()]


def staged_search(db: Database, plan_id: int, state: str) -> tuple[list[str], list[str]]:
    """(ids, search texts) of every staged row of the plan in `state` (what staged_ids
    searches)."""
    return search_texts(db, "s.id", "FROM staged_accounts s WHERE s.plan_id = ? AND s.state = ?",
                        [plan_id, state], (*_staged_searched(state), CONTACT_NAMES))


def staged_counts(db: Database, plan_id: int) -> dict[str, int]:
    return {r[0]: r[1] for r in db.execute(
        "SELECT state, count(*) FROM staged_accounts WHERE plan_id = ? GROUP BY state",
        [plan_id]).fetchall()}


SEARCH_CHUNK = 20_000  # rows per statement building search texts


def search_texts(db: Database, id_column: str, from_where: str, params: Sequence[Any],
                 searched: Sequence[str]) -> tuple[list[str], list[str]]:
    """(ids as strings, search texts) of every row `from_where` selects, in no particular
    order: each text is the `searched` expressions (NULL as empty) joined by FIELD_SEP, folded
    (domain/search.py). Newlines inside a value become spaces (harmless: a term holds no
    whitespace), so that the texts of a chunk of rows come back as one newline-joined string.

    SQLite joins each chunk of SEARCH_CHUNK rows with the GIL released (row by row, Python
    would hold it, and keystrokes typed while the index loads would wait on the loader); the
    chunks keep the transient copies small (the audit log's texts are ~200 characters a row).
    Call it inside one read snapshot (the chunks are OFFSETs of the same scan)."""
    text = f" || char({ord(FIELD_SEP)}) || ".join(
        f"coalesce(replace({c}, char(10), ' '), '')" for c in searched)
    # SQLite's lower() folds the ASCII letters only: as LIKE compares, as domain.search.fold
    sql = (f"SELECT group_concat(id), lower(group_concat(text, char(10))), count(*) FROM "  # noqa: S608
           f"(SELECT {id_column} AS id, {text} AS text {from_where} LIMIT ? OFFSET ?)")
    keys: list[str] = []
    folded: list[str] = []
    offset = 0
    nul = False
    while True:
        ids, texts, count = db.execute(sql, [*params, SEARCH_CHUNK, offset]).fetchone()
        if not count:
            break
        nul = nul or "\x00" in texts
        chunk = texts.split("\n")
        del texts
        if len(chunk) != count:  # a newline got through: never silently misalign
            raise ValueError(f"search texts: {count} rows but {len(chunk)} texts")
        keys += ids.split(",")
        folded += chunk
        offset += count
        if count < SEARCH_CHUNK:
            break
    if nul:  # LIKE reads a value only up to a NUL: so must the search text
        folded = [FIELD_SEP.join(f.split("\x00", 1)[0] for f in t.split(FIELD_SEP))
                  if "\x00" in t else t for t in folded]
    return keys, folded


def rows_by_id(db: Database, table: str, ids: Sequence[int], *, where: str = "",
               params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Whole rows of `table` with these ids, in the order given (missing ones left out)."""
    if not ids:
        return []
    cur = db.execute(
        f"SELECT t.* FROM json_each(?) j CROSS JOIN {table} t ON t.id = j.value {where} "  # noqa: S608
        "ORDER BY j.key", [id_list(ids), *params])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def contacts_of(db: Database, staged: Sequence[int]) -> dict[int, list[str]]:
    """staged id → the partner contacts that list it."""
    out: dict[int, list[str]] = {}
    if not staged:
        return out
    for sid, contact in db.execute(
            "SELECT c.staged_id, c.source_contact_id FROM json_each(?) j CROSS JOIN "
            "staged_account_contacts c ON c.staged_id = j.value", [id_list(staged)]).fetchall():
        out.setdefault(sid, []).append(contact)
    return out


# ---------------------------------------------------------------- the inbox (all plans)

VISIBLE_PLANS = ("(p.owner_user_id = ? OR EXISTS (SELECT 1 FROM plan_grants g "
                 "WHERE g.plan_id = p.id AND g.user_id = ?))")
INBOX_SORTS: dict[str, tuple[str, ...]] = {
    **STAGED_SORTS,
    "plan": ("p.name COLLATE NOCASE", "p.id"),
}


INBOX_FROM = ("FROM staged_accounts s JOIN plans p ON p.id = s.plan_id "
              f"WHERE s.state = 'pending' AND {VISIBLE_PLANS}")
INBOX_SEARCHED = (*STAGED_SEARCHED, "p.name")


def inbox_ids(db: Database, user_id: int, query: TableQuery) -> list[int]:
    """Ids of every pending row of the plans the user sees, by plan then id by default."""
    where, params = _filter(INBOX_SEARCHED, query.terms(), (CONTACT_MATCH,))
    sql = ("SELECT s.id " + INBOX_FROM + where  # noqa: S608
           + _order(INBOX_SORTS, query, "plan", "s.id"))
    return [r[0] for r in db.execute(sql, [user_id, user_id, *params]).fetchall()]


def inbox_search(db: Database, user_id: int) -> tuple[list[str], list[str]]:
    return search_texts(db, "s.id", INBOX_FROM, [user_id, user_id],
                        (*INBOX_SEARCHED, CONTACT_NAMES))


# ---------------------------------------------------------------- plan accounts

ACCOUNT_SORTS: dict[str, tuple[str, ...]] = {
    "id": (),
    "description": ("a.description COLLATE NOCASE",),
    "type": ("a.investment_type COLLATE NOCASE",),
    "owner": ("a.owner",),
    "balance": ("CAST(a.balance AS REAL)",),
    # manual, then active, paused, source unlinked
    "link": ("(CASE l.link_state WHEN 'active' THEN 1 WHEN 'paused' THEN 2 "
             "WHEN 'source_unlinked' THEN 3 ELSE 0 END)",),
}
ACCOUNT_SEARCHED = ("a.description", "a.investment_type", "a.owner", "a.number_last4",
                    "a.notes", "l.company", "l.account_type")
ACCOUNT_CONTACT_MATCH = CONTACT_MATCH.replace("s.id IN", "l.id IN")
ACCOUNT_CONTACT_NAMES = CONTACT_NAMES.replace(" s.", " l.")
ACCOUNT_FROM = ("FROM plan_accounts a LEFT JOIN staged_accounts l ON l.linked_account_id = a.id "
                "WHERE a.plan_id = ?")


def account_ids(db: Database, plan_id: int, query: TableQuery) -> list[int]:
    where, params = _filter(ACCOUNT_SEARCHED, query.terms(), (ACCOUNT_CONTACT_MATCH,))
    sql = ("SELECT a.id " + ACCOUNT_FROM + where  # noqa: S608
           + _order(ACCOUNT_SORTS, query, "id", "a.id"))
    return [r[0] for r in db.execute(sql, [plan_id, *params]).fetchall()]


def account_search(db: Database, plan_id: int) -> tuple[list[str], list[str]]:
    return search_texts(db, "a.id", ACCOUNT_FROM, [plan_id],
                        (*ACCOUNT_SEARCHED, ACCOUNT_CONTACT_NAMES))


def links_of(db: Database, account_ids_: Sequence[int]) -> dict[int, dict[str, Any]]:
    """plan account id → the staged row linked to it."""
    if not account_ids_:
        return {}
    cur = db.execute("SELECT s.* FROM json_each(?) j CROSS JOIN staged_accounts s ON "
                     "s.linked_account_id = j.value", [id_list(account_ids_)])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {r["linked_account_id"]: r for r in rows}


# ---------------------------------------------------------------- audit log

AUDIT_SORTS: dict[str, tuple[str, ...]] = {
    "when": (),
    "who": ("user_name COLLATE NOCASE",),
    "action": ("action",),
    "object": ("object_type", "object_id"),
    "detail": ("detail",),
}
AUDIT_SEARCHED = ("action", "user_name", "object_type", "CAST(object_id AS TEXT)", "detail",
                  "before", "after")


def audit_ids(db: Database, plan_id: int, query: TableQuery) -> list[int]:
    """The plan's audit entries, newest first unless sorted otherwise."""
    where, params = _filter(AUDIT_SEARCHED, query.terms())
    sql = ("SELECT id FROM audit_log WHERE plan_id = ?" + where  # noqa: S608
           + _order(AUDIT_SORTS, query, "when", "id", default_desc=True))
    return [r[0] for r in db.execute(sql, [plan_id, *params]).fetchall()]


def audit_search(db: Database, plan_id: int) -> tuple[list[str], list[str]]:
    return search_texts(db, "id", "FROM audit_log WHERE plan_id = ?", [plan_id], AUDIT_SEARCHED)


def audit_ids_where(db: Database, where: str, params: Sequence[Any], query: TableQuery
                    ) -> list[int]:
    """Audit entries matching `where` (not one plan's: e.g. the user changes), newest first
    unless sorted otherwise."""
    found, more = _filter(AUDIT_SEARCHED, query.terms())
    sql = (f"SELECT id FROM audit_log WHERE ({where})" + found  # noqa: S608
           + _order(AUDIT_SORTS, query, "when", "id", default_desc=True))
    return [r[0] for r in db.execute(sql, [*params, *more]).fetchall()]


def audit_search_where(db: Database, where: str, params: Sequence[Any]
                       ) -> tuple[list[str], list[str]]:
    return search_texts(db, "id", f"FROM audit_log WHERE ({where})", params,  # noqa: S608
                        AUDIT_SEARCHED)
