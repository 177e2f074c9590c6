"""The life of an account a partner sends, as one pure state machine (SPEC §3).

A staged row is in exactly one `Status`: Pending, Ignored, or linked to a plan account —
Active, Paused, or Source unlinked (its contact was unlinked from the plan: the link is kept,
nothing flows, relinking the contact revives the state it had). Every `Move` a user or a pull
makes is asked of `apply`, which returns the `Outcome` (the new status, the columns to store,
the audit action) or raises `TransitionRefused` with the sentence the user reads. The service
writes what the outcome says; screens and the CLI ask `moves_from`/`allowed` to offer only
what would be taken. Nothing else in the code encodes a transition.

No I/O here: the facts a move depends on that live in the store (whether another linked contact
still reaches the row, the link state it had before its contact was unlinked) are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from .errors import InvalidState

if TYPE_CHECKING:
    from .models import PlanAccount

__all__ = [
    "LINKED",
    "LINK_MOVES",
    "Move",
    "Outcome",
    "Status",
    "TransitionRefused",
    "allowed",
    "apply",
    "balance_flows",
    "can_be_missing",
    "moves_from",
    "offered",
    "receives_pull",
    "refusal",
    "link_status",
    "status_of",
]


class Status(StrEnum):
    PENDING = "pending"
    IGNORED = "ignored"
    ACTIVE = "active"
    PAUSED = "paused"
    SOURCE_UNLINKED = "source_unlinked"

    @property
    def linked(self) -> bool:
        return self in LINKED

    @property
    def shown(self) -> str:
        return self.value.replace("_", " ")


LINKED = frozenset({Status.ACTIVE, Status.PAUSED, Status.SOURCE_UNLINKED})


class Move(StrEnum):
    IGNORE = "ignore"  # Pending → Ignored (a reason may be kept)
    STOP_IGNORING = "stop ignoring"  # Ignored → Pending
    LINK = "link"  # Pending → Active: Link to Existing Item
    ADD = "add"  # Pending → Active: Add to Plan (a new plan account)
    PAUSE = "pause"  # Active → Paused: the balance stops flowing
    PLAY = "play"  # Paused → Active
    STOP = "stop"  # linked → Pending: the link breaks, the plan account stays
    DELETE = "delete"  # the plan account is deleted: linked → Pending
    CONTACT_UNLINKED = "contact unlinked"  # no linked contact lists it any more
    CONTACT_RELINKED = "contact relinked"  # Source unlinked → the state it had
    MISSING_AT_SOURCE = "missing at source"  # a flag: the status does not change


@dataclass(frozen=True)
class Outcome:
    """What a move does. `state`/`link_state` are the staged row's columns to store (None for
    a removed row); `changed` is False for a move that leaves everything as it was (ignoring
    an ignored row), which writes nothing and audits nothing."""

    status: Status | None  # None: the staged row is removed
    changed: bool
    audit: str  # the audit log's action name ("" when nothing changed)
    drops_link: bool = False  # linked_account_id is cleared (the plan account stays)
    removes_row: bool = False  # the staged row is deleted (nothing reaches it any more)
    prior_link_state: str | None = None  # kept while Source unlinked, to revive it
    flags_missing: bool = False  # MISSING_AT_SOURCE: the row counts a miss

    @property
    def state(self) -> str | None:
        if self.status is None:
            return None
        return "linked" if self.status.linked else self.status.value

    @property
    def link_state(self) -> str | None:
        return self.status.value if self.status is not None and self.status.linked else None


class TransitionRefused(InvalidState):
    """A move the account's status does not allow (exit 2 at the CLI, a notice in the TUI)."""

    def __init__(self, message: str, *, status: Status, move: Move) -> None:
        super().__init__(message)
        self.status = status
        self.move = move


