"""The pulls' health as stored: each plan with linked contacts and its last finished pull."""

from __future__ import annotations

import sqlite3
from typing import Any

_SQL = """
SELECT p.id, p.name, r.status, r.finished_at, r.report,
       (SELECT max(o.finished_at) FROM sync_runs o WHERE o.plan_id = p.id AND o.status = 'ok'
        AND o.dry_run = 0) AS last_ok
FROM plans p
LEFT JOIN sync_runs r ON r.id = (
    SELECT max(x.id) FROM sync_runs x WHERE x.plan_id = p.id
    AND x.status IN ('ok', 'partial', 'failed') AND x.dry_run = 0)
WHERE EXISTS (SELECT 1 FROM plan_contacts c WHERE c.plan_id = p.id) {where}
ORDER BY p.id
"""


def last_pulls(conn: sqlite3.Connection, *, owner_user_id: int | None = None,
               plan_ids: list[int] | None = None) -> list[tuple[Any, ...]]:
    """(plan id, name, last status, its finished_at, its report JSON, last ok finished_at) of
    every plan with linked contacts, of one owner or of `plan_ids`."""
    where, params = "", []
    if owner_user_id is not None:
        where, params = "AND p.owner_user_id = ?", [owner_user_id]
    elif plan_ids is not None:
        where, params = f"AND p.id IN ({', '.join('?' * len(plan_ids))})", list(plan_ids)
    return [tuple(r) for r in conn.execute(_SQL.format(where=where), params).fetchall()]  # noqa: S608
