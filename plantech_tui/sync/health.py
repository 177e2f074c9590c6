"""Which plans need a look after the pulls: the last pull failed, or none succeeded lately.

Read by `plantech doctor` (an advisor's own plans) and the Plans screen (its marker). Only plans
with linked Redtail contacts count: the others have nothing to pull.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..store.health import last_pulls

STALE_AFTER = timedelta(days=1)

@dataclass(frozen=True)
class PullHealth:
    plan_id: int
    name: str
    status: str | None  # of the last finished pull: ok | partial | failed; None: never pulled
    finished_at: str | None
    last_ok: str | None
    error: str | None  # the last pull's first error, when it had any

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial")

    def stale(self, now: datetime | None = None) -> bool:
        if self.last_ok is None:
            return True
        at = datetime.fromisoformat(self.last_ok.replace("Z", "+00:00"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - at > STALE_AFTER

    def describe(self) -> str:
        if self.failed:
            what = "failed" if self.status == "failed" else "partly failed"
            return f"last pull {what} at {self.finished_at}" + (
                f": {self.error}" if self.error else "")
        if self.last_ok is None:
            return "never pulled"
        return f"last successful pull {self.last_ok}, over a day ago"


def _first_error(report: str | None) -> str | None:
    try:
        errors = json.loads(report or "{}").get("errors") or []
    except (ValueError, AttributeError):
        return None
    if not errors:
        return None
    e = errors[0]
    who = f"contact {e.get('redtail_contact_id')}: " if e.get("redtail_contact_id") else ""
    return " ".join(f"{who}{e.get('message', '')}".split())[:200]


def pull_health(conn: sqlite3.Connection, *, owner_user_id: int | None = None,
                plan_ids: list[int] | None = None) -> list[PullHealth]:
    """Every plan with linked contacts (of one owner, or of `plan_ids`), with its last pull."""
    rows = last_pulls(conn, owner_user_id=owner_user_id, plan_ids=plan_ids)
    return [PullHealth(int(r[0]), str(r[1]), r[2], r[3], r[5], _first_error(r[4]))
            for r in rows]


def needs_a_look(health: list[PullHealth], now: datetime | None = None) -> list[PullHealth]:
    return [h for h in health if h.failed or h.stale(now)]