def status_of(state: str, link_state: str | None = None) -> Status:
    """A staged row's status from its stored columns."""
    found = _STORED.get((state, link_state))
    if found is not None:  # a pull asks this of every row: the known pairs answer at once
        return found
    if state == "linked":
        if link_state is None:
            raise ValueError("a linked row has a link state")
        return Status(link_state)
    if link_state is not None:
        raise ValueError(f"a {state} row has no link state")
    return Status(state)


_STORED: dict[tuple[str, str | None], Status] = {
    **{(s.value, None): s for s in (Status.PENDING, Status.IGNORED)},
    **{("linked", s.value): s for s in LINKED},
}

# The table: (status, move) → (new status, audit action). A pair absent from it is refused;
# a pair whose new status is the same status and audit "" is allowed and changes nothing.
_P, _I, _A, _Z, _U = (Status.PENDING, Status.IGNORED, Status.ACTIVE, Status.PAUSED,
                      Status.SOURCE_UNLINKED)
_TABLE: dict[tuple[Status, Move], tuple[Status | None, str]] = {
    (_P, Move.IGNORE): (_I, "ignore"),
    (_I, Move.IGNORE): (_I, ""),
    (_I, Move.STOP_IGNORING): (_P, "stop ignoring"),
    (_P, Move.STOP_IGNORING): (_P, ""),
    (_P, Move.LINK): (_A, "link to existing item"),
    (_P, Move.ADD): (_A, "add to plan"),
    (_A, Move.PAUSE): (_Z, "account pause"),
    (_Z, Move.PAUSE): (_Z, ""),
    (_Z, Move.PLAY): (_A, "account play"),
    (_A, Move.PLAY): (_A, ""),
    (_A, Move.STOP): (_P, "account stop"),
    (_Z, Move.STOP): (_P, "account stop"),
    (_U, Move.STOP): (_P, "account stop"),
    (_A, Move.DELETE): (_P, "account delete"),
    (_Z, Move.DELETE): (_P, "account delete"),
    (_U, Move.DELETE): (_P, "account delete"),
    (_P, Move.CONTACT_UNLINKED): (None, "staged removed"),
    (_I, Move.CONTACT_UNLINKED): (None, "staged removed"),
    (_A, Move.CONTACT_UNLINKED): (_U, "source unlinked"),
    (_Z, Move.CONTACT_UNLINKED): (_U, "source unlinked"),
    (_U, Move.CONTACT_UNLINKED): (_U, ""),
    (_U, Move.CONTACT_RELINKED): (_A, "link revived"),  # or Paused: the state it had
    (_P, Move.MISSING_AT_SOURCE): (_P, "missing at source"),
    (_A, Move.MISSING_AT_SOURCE): (_A, "missing at source"),
    (_Z, Move.MISSING_AT_SOURCE): (_Z, "missing at source"),
    (_I, Move.MISSING_AT_SOURCE): (_I, ""),  # an ignored row is not watched
    (_U, Move.MISSING_AT_SOURCE): (_U, ""),  # nothing lists it on purpose
}

_VERBS = {Move.IGNORE: "be ignored", Move.STOP_IGNORING: "stop being ignored",
          Move.LINK: "be linked", Move.ADD: "be added to the plan", Move.PAUSE: "pause",
          Move.PLAY: "play", Move.STOP: "stop", Move.DELETE: "be deleted",
          Move.CONTACT_UNLINKED: "lose its contact", Move.CONTACT_RELINKED: "be revived",
          Move.MISSING_AT_SOURCE: "be missing at source"}


# The moves a plan account's own keys make (their action names are the moves' values).
LINK_MOVES = frozenset({"pause", "play", "stop"})


def link_status(account: PlanAccount | None) -> Status | None:
    """A plan account's link status; None for a manual account (or none at all)."""
    if account is None or account.link is None:
        return None
    return Status(account.link.state.value)


def allowed(status: Status, move: Move) -> bool:
    """Would `apply` take this move (even as a no-op)?"""
    return (status, move) in _TABLE


