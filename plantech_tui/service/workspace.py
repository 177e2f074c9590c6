"""The Python API every front end uses (CLI, TUI, tests): one user acting on one database.

Each method is one unit of work: check the role (SPEC §1), open `BEGIN IMMEDIATE`, apply the
rule, write the audit entry, commit. A refused or invalid action raises before anything is
written. Triage actions of this session are kept on an undo stack.

`Workspace` is a thin facade: each concern's use cases live in their own module of this
package (users, plans, accounts, staging, undo, integrations, contacts), with what they share
in core.py; the facade keeps the method names every front end calls.
"""

from __future__ import annotations

from pathlib import Path

from ..store.db import Store
from ..store.tables import TableQuery
from .accounts import Accounts
from .contacts import Contacts
from .core import UNDO_LEVELS, BulkAdd
from .integrations import Integrations
from .plans import Plans
from .staging import Staging
from .undo import Undo
from .users import Users, current_user_name, resolve_user


class Workspace(Users, Contacts, Integrations, Staging, Undo, Accounts, Plans):
    """One user acting on one database: every use case, by its name of today."""

    @classmethod
    def open(cls, db_path: Path | str, user_name: str | None = None) -> Workspace:
        store = Store(db_path)
        return cls(store, resolve_user(store, current_user_name(user_name)))


__all__ = ["UNDO_LEVELS", "BulkAdd", "TableQuery", "Workspace", "current_user_name",
           "resolve_user"]
