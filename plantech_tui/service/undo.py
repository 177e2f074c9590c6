"""Undo of this session's triage steps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..domain.errors import (
    InvalidState,
    UndoConflict,
)
from ..domain.permissions import Action, require
from ..store import accounts as A
from ..store import rows as R
from ..store import staged as S
from ..store.db import now_utc
from .core import (
    UNDONE_STAGED_COLUMNS,
    WorkspaceCore,
    _names_list,
    _staged_before_name,
    _step_row_name,
    _undo_what,
)


class Undo(WorkspaceCore):
    """The undo stack of this session."""

    # ------------------------------------------------------------------ undo

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    def undo(self) -> str:
        """Restore the rows of the last triage action; refused if they changed since."""
        require(self.user, Action.TRIAGE)
        if not self._undo:
            raise InvalidState("nothing to undo")
        step = self._undo[-1]
        # (table, id) -> (version before the step, version after this undo)
        rewound: dict[tuple[str, int], tuple[int, int]] = {}
        with self.store.write() as db:
            found = {table: S.fingerprints(db, table, [i for t, i in step.versions_after
                                                      if t == table])
                     for table in ("staged_accounts", "plan_accounts")}
            for (table, row_id), version in step.versions_after.items():
                now = found[table].get(row_id)
                gone = now is None or now[1] != step.identities[(table, row_id)]
                if gone or now is None or now[0] != version:
                    self._undo.pop()  # it can never apply again; the next undo goes further
                    raise UndoConflict(
                        f"cannot undo {_undo_what(step)}: {_step_row_name(db, step, table, row_id)} "
                        f"{'is gone' if gone else 'changed'} since "
                        "(a pull, another user or another action)")
            before: dict[str, Any] = {}
            after: dict[str, Any] = {}
            current = S.undone_values(db, (r.id for r in step.staged_before))
            updates = []
            for row in step.staged_before:
                # only what triage changed: a pull's bookkeeping since (last_updated,
                # missing_streak) does not bump versions and must not be rolled back
                was = current[row.id]
                restore = {k: v for k, v, c in zip(UNDONE_STAGED_COLUMNS, row.values, was,
                                                   strict=True) if c != v}
                version = step.versions_after[("staged_accounts", row.id)]
                if restore:
                    updates.append([*row.values, row.id])
                    before[f"staged {row.id}"] = {
                        k: c for k, c in zip(UNDONE_STAGED_COLUMNS, was, strict=True)
                        if k in restore}
                    after[f"staged {row.id}"] = restore
                    version += 1
                rewound[("staged_accounts", row.id)] = (row.version, version)
            S.restore_many(db, updates)
            for account in step.accounts_before:
                cur = R.get_row(db, "plan_accounts", account["id"])
                assert cur is not None
                if Decimal(cur["balance"]) != Decimal(account["balance"]):
                    R.update_row(db, "plan_accounts", account["id"],
                                 {"balance": account["balance"], "updated_at": now_utc()})
                    R.add_history(db, account["id"], Decimal(account["balance"]), "undo")
                    before[f"account {account['id']}"] = {"balance": cur["balance"]}
                    after[f"account {account['id']}"] = {"balance": account["balance"]}
                v = A.version(db, account["id"])
                assert v is not None
                rewound[("plan_accounts", account["id"])] = (account["version"], v)
            if step.created_accounts:
                A.delete_many(db, step.created_accounts)
                for account_id in step.created_accounts:
                    before[f"account {account_id}"] = "created"
                    after[f"account {account_id}"] = "deleted"
            self._audit(db, step.plan_id, "undo", "plan", step.plan_id, before, after,
                        detail=f"undid {step.label}: "
                        f"{_names_list(_staged_before_name(r) for r in step.staged_before)}")
        self._undo.pop()
        # An older step that left a row as this step found it can still be undone: the row is
        # back to what that step left (only this step changed it since).
        for older in self._undo:
            for key, expected in older.versions_after.items():
                if key in rewound and rewound[key][0] == expected:
                    older.versions_after[key] = rewound[key][1]
        return step.label