def moves_from(status: Status) -> frozenset[Move]:
    """Every move `apply` takes from this status."""
    return frozenset(m for (s, m) in _TABLE if s is status)


def offered(status: Status | None) -> frozenset[Move]:
    """The moves a screen offers for a row in this status: those that change something (Play
    is not offered on an active link, though pressing it there is harmless). None: a plan
    account with no link (a manual account), which offers none of them."""
    if status is None:
        return frozenset()
    return frozenset(m for (s, m), (_, audit) in _TABLE.items() if s is status and audit)


def refusal(status: Status, move: Move, what: str = "the account") -> str:
    """The sentence a refused move shows (the wording the CLI and the TUI have always used)."""
    if move in (Move.LINK, Move.ADD) and status is Status.IGNORED:
        doing = "linking" if move is Move.LINK else "adding it"
        return f"{what} is ignored: Stop Ignoring it before {doing}"
    if move in (Move.LINK, Move.ADD) and status.linked:
        return f"{what} is already linked"
    if move in (Move.PAUSE, Move.PLAY) and status.linked:
        return f"{what} cannot {move.value}: its link is {status.shown}"
    if move in (Move.PAUSE, Move.PLAY, Move.STOP, Move.DELETE) and not status.linked:
        return f"{what} is {status.shown}, not linked"
    return f"{what} cannot {_VERBS[move]}: it is {status.shown}"


def apply(status: Status, move: Move, *, what: str = "the account", reached: bool = False,
          prior: str | None = None) -> Outcome:
    """The outcome of `move` from `status`, or TransitionRefused.

    `reached`: another contact linked to the plan still lists the row (STOP/DELETE of a
    Source-unlinked link then returns it to Pending instead of dropping it; CONTACT_UNLINKED
    leaves a reached row as it is). `prior`: the link state a Source-unlinked row had
    (CONTACT_RELINKED revives it; none recorded: Active).
    """
    found = _TABLE.get((status, move))
    if found is None:
        raise TransitionRefused(refusal(status, move, what), status=status, move=move)
    new, audit = found
    if move is Move.CONTACT_UNLINKED and reached:
        return Outcome(status, changed=False, audit="")
    if not audit:
        return Outcome(status, changed=False, audit="")
    if move in (Move.STOP, Move.DELETE):
        if status is Status.SOURCE_UNLINKED and not reached:
            # nothing lists it any more: unlinking its contact would have dropped it had it
            # been pending (SPEC §3), so breaking the link drops it
            return Outcome(None, changed=True, audit=audit, drops_link=True, removes_row=True)
        return Outcome(Status.PENDING, changed=True, audit=audit, drops_link=True)
    if move is Move.CONTACT_UNLINKED:
        if new is None:
            return Outcome(None, changed=True, audit=audit, removes_row=True)
        return Outcome(new, changed=True, audit=audit, prior_link_state=status.value)
    if move is Move.CONTACT_RELINKED:
        revived = Status(prior) if prior in (Status.ACTIVE, Status.PAUSED) else Status.ACTIVE
        return Outcome(revived, changed=True, audit=audit)
    if move is Move.MISSING_AT_SOURCE:
        return Outcome(status, changed=True, audit=audit, flags_missing=True)
    return Outcome(new, changed=True, audit=audit)


def receives_pull(status: Status) -> bool:
    """Does a pull update this row's fields? Ignored rows and links that are not Active keep
    what they have (SPEC §3: a paused link stops the flow)."""
    return status in (Status.PENDING, Status.ACTIVE)


def balance_flows(status: Status) -> bool:
    """Does a pulled balance reach the linked plan account?"""
    return status is Status.ACTIVE


def can_be_missing(status: Status) -> bool:
    """Is the row watched for "missing at source" (two pulls in a row without it)?"""
    return _TABLE[(status, Move.MISSING_AT_SOURCE)][1] != ""
