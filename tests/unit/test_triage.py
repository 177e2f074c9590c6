"""domain/triage.py, the one place a staged account's transitions are written (SPEC §3).

Adversary: an advisor (or a script driving the CLI) who presses every key in every state —
Play on an active link, Link on an ignored row, Pause on a link whose contact was unlinked —
and a maintainer who changes one transition in one place and not the others. The table below
is written out by hand from SPEC §2.5–2.6 and §3, independently of the module's own table:
every status × every move, allowed and refused. Then a Hypothesis state machine drives the
module against a small model, and a second one drives the real Workspace on a real SQLite
file and checks the stored row against the machine after every step (so the service cannot
disagree with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from plantech_tui.domain.errors import InvalidState
from plantech_tui.domain.triage import (
    Move,
    Outcome,
    Status,
    TransitionRefused,
    allowed,
    apply,
    balance_flows,
    can_be_missing,
    moves_from,
    offered,
    receives_pull,
    status_of,
)

P, I, A, Z, U = (Status.PENDING, Status.IGNORED, Status.ACTIVE, Status.PAUSED,  # noqa: E741
                 Status.SOURCE_UNLINKED)
NOOP, GONE, NO = "no-op", "removed", "refused"

# What each move does from each status, from the SPEC, by hand. A status, or NOOP (allowed,
# nothing changes), GONE (the staged row is deleted), or NO (refused).
EXPECTED: dict[Move, dict[Status, Any]] = {
    Move.IGNORE:            {P: I, I: NOOP, A: NO, Z: NO, U: NO},
    Move.STOP_IGNORING:     {P: NOOP, I: P, A: NO, Z: NO, U: NO},
    Move.LINK:              {P: A, I: NO, A: NO, Z: NO, U: NO},
    Move.ADD:               {P: A, I: NO, A: NO, Z: NO, U: NO},
    Move.PAUSE:             {P: NO, I: NO, A: Z, Z: NOOP, U: NO},
    Move.PLAY:              {P: NO, I: NO, A: NOOP, Z: A, U: NO},
    Move.STOP:              {P: NO, I: NO, A: P, Z: P, U: GONE},  # U: when nothing reaches it
    Move.DELETE:            {P: NO, I: NO, A: P, Z: P, U: GONE},
    Move.CONTACT_UNLINKED:  {P: GONE, I: GONE, A: U, Z: U, U: NOOP},  # when nothing reaches it
    Move.CONTACT_RELINKED:  {P: NO, I: NO, A: NO, Z: NO, U: A},  # no prior recorded: Active
    Move.MISSING_AT_SOURCE: {P: P, I: NOOP, A: A, Z: Z, U: NOOP},
}

CASES = [(s, m) for m in Move for s in Status]


def test_the_table_covers_every_status_and_every_move() -> None:
    assert set(EXPECTED) == set(Move)
    assert all(set(row) == set(Status) for row in EXPECTED.values())


@pytest.mark.parametrize(("status", "move"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_every_status_times_every_move(status: Status, move: Move) -> None:
    want = EXPECTED[move][status]
    assert allowed(status, move) is (want != NO)
    assert (move in moves_from(status)) is (want != NO)
    assert (move in offered(status)) is (want not in (NO, NOOP))
    if want == NO:
        with pytest.raises(TransitionRefused) as refused:
            apply(status, move, what="account 7")
        assert isinstance(refused.value, InvalidState)  # exit 2 at the CLI, as before
        assert refused.value.message.startswith("account 7 ")
        assert refused.value.status is status and refused.value.move is move
        return
    out = apply(status, move, what="account 7")
    if want == NOOP:
        assert out == Outcome(status, changed=False, audit="")
    elif want == GONE:
        assert out.changed and out.removes_row and out.status is None
        assert out.state is None and out.link_state is None
    else:
        assert out.changed and out.status is want and out.audit
        assert out.state == ("linked" if want in (A, Z, U) else want.value)
        assert out.link_state == (want.value if want in (A, Z, U) else None)
        assert status_of(out.state or "", out.link_state) is want


def test_the_messages_users_have_always_read() -> None:
    """The CLI's and the TUI's wording for the refusals a user meets is unchanged."""
    def said(status: Status, move: Move, what: str) -> str:
        with pytest.raises(TransitionRefused) as refused:
            apply(status, move, what=what)
        return refused.value.message

    assert said(U, Move.PAUSE, "account 5") == "account 5 cannot pause: its link is source unlinked"
    assert said(U, Move.PLAY, "account 5") == "account 5 cannot play: its link is source unlinked"
    assert said(I, Move.LINK, "staged account 9") == \
        "staged account 9 is ignored: Stop Ignoring it before linking"
    assert said(I, Move.ADD, "staged account 9") == \
        "staged account 9 is ignored: Stop Ignoring it before adding it"
    assert "not linked" in said(P, Move.PAUSE, "account 5")


def test_reached_and_prior_change_the_outcome() -> None:
    """Stop or Delete of a source-unlinked link another contact still lists returns it to
    Pending; unlinking a contact leaves a row another contact lists; relinking revives the
    state the link had (a paused link comes back paused, not active)."""
    assert apply(U, Move.STOP, reached=True).status is P
    assert apply(U, Move.DELETE, reached=True).drops_link
    assert apply(A, Move.STOP).drops_link and not apply(A, Move.STOP).removes_row
    for s in (P, I, A, Z):
        assert apply(s, Move.CONTACT_UNLINKED, reached=True) == Outcome(s, changed=False, audit="")
    assert apply(Z, Move.CONTACT_UNLINKED).prior_link_state == "paused"
    assert apply(U, Move.CONTACT_RELINKED, prior="paused").status is Z
    assert apply(U, Move.CONTACT_RELINKED, prior="active").status is A
    assert apply(U, Move.CONTACT_RELINKED, prior="bogus").status is A


def test_what_a_pull_may_touch() -> None:
    """Only pending rows and active links take pulled fields; only active links take the
    balance; ignored rows and unlinked contacts' links are not watched for missing."""
    assert {s for s in Status if receives_pull(s)} == {P, A}
    assert {s for s in Status if balance_flows(s)} == {A}
    assert {s for s in Status if can_be_missing(s)} == {P, A, Z}
    assert apply(P, Move.MISSING_AT_SOURCE).flags_missing


