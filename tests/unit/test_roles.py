"""The role matrix of SPEC §1: every action × every role × can_edit, through the real Workspace
(and the domain's `allowed`), on a real SQLite file. A refused action raises PermissionDenied
and changes nothing. The expected values are copied from the SPEC's table, not imported."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.domain.errors import NotFound, PermissionDenied, PlantechError, UnknownUser
from plantech_tui.domain.models import Role, User
from plantech_tui.domain.permissions import Action, allowed
from plantech_tui.partners.redtail.partner import builtin_mapping
from plantech_tui.service.workspace import Workspace, resolve_user
from plantech_tui.store.db import Store
from tests.helpers import make_integration, snapshot, stage

# SPEC §1, copied by hand: (advisor, professional, client); ✓ allowed, – refused,
# e only with can_edit (the advisor column has no "e": advisors may always).
VIEW = "view plans granted, Investment Assets, account editor, link icon, last updated"
INTEGRATION = "Advisor Integration, Plan Integration, Pending / Ignored, refresh report, audit log"
TRIAGE = ("link / unlink contacts, Refresh, sync, ignore, stop ignoring, link, add, "
          "edit staged description, undo")
AUTO_PULL = "the automatic pull when a plan is opened"
EDIT = "add / edit / delete a manual account; edit or delete a linked account"
ACTIVE_BALANCE = "edit the balance of an active linked account"
PAUSE = "Pause / Play / Stop"
EXPORT = "export CSV (only what the role can see)"
MANAGE = "create / rename / delete plans, integration add / list, users add"

TABLE: dict[str, tuple[str, str, str]] = {
    VIEW: ("✓", "✓", "✓"),
    INTEGRATION: ("✓", "–", "–"),
    TRIAGE: ("✓", "–", "–"),
    AUTO_PULL: ("✓", "✓", "✓"),
    EDIT: ("✓", "e", "e"),
    ACTIVE_BALANCE: ("–", "–", "–"),
    PAUSE: ("✓", "–", "–"),
    EXPORT: ("✓", "✓", "✓"),
    MANAGE: ("✓", "–", "–"),
}
COLUMN = {"advisor": 0, "professional": 1, "client": 2}

# (name, role, can_edit): every role with and without can_edit
PEOPLE = [("alice", "advisor", True), ("adele", "advisor", False),
          ("paula", "professional", True), ("pat", "professional", False),
          ("cora", "client", True), ("carl", "client", False)]


def expected(row: str, role: str, can_edit: bool) -> bool:
    cell = TABLE[row][COLUMN[role]]
    return cell == "✓" or (cell == "e" and can_edit)


# ------------------------------------------------------------------ the domain's answer

ACTION_ROWS = {
    Action.VIEW_PLAN: VIEW,
    Action.PLAN_INTEGRATION: INTEGRATION,
    Action.ADVISOR_INTEGRATION: INTEGRATION,
    Action.LINK_CONTACT: TRIAGE,
    Action.REFRESH: TRIAGE,
    Action.TRIAGE: TRIAGE,
    Action.AUTO_PULL: AUTO_PULL,
    Action.EDIT_ACCOUNT: EDIT,
    Action.PAUSE_PLAY_STOP: PAUSE,
    Action.EXPORT: EXPORT,
    Action.MANAGE_PLANS: MANAGE,
    Action.MANAGE_USERS: MANAGE,  # "users add"; which users: tests/unit/test_user_management.py
}


def test_every_domain_action_has_a_row_of_the_table() -> None:
    assert set(ACTION_ROWS) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.name)
@pytest.mark.parametrize(("name", "role", "can_edit"), PEOPLE, ids=[p[0] for p in PEOPLE])
def test_allowed_matches_the_table(action: Action, name: str, role: str, can_edit: bool) -> None:
    user = User(id=1, name=name, role=Role(role), can_edit=can_edit)
    assert allowed(user, action) is expected(ACTION_ROWS[action], role, can_edit)


# ------------------------------------------------------------------ the workspace's answer

GOMEZ = 101
MAPPING = builtin_mapping()


@dataclass(frozen=True)
class Ids:
    plan: int = 1
    hidden: int = 2  # alice's, granted to nobody
    quiet: int = 3  # no linked contacts: pulls make no requests
    integ: int = 1
    spare_integ: int = 2
    pending: int = 1
    ignored: int = 3
    manual: int = 1
    linked: int = 2  # active
    paused: int = 3


IDS = Ids()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roles") / "template.db"
    store = Store(path)
    ws = Workspace(store, resolve_user(store, "alice"), mapping=MAPPING)
    assert ws.create_plan("Addams", ["Gomez Addams", "Morticia Addams"]).id == IDS.plan
    assert ws.create_plan("Hidden").id == IDS.hidden
    assert ws.create_plan("Quiet").id == IDS.quiet
    assert make_integration(ws, ws.user.id) == IDS.integ
    assert make_integration(ws, ws.user.id) == IDS.spare_integ
    ws.link_contact(IDS.plan, IDS.integ, GOMEZ, "Gomez Addams", "Gomez")
    assert stage(ws, IDS.plan, IDS.integ, 5001) == IDS.pending
    stage(ws, IDS.plan, IDS.integ, 5002)
    assert stage(ws, IDS.plan, IDS.integ, 5003, state="ignored") == IDS.ignored
    to_link = stage(ws, IDS.plan, IDS.integ, 5004)
    to_pause = stage(ws, IDS.plan, IDS.integ, 5005)
    assert ws.add_account(IDS.plan, {"description": "Gomez 401(k)", "investment_type": "401(k)",
                                     "balance": "250000"}).id == IDS.manual
    assert ws.add_to_plan(IDS.plan, to_link).id == IDS.linked
    assert ws.add_to_plan(IDS.plan, to_pause).id == IDS.paused
    ws.pause(IDS.plan, IDS.paused)
    for name, role, can_edit in PEOPLE[1:]:
        user = ws.add_user(name, role, can_edit, [IDS.plan, IDS.quiet])
        if role == "advisor":  # integrations belong to one advisor: give adele her own two
            make_integration(ws, user.id)
            make_integration(ws, user.id)
    ws.close()
    return path


def workspace_for(template: Path, db_path: Path, name: str) -> Workspace:
    shutil.copyfile(template, db_path)
    store = Store(db_path)
    return Workspace(store, resolve_user(store, name), mapping=MAPPING)


def _integrations(ws: Workspace) -> list[int]:
    """The acting user's integrations, else (for roles that have none) alice's."""
    conn = ws.store.conn
    mine = [r[0] for r in conn.execute(
        "SELECT id FROM integrations WHERE owner_user_id = ? ORDER BY id", [ws.user.id])]
    return mine or [IDS.integ, IDS.spare_integ]


def _no_client(_: Any) -> Any:
    raise AssertionError("a plan with no linked contacts needs no Redtail client")


def _undo(ws: Workspace) -> None:
    try:  # only an advisor can have something to undo
        ws.ignore(IDS.plan, [IDS.pending])
    except PermissionDenied:
        pass
    ws.undo()


def _sees_plan(ws: Workspace) -> None:
    assert IDS.plan in [s.plan.id for s in ws.list_plans()]


def _sees_link(ws: Workspace) -> None:
    account = ws.account(IDS.plan, IDS.linked)
    assert account.link is not None and account.link.last_updated


def _refresh(ws: Workspace) -> None:
    from plantech_tui.service import pulls

    asyncio.run(pulls.refresh_async(ws, IDS.quiet, connection_for=_no_client))


def _sync(ws: Workspace) -> None:
    from plantech_tui.service import pulls

    asyncio.run(pulls.sync_async(ws, [IDS.quiet], connection_for=_no_client))


def _auto_pull(ws: Workspace) -> None:
    from plantech_tui.service import pulls

    asyncio.run(pulls.auto_pull_async(ws, IDS.quiet, connection_for=_no_client))


OPS: dict[str, tuple[str, Callable[[Workspace], Any]]] = {
    "list plans": (VIEW, _sees_plan),
    "plan detail": (VIEW, lambda ws: ws.plan_detail(IDS.plan)),
    "account editor": (VIEW, lambda ws: ws.account(IDS.plan, IDS.manual)),
    "link icon and last updated": (VIEW, _sees_link),
    "balance history": (VIEW, lambda ws: ws.balance_history(IDS.plan, IDS.linked)),
    "pending row": (INTEGRATION, lambda ws: ws.staged(IDS.plan, IDS.pending)),
    "plan integration contacts": (INTEGRATION, lambda ws: ws.contacts(IDS.plan)),
    "audit log": (INTEGRATION, lambda ws: ws.audit_log(IDS.plan)),
    "advisor integration list": (INTEGRATION, lambda ws: ws.list_integrations()),
    "advisor integration add": (INTEGRATION, lambda ws: ws.save_integration(
        environment="Sandbox", base_url="https://example.test/api/public/v1",
        username="new", secret_ref_factory=lambda: str(uuid.uuid4()))),
    "advisor integration remove": (INTEGRATION,
                                   lambda ws: ws.remove_integration(_integrations(ws)[1])),
    "link contact": (TRIAGE, lambda ws: ws.link_contact(IDS.plan, _integrations(ws)[0], 104,
                                                        "Wednesday")),
    "unlink contact": (TRIAGE, lambda ws: ws.unlink_contact(IDS.plan, IDS.integ, GOMEZ)),
    "Refresh": (TRIAGE, _refresh),
    "sync": (TRIAGE, _sync),
    "ignore": (TRIAGE, lambda ws: ws.ignore(IDS.plan, [IDS.pending])),
    "stop ignoring": (TRIAGE, lambda ws: ws.stop_ignoring(IDS.plan, [IDS.ignored])),
    "link": (TRIAGE, lambda ws: ws.link_to_existing(IDS.plan, IDS.pending, IDS.manual)),
    "add": (TRIAGE, lambda ws: ws.add_to_plan(IDS.plan, IDS.pending)),
    "edit staged description": (TRIAGE, lambda ws: ws.edit_staged_description(
        IDS.plan, IDS.pending, "Renamed")),
    "undo": (TRIAGE, _undo),
    "automatic pull": (AUTO_PULL, _auto_pull),
    "add manual account": (EDIT, lambda ws: ws.add_account(IDS.plan, {
        "description": "Savings", "investment_type": "Cash", "balance": "10"})),
    "edit manual account": (EDIT, lambda ws: ws.edit_account(IDS.plan, IDS.manual, {
        "description": "Gomez old 401(k)", "balance": "1.00"})),
    "delete manual account": (EDIT, lambda ws: ws.delete_account(IDS.plan, IDS.manual)),
    "edit linked account": (EDIT, lambda ws: ws.edit_account(IDS.plan, IDS.linked, {
        "notes": "held at Fidelity", "owner": "Joint"})),
    "edit paused linked balance": (EDIT, lambda ws: ws.edit_account(IDS.plan, IDS.paused, {
        "balance": "3"})),
    "delete linked account": (EDIT, lambda ws: ws.delete_account(IDS.plan, IDS.linked)),
    "edit active linked balance": (ACTIVE_BALANCE, lambda ws: ws.edit_account(
        IDS.plan, IDS.linked, {"balance": "1.00"})),
    "pause": (PAUSE, lambda ws: ws.pause(IDS.plan, IDS.linked)),
    "play": (PAUSE, lambda ws: ws.play(IDS.plan, IDS.paused)),
    "stop": (PAUSE, lambda ws: ws.stop(IDS.plan, IDS.linked)),
    "export": (EXPORT, lambda ws: ws.export_rows(IDS.plan)),
    "create plan": (MANAGE, lambda ws: ws.create_plan("New plan")),
    "rename plan": (MANAGE, lambda ws: ws.rename_plan(IDS.plan, "Renamed")),
    "delete plan": (MANAGE, lambda ws: ws.delete_plan(IDS.plan)),
    "add user": (MANAGE, lambda ws: ws.add_user("zed", "client", False, [IDS.plan])),
}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize(("name", "role", "can_edit"), PEOPLE, ids=[p[0] for p in PEOPLE])
def test_workspace_action_by_role(template: Path, db_path: Path, op: str, name: str, role: str,
                                  can_edit: bool) -> None:
    row, call = OPS[op]
    ws = workspace_for(template, db_path, name)
    assert (ws.user.role.value, ws.user.can_edit) == (role, can_edit)
    before = snapshot(ws)
    if expected(row, role, can_edit):
        call(ws)
    else:
        refusal = PermissionDenied if row != ACTIVE_BALANCE else PlantechError
        with pytest.raises(refusal):
            call(ws)
        assert snapshot(ws) == before, "a refused action changed the database"
        if row != ACTIVE_BALANCE:
            # the workspace says so too, which is what screens use to draw nothing
            assert not any(ws.can(a) for a, r in ACTION_ROWS.items() if r == row)
    ws.close()


def test_every_row_of_the_table_is_exercised() -> None:
    assert {row for row, _ in OPS.values()} == set(TABLE)


# ------------------------------------------------------------------ visibility


@pytest.mark.parametrize(("name", "role", "can_edit"), PEOPLE, ids=[p[0] for p in PEOPLE])
def test_a_hidden_plan_is_reported_like_a_missing_one(template: Path, db_path: Path,
                                                      name: str, role: str,
                                                      can_edit: bool) -> None:
    ws = workspace_for(template, db_path, name)
    visible = name == "alice"  # the owner; nobody was granted the hidden plan
    if visible:
        assert ws.plan(IDS.hidden).name == "Hidden"
        return
    assert IDS.hidden not in [s.plan.id for s in ws.list_plans()]
    for probe in (lambda pid: ws.plan(pid), lambda pid: ws.plan_detail(pid),
                  lambda pid: ws.export_rows(pid),
                  lambda pid: ws.account(pid, IDS.manual)):
        with pytest.raises(NotFound) as hidden:
            probe(IDS.hidden)
        with pytest.raises(NotFound) as missing:
            probe(999)
        assert str(hidden.value).replace(str(IDS.hidden), "N") == \
            str(missing.value).replace("999", "N")


@pytest.mark.parametrize(("name", "role", "can_edit"), PEOPLE[2:], ids=[p[0] for p in PEOPLE[2:]])
def test_plan_show_without_plan_integration_has_the_same_keys_but_no_staged_data(
        template: Path, db_path: Path, name: str, role: str, can_edit: bool) -> None:
    advisor = workspace_for(template, db_path, "alice").plan_detail(IDS.plan).as_json()
    other_path = db_path.with_name("other.db")
    doc = workspace_for(template, other_path, name).plan_detail(IDS.plan).as_json()
    assert doc.keys() == advisor.keys()
    assert advisor["contacts"] and advisor["pending"] and advisor["ignored"]
    assert (doc["contacts"], doc["pending"], doc["ignored"]) == ([], [], [])
    assert doc["plan"] == advisor["plan"] and doc["accounts"] == advisor["accounts"]


@pytest.mark.parametrize(("name", "role", "can_edit"), PEOPLE, ids=[p[0] for p in PEOPLE])
def test_export_and_plan_list_show_only_what_the_role_can_see(
        template: Path, db_path: Path, name: str, role: str, can_edit: bool) -> None:
    ws = workspace_for(template, db_path, name)
    states = sorted({r["state"] for r in ws.export_rows(IDS.plan)})
    summary = next(s for s in ws.list_plans() if s.plan.id == IDS.plan)
    if role == "advisor":
        assert states == ["account", "ignored", "pending"]
        assert (summary.pending, summary.ignored) == (2, 1)
    else:
        assert states == ["account"]
        assert (summary.pending, summary.ignored) == (0, 0)
    assert summary.accounts == 3


# ------------------------------------------------------------------ who the user is


def test_the_first_user_of_a_new_database_becomes_an_advisor(db_path: Path) -> None:
    ws = Workspace.open(db_path, "  Gomez   Addams ")
    assert (ws.user.name, ws.user.role.value) == ("Gomez Addams", "advisor")
    ws.close()
    with pytest.raises(UnknownUser, match="Morticia"):
        Workspace.open(db_path, "Morticia")
    assert Workspace.open(db_path, "gomez addams").user.name == "Gomez Addams"


def test_an_unknown_user_is_refused_until_an_advisor_adds_them(db_path: Path) -> None:
    ws = Workspace.open(db_path, "alice")
    plan = ws.create_plan("P")
    before = snapshot(ws)
    with pytest.raises(UnknownUser):
        Workspace.open(db_path, "bob")
    assert snapshot(ws) == before
    ws.add_user("Bob", "Professional", can_edit=True, plan_ids=[plan.id])
    bob = Workspace.open(db_path, "BOB")
    assert (bob.user.name, bob.user.role.value, bob.user.can_edit) == ("Bob", "professional", True)
    assert [s.plan.id for s in bob.list_plans()] == [plan.id]


def test_the_user_comes_from_the_flag_then_the_environment_then_the_login(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "oslogin")
    assert Workspace.open(db_path).user.name == "oslogin"
    monkeypatch.setenv("PLANTECH_USER", "envuser")
    with pytest.raises(UnknownUser, match="envuser"):
        Workspace.open(db_path)
    assert Workspace.open(db_path, "oslogin").user.name == "oslogin"


def test_a_new_user_sees_only_the_plans_granted(db_path: Path) -> None:
    ws = Workspace.open(db_path, "alice")
    a = ws.create_plan("A")
    ws.create_plan("B")
    ws.add_user("carl", "client", plan_ids=[a.id])
    carl = Workspace.open(db_path, "carl")
    assert [s.plan.name for s in carl.list_plans()] == ["A"]
