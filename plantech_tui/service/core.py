"""Shared by the workspace's use cases: the session (store, user, mapping, undo stack),
the row readers every concern uses, and the undo step's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..domain import suggest as suggestions
from ..domain.errors import (
    NotFound,
    PlantechError,
)
from ..domain.models import (
    PARTNER,
    REDTAIL,
    PlanAccount,
    PlanContact,
    StagedAccount,
    User,
)
from ..domain.permissions import Action, allowed
from ..store import accounts as A
from ..store import integrations as I
from ..store import plans as P
from ..store import rows as R
from ..store import staged as S
from ..store.db import Database, Store

_Row = TypeVar("_Row", StagedAccount, PlanContact)

UNDO_LEVELS = 50
# suggested links score only accounts sharing the last 4 or the type: sound while the other
# signals alone (similar description 2 + company 1) cannot reach the threshold
PREFILTER = suggestions.THRESHOLD > 3
# the columns of a staged row that triage actions change (and undo restores)
UNDONE_STAGED_COLUMNS = S.UNDONE_COLUMNS


@dataclass(slots=True)
class StagedBefore:
    """A staged row as a triage step found it: what undo restores (UNDONE_STAGED_COLUMNS)
    and its version then. Kept small: a bulk step holds thousands of them."""

    id: int
    version: int
    values: tuple[Any, ...]

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> StagedBefore:
        return cls(row["id"], row["version"], tuple(row[c] for c in UNDONE_STAGED_COLUMNS))


@dataclass
class UndoStep:
    """What one triage action changed: rows as they were before, and their versions after."""

    label: str
    plan_id: int
    staged_before: list[StagedBefore] = field(default_factory=list)
    accounts_before: list[dict[str, Any]] = field(default_factory=list)
    created_accounts: list[int] = field(default_factory=list)
    versions_after: dict[tuple[str, int], int] = field(default_factory=dict)
    # what makes a row the same row: SQLite reuses the highest id after a delete
    identities: dict[tuple[str, int], tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkAdd:
    """What a bulk Add to Plan did: the accounts created, and the rows left pending (why)."""

    added: list[PlanAccount]
    left_pending: dict[int, str]


def _owner_from(parties: Mapping[tuple[int, str], str], integration_id: int,
                contact_ids: Iterable[str]) -> str:
    """SPEC §2.5: listed only under the client → Client, only under the co-client →
    Co-client, under both → Joint (contacts the plan does not link do not count)."""
    listed = {parties[(integration_id, c)] for c in contact_ids
              if (integration_id, c) in parties} - {"other"}  # a child's listing: neither
    if listed == {"co_client"}:
        return "Co-client"
    if listed == {"client", "co_client"}:
        return "Joint"
    return "Client"


_DESCRIPTION = UNDONE_STAGED_COLUMNS.index("description")


def _staged_before_name(row: StagedBefore) -> str:
    """A staged row's description as the step found it, quoted."""
    return f"'{row.values[_DESCRIPTION]}'"


def _names_list(names: Iterable[str], limit: int = 5) -> str:
    shown = list(names)
    if not shown:
        return "-"
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more:,} more" if more > 0 else "")


def _undo_what(step: UndoStep) -> str:
    """"Ignore of 'Fidelity 1234'" for a one-row step, else its label ("ignore 3")."""
    verb, _, count = step.label.partition(" ")
    if len(step.staged_before) == 1 and (count == "1" or not count.isdigit()):
        action = step.label if not count.isdigit() else verb
        return f"{action[:1].upper()}{action[1:]} of {_staged_before_name(step.staged_before[0])}"
    return step.label


def _step_row_name(db: Database, step: UndoStep, table: str, row_id: int) -> str:
    """The account an undo refusal names: its description as the step found it (the row may
    be gone since), else as it is now, else its id."""
    if table == "staged_accounts":
        for r in step.staged_before:
            if r.id == row_id:
                return _staged_before_name(r)
    for a in step.accounts_before:
        if a["id"] == row_id:
            return f"'{a['description']}'"
    now = S.description_of(db, table, row_id)
    if now is not None:
        return f"'{now}'"
    return f"{'Redtail account' if table == 'staged_accounts' else 'account'} #{row_id}"


def _load_mapping() -> Any:
    """The default partner's type mapping, with the firm's override file applied."""
    from ..partners import registry
    from ..paths import config_dir

    return registry.get().load_mapping(config_dir())


def _unseen_characters(name: str) -> bool:
    """Whether a new user name holds a character a list would not show: controls, format
    characters (zero-width spaces, bidi marks), surrogates, line separators."""
    import unicodedata

    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in name)


class WorkspaceCore:
    """What every use case shares: the store, the acting user, the mapping, the undo stack
    and the small row readers (each concern's use cases are a subclass in its module)."""

    def __init__(self, store: Store, user: User, mapping: Any | None = None) -> None:
        self.store = store
        self.user = user
        self._mapping = mapping
        self._undo: list[UndoStep] = []

    @property
    def mapping(self) -> Any:
        if self._mapping is None:
            self._mapping = _load_mapping()
        return self._mapping

    def can(self, action: Action) -> bool:
        return allowed(self.user, action)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ helpers

    def _audit(self, db: Database, plan_id: int | None, action: str, object_type: str,
               object_id: int | str | None, before: Mapping[str, Any] | None = None,
               after: Mapping[str, Any] | None = None, detail: str = "") -> None:
        R.audit(db, user_name=self.user.name, plan_id=plan_id, action=action,
                object_type=object_type, object_id=object_id, before=before, after=after,
                detail=detail)

    def _plan_row(self, db: Database, plan_id: int) -> dict[str, Any]:
        row = P.visible(db, plan_id, self.user.id)
        if row is None:
            raise NotFound(f"plan {plan_id} not found")
        return row

    def _staged_row(self, db: Database, plan_id: int, staged_id: int) -> dict[str, Any]:
        row = S.in_plan(db, plan_id, staged_id)
        if row is None or row["state"] == "linked":
            raise NotFound(f"staged account {staged_id} not found in plan {plan_id}")
        return row

    def _account_row(self, db: Database, plan_id: int, account_id: int) -> dict[str, Any]:
        row = A.in_plan(db, plan_id, account_id)
        if row is None:
            raise NotFound(f"account {account_id} not found in plan {plan_id}")
        return row

    def _link_of(self, db: Database, account_id: int) -> dict[str, Any] | None:
        return S.link_of(db, account_id)

    def _partner_slugs(self, db: Database) -> dict[int, str]:
        """integration id → its partner's slug, for the integrations of partners other than
        Redtail (whose rows carry the models' default)."""
        from ..partners import registry

        out: dict[int, str] = {}
        for integration_id, name in I.partner_names(db).items():
            if name == PARTNER:
                continue
            try:
                slug = registry.by_name(name).slug
            except PlantechError:  # a partner no longer installed: its stored name
                slug = name
            if slug != REDTAIL:
                out[integration_id] = slug
        return out

    def _partnered(self, db: Database, rows: Sequence[_Row]) -> list[_Row]:
        """The rows with their integration's partner slug (JSON `partner`; a Redtail row
        keeps its redtail_* keys). Nothing is copied while every integration is Redtail's."""
        slugs = self._partner_slugs(db) if rows else {}
        if not slugs:
            return list(rows)
        return [r.replace(partner=slugs[r.integration_id]) if r.integration_id in slugs else r
                for r in rows]

    def canonical_type(self, text: object) -> str:
        return str(self.mapping.canonical_investment_type(text))