def test_status_of_refuses_impossible_rows() -> None:
    """A stored row that breaks SPEC §3's "exactly one state" is a bug, not a status."""
    with pytest.raises(ValueError):
        status_of("linked", None)
    with pytest.raises(ValueError):
        status_of("pending", "active")
    with pytest.raises(ValueError):
        status_of("archived")


# ------------------------------------------------------------------ against a model


class TriageAgainstAModel(RuleBasedStateMachine):
    """A model of one account's life written as plain ifs: the machine must agree with it on
    any sequence of moves (and a refused move must change nothing)."""

    @initialize()
    def start(self) -> None:
        self.status: Status | None = P
        self.prior: str | None = None

    def _model(self, move: Move, reached: bool) -> tuple[bool, Status | None, str | None]:
        s, prior = self.status, self.prior
        assert s is not None
        linked = s in (A, Z, U)
        if move is Move.IGNORE:
            return s in (P, I), I, prior
        if move is Move.STOP_IGNORING:
            return s in (P, I), P, prior
        if move in (Move.LINK, Move.ADD):
            return s is P, A, prior
        if move is Move.PAUSE:
            return s in (A, Z), Z, prior
        if move is Move.PLAY:
            return s in (A, Z), A, prior
        if move in (Move.STOP, Move.DELETE):
            return linked, (P if s is not U or reached else None), None
        if move is Move.CONTACT_UNLINKED:
            if reached or s is U:
                return True, s, prior
            return True, (U if linked else None), (s.value if linked else prior)
        if move is Move.CONTACT_RELINKED:
            return s is U, (Z if prior == "paused" else A), None
        return True, s, prior  # missing at source: a flag

    @precondition(lambda self: self.status is not None)
    @rule(move=st.sampled_from(list(Move)), reached=st.booleans())
    def move(self, move: Move, reached: bool) -> None:
        assert self.status is not None
        ok, new, prior = self._model(move, reached)
        try:
            out = apply(self.status, move, reached=reached, prior=self.prior)
        except TransitionRefused:
            assert not ok, f"{move} from {self.status} was refused"
            return
        assert ok, f"{move} from {self.status} was taken"
        assert out.status is new
        if out.prior_link_state is not None:
            assert out.prior_link_state == prior
        self.status, self.prior = out.status, prior if out.status is U else None

    @precondition(lambda self: self.status is None)
    @rule()
    def restage(self) -> None:
        """A dropped row comes back as pending with the next pull."""
        self.status, self.prior = P, None

    @invariant()
    def offered_moves_are_taken(self) -> None:
        if self.status is not None:
            for move in moves_from(self.status):
                apply(self.status, move, prior=self.prior)  # never raises


TestTriageAgainstAModel = TriageAgainstAModel.TestCase
TestTriageAgainstAModel.settings = settings(max_examples=150, stateful_step_count=30,
                                            deadline=None)


# ------------------------------------------------------------------ the real service


class ServiceAgreesWithTriage(RuleBasedStateMachine):
    """The real Workspace on a real SQLite file, one staged account and one manual account:
    every user move is asked of triage first; the service must take exactly the moves triage
    allows and store exactly the status triage says."""

    db_dir: Path

    @initialize()
    def start(self) -> None:
        from plantech_tui.service.workspace import Workspace
        from tests.helpers import make_integration, stage

        self.path = self.db_dir / f"t{id(self)}-{self._n()}.db"
        self.ws = Workspace.open(self.path, "alice")
        plan = self.ws.create_plan("Addams Family", ["Gomez Addams"])
        self.plan = plan.id
        integ = make_integration(self.ws, self.ws.user.id)
        self.ws.link_contact(plan.id, integ, 101, "Gomez Addams", "Gomez", party="client")
        self.staged = stage(self.ws, plan.id, integ, 5001)
        self.integ = integ
        self.contact_linked = True
        self.prior: str | None = None
        self.account: int | None = None
        self.status: Status | None = P

    _count = 0

    @classmethod
    def _n(cls) -> int:
        cls._count += 1
        return cls._count

    def teardown(self) -> None:
        if hasattr(self, "ws"):
            self.ws.close()

    def _stored(self) -> Status | None:
        from tests.helpers import staged_state

        try:
            state, _, link_state = staged_state(self.ws, self.staged)
        except AssertionError:
            return None
        return status_of(state, link_state)

    def _do(self, move: Move) -> None:
        from plantech_tui.domain.errors import NotFound, PlantechError

        assert self.status is not None
        ws, plan = self.ws, self.plan
        calls = {
            Move.IGNORE: lambda: ws.ignore(plan, [self.staged]),
            Move.STOP_IGNORING: lambda: ws.stop_ignoring(plan, [self.staged]),
            Move.ADD: lambda: ws.add_to_plan(plan, self.staged),
            Move.LINK: lambda: ws.link_to_existing(plan, self.staged, self._manual()),
            Move.PAUSE: lambda: ws.pause(plan, self._account()),
            Move.PLAY: lambda: ws.play(plan, self._account()),
            Move.STOP: lambda: ws.stop(plan, self._account()),
            Move.DELETE: lambda: ws.delete_account(plan, self._account()),
        }
        want = allowed(self.status, move)
        unlinked_delete = move is Move.DELETE and self.account is None
        if unlinked_delete:  # deleting a manual account: allowed, the staged row untouched
            want = True
        try:
            result = calls[move]()
        except (InvalidState, NotFound) as refused:
            assert not want, f"the service refused {move} from {self.status}: {refused}"
        except PlantechError as other:  # pragma: no cover - a failure to report, not a refusal
            raise AssertionError(f"{move} from {self.status}: {other}") from other
        else:
            assert want, f"the service took {move} from {self.status}"
            if unlinked_delete:
                assert self._stored() is self.status
                return
            expected = apply(self.status, move, reached=self.contact_linked)
            if move in (Move.ADD, Move.LINK):
                self.account = result.id
            if move in (Move.STOP, Move.DELETE):
                self.account = None
            self.status = expected.status
        assert self._stored() is self.status

    def _manual(self) -> int:
        return self.ws.add_account(self.plan, {"description": "Gomez 401(k)",
                                               "investment_type": "401(k)",
                                               "balance": "250000.00"}).id

    def _account(self) -> int:
        if self.account is not None:
            return self.account
        return self._manual()  # a manual account: no link to act on

    @precondition(lambda self: self.contact_linked)
    @rule()
    def unlink_contact(self) -> None:
        """Gomez, the only contact listing the account, is unlinked from the plan."""
        self.ws.unlink_contact(self.plan, self.integ, 101)
        self.contact_linked = False
        if self.status is not None:
            out = apply(self.status, Move.CONTACT_UNLINKED)
            self.prior = out.prior_link_state or self.prior
            self.status = out.status
            if out.removes_row:
                self.account = None
        assert self._stored() is self.status

    @precondition(lambda self: not self.contact_linked)
    @rule()
    def relink_contact(self) -> None:
        """Gomez is linked again: a source-unlinked link comes back as it was."""
        self.ws.link_contact(self.plan, self.integ, 101, "Gomez Addams", "Gomez", party="client")
        self.contact_linked = True
        if self.status is Status.SOURCE_UNLINKED:
            self.status = apply(self.status, Move.CONTACT_RELINKED, prior=self.prior).status
            self.prior = None
        assert self._stored() is self.status

    @precondition(lambda self: self.status is not None)
    @rule(move=st.sampled_from([Move.IGNORE, Move.STOP_IGNORING, Move.ADD, Move.LINK,
                                Move.PAUSE, Move.PLAY, Move.STOP, Move.DELETE]))
    def user_move(self, move: Move) -> None:
        self._do(move)


@pytest.mark.parametrize("seed", [0])
def test_the_service_agrees_with_triage(tmp_path: Path, seed: int) -> None:
    """Runs the machine above with a temporary folder for its databases."""
    from hypothesis.stateful import run_state_machine_as_test

    ServiceAgreesWithTriage.db_dir = tmp_path
    run_state_machine_as_test(ServiceAgreesWithTriage, settings=settings(
        max_examples=25, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_the_service_walks_every_status(tmp_path: Path) -> None:
    """One life through every status the user can reach, step by step (the machine above
    explores; this pins the walk that must always work)."""
    ServiceAgreesWithTriage.db_dir = tmp_path
    machine = ServiceAgreesWithTriage()
    machine.start()
    try:
        seen = {machine.status}
        for move in (Move.IGNORE, Move.LINK, Move.STOP_IGNORING, Move.PLAY, Move.ADD,
                     Move.PLAY, Move.PAUSE, Move.PAUSE, Move.LINK, Move.STOP, Move.LINK,
                     Move.PAUSE, "unlink", Move.PLAY, "relink", Move.PLAY, "unlink",
                     Move.STOP):
            if move == "unlink":
                machine.unlink_contact()
            elif move == "relink":
                machine.relink_contact()
            else:
                machine.user_move(move)
            seen.add(machine.status)
        assert seen == {P, I, A, Z, U, None}
        assert machine.status is None  # stopped while nothing listed it: dropped
    finally:
        machine.teardown()


def test_screens_offer_only_moves_that_change_something() -> None:
    """The plan screen's Pause shows on an active link only, Play on a paused one only, Stop
    on any link, none of them on a manual account (None)."""
    assert offered(None) == frozenset()
    link_keys = {Move.PAUSE, Move.PLAY, Move.STOP}
    assert offered(A) & link_keys == {Move.PAUSE, Move.STOP}
    assert offered(Z) & link_keys == {Move.PLAY, Move.STOP}
    assert offered(U) & link_keys == {Move.STOP}
