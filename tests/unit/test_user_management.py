"""Issue 10 item 3: who may create and change which user (README "Who manages users").

Administrators manage every user; an advisor who is not an administrator manages only the
clients and professionals of their own plans; the last administrator stays; every user change
is in the audit log and `users audit` shows it. Real SQLite files, the real CLI `main`."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plantech_tui.cli import main
from plantech_tui.domain.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from plantech_tui.service.workspace import Workspace
from plantech_tui.store.schema import MIGRATIONS, migrate
from tests.helpers import snapshot


@dataclass
class Firm:
    db: Path
    gomez: Workspace  # the first user: advisor and administrator; owns plan 1
    bob: Workspace  # a second advisor, not an administrator; owns plan 2
    addams: int
    munsters: int


@pytest.fixture
def firm(db_path: Path) -> Firm:
    gomez = Workspace.open(db_path, "gomez")
    addams = gomez.create_plan("Addams", ["Gomez Addams", "Morticia Addams"]).id
    gomez.add_user("morticia", "client", True, [addams])
    gomez.add_user("bob", "advisor")
    gomez.add_user("zed", "client")  # no plan yet: the administrator's to place
    bob = Workspace.open(db_path, "bob")
    munsters = bob.create_plan("Munsters", ["Herman Munster"]).id
    return Firm(db_path, gomez, bob, addams, munsters)


def cli(db: Path, user: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--db", str(db), "--user", user, *args])
    out, err = capsys.readouterr()
    return rc, out, err


def role_of(ws: Workspace, name: str) -> tuple[str, bool, bool]:
    row = ws.store.conn.execute(
        "SELECT role, can_edit, is_admin FROM users WHERE name = ? COLLATE NOCASE", [name]
    ).fetchone()
    return row[0], bool(row[1]), bool(row[2])


# ------------------------------------------------------------------ the attack of the issue

ATTACKS: dict[str, tuple[str, ...]] = {
    "promote gomez's client to advisor": ("morticia", "--role", "advisor"),
    "take away the client's edit right": ("morticia", "--role", "client"),
    "make gomez's client a professional": ("morticia", "--role", "professional", "--can-edit"),
    "demote gomez": ("gomez", "--role", "client"),
    "re-add gomez as advisor without edit": ("gomez", "--role", "advisor"),
    "demote himself": ("bob", "--role", "client"),
    "make himself administrator": ("bob", "--role", "advisor", "--admin"),
    "create a new advisor": ("eve", "--role", "advisor"),
    "create an administrator": ("eve", "--role", "advisor", "--admin"),
    "create a client without any of his plans": ("igor", "--role", "client"),
    "take over a user the administrator has not placed": ("zed", "--role", "client",
                                                          "--can-edit", "--plan", "2"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_item3_an_advisor_cannot_rewrite_users_outside_their_plans(
        firm: Firm, attack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Adversary: advisor bob, who cannot see gomez's plan, rewrites gomez's client, gomez and
    himself with `users add` on existing names (issue 10 item 3). Every attempt is refused by
    role (exit 1, one line) and nothing changes, audit log included."""
    before = snapshot(firm.gomez)
    rc, out, err = cli(firm.db, "bob", "users", "add", *ATTACKS[attack], capsys=capsys)
    assert rc == 1, (rc, out, err)
    assert out == "" and len(err.splitlines()) == 1 and err.startswith("plantech: error: ")
    assert "bob" in err
    assert snapshot(firm.gomez) == before


def test_item3_the_same_attack_through_the_python_api_changes_nothing(firm: Firm) -> None:
    """Adversary: advisor bob calling the Workspace directly (the TUI's path)."""
    before = snapshot(firm.gomez)
    for name, role, admin in (("morticia", "advisor", None), ("gomez", "client", None),
                              ("bob", "client", None), ("bob", "advisor", True),
                              ("eve", "advisor", None)):
        with pytest.raises(PermissionDenied):
            firm.bob.add_user(name, role, admin=admin)
    for name in ("morticia", "gomez", "bob"):
        with pytest.raises(PermissionDenied):
            firm.bob.remove_user(name)
    with pytest.raises(NotFound):  # gomez's plan reads like a missing one to bob
        firm.bob.add_user("igor", "client", False, [firm.addams])
    assert snapshot(firm.gomez) == before
    assert role_of(firm.gomez, "morticia") == ("client", True, False)
    assert role_of(firm.gomez, "gomez") == ("advisor", True, True)
    assert role_of(firm.gomez, "bob") == ("advisor", False, False)


def test_item3_an_advisor_manages_the_clients_of_their_own_plans(firm: Firm) -> None:
    herman = firm.bob.add_user("herman", "client", False, [firm.munsters])
    assert (herman.role.value, herman.can_edit, herman.is_admin) == ("client", False, False)
    firm.bob.add_user("Herman", "professional", True)  # names match case-insensitively
    assert role_of(firm.bob, "herman") == ("professional", True, False)
    # once gomez grants herman one of his plans too, herman is no longer bob's alone
    firm.gomez.add_user("herman", "professional", True, [firm.addams])
    with pytest.raises(PermissionDenied, match="herman"):
        firm.bob.add_user("herman", "client")
    assert role_of(firm.bob, "herman") == ("professional", True, False)
    # bob sees himself and the users of his plans, with his plans only
    listed = {u.name: plans for u, plans in firm.bob.list_users()}
    assert listed == {"bob": [], "herman": [firm.munsters]}
    everyone = {u.name: plans for u, plans in firm.gomez.list_users()}
    assert everyone == {"gomez": [], "morticia": [firm.addams], "bob": [], "zed": [],
                        "herman": [firm.addams, firm.munsters]}


def test_item3_an_administrator_may_change_any_user(firm: Firm) -> None:
    firm.gomez.add_user("morticia", "advisor", True, admin=True)
    assert role_of(firm.gomez, "morticia") == ("advisor", True, True)
    firm.gomez.add_user("bob", "client", False, [firm.munsters])
    assert role_of(firm.gomez, "bob") == ("client", False, False)
    firm.gomez.add_user("gomez", "professional")  # morticia is an administrator now
    assert role_of(firm.gomez, "gomez") == ("professional", False, False)
    morticia = Workspace.open(firm.db, "morticia")
    morticia.add_user("igor", "professional", False, [firm.addams, firm.munsters])
    morticia.remove_user("IGOR")
    with pytest.raises(InvalidState, match="owns plans"):  # plans and integrations stay owned
        morticia.remove_user("gomez")
    assert [u.name for u, _ in morticia.list_users()] == ["gomez", "morticia", "bob", "zed"]


def test_item3_the_last_administrator_cannot_be_removed_or_demoted(firm: Firm) -> None:
    """Adversary: the only administrator, by mistake, stepping down (which would leave
    nobody able to manage users: the issue's "0 advisors")."""
    before = snapshot(firm.gomez)
    for call in (lambda: firm.gomez.add_user("gomez", "client"),
                 lambda: firm.gomez.add_user("gomez", "advisor", True, admin=False),
                 lambda: firm.gomez.remove_user("gomez")):
        with pytest.raises(InvalidState, match="last administrator"):
            call()
    assert snapshot(firm.gomez) == before
    # the database refuses it too, whatever the path
    with pytest.raises(sqlite3.DatabaseError, match="administrator"), \
            firm.gomez.store.write() as db:
        db.execute("UPDATE users SET is_admin = 0")
    assert snapshot(firm.gomez) == before
    firm.gomez.add_user("bob", "advisor", True, admin=True)
    firm.gomez.add_user("gomez", "advisor", True, admin=False)
    assert role_of(firm.gomez, "gomez") == ("advisor", True, False)


def test_item3_user_changes_are_listed_by_users_audit(
        firm: Firm, capsys: pytest.CaptureFixture[str]) -> None:
    firm.bob.add_user("herman", "client", False, [firm.munsters])
    firm.gomez.add_user("morticia", "professional", False)
    rc, out, _ = cli(firm.db, "gomez", "users", "audit", "--json", capsys=capsys)
    assert rc == 0
    entries = json.loads(out)["entries"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    change = [e for e in entries if e["action"] == "user edit" and e["target"] == "morticia"][-1]
    assert change["user_name"] == "gomez"
    assert (change["before"]["role"], change["after"]["role"]) == ("client", "professional")
    assert (change["before"]["can_edit"], change["after"]["can_edit"]) == (1, 0)
    grants = [e for e in entries if e["action"] == "user grant"]
    assert {(e["target"], e["plan_id"]) for e in grants} >= {("herman", firm.munsters),
                                                             ("morticia", firm.addams)}
    # bob sees the changes of the users of his plans only
    rc, out, _ = cli(firm.db, "bob", "users", "audit", "--json", capsys=capsys)
    assert rc == 0
    assert {e["target"] for e in json.loads(out)["entries"]} == {"bob", "herman"}
    # a removed user's id given to bob's next client does not hand bob the old history
    firm.gomez.add_user("lurch", "professional", True, [firm.addams])
    firm.gomez.remove_user("lurch")
    igor = firm.bob.add_user("igor", "client", False, [firm.munsters])
    lurch_entries = [e for e in firm.gomez.user_audit() if "lurch" in (e.after or e.before or "")]
    assert igor.id in {e.object_id for e in lurch_entries}  # the id was reused
    seen_by_bob = [e for e in firm.bob.user_audit() if e.object_id == igor.id]
    assert seen_by_bob and not any("lurch" in (e.after or e.before or "") for e in seen_by_bob)
    rc, out, _ = cli(firm.db, "gomez", "users", "audit", capsys=capsys)
    assert rc == 0 and "morticia" in out and "client → professional" in out
    rc, out, err = cli(firm.db, "morticia", "users", "audit", capsys=capsys)
    assert rc == 1 and out == "" and "morticia" in err


def test_item3_users_list_and_remove_on_the_command_line(
        firm: Firm, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = cli(firm.db, "gomez", "users", "list", "--json", capsys=capsys)
    assert rc == 0
    assert json.loads(out)["users"] == [
        {"id": 1, "name": "gomez", "role": "advisor", "can_edit": True, "admin": True,
         "plans": []},
        {"id": 2, "name": "morticia", "role": "client", "can_edit": True, "admin": False,
         "plans": [firm.addams]},
        {"id": 3, "name": "bob", "role": "advisor", "can_edit": False, "admin": False,
         "plans": []},
        {"id": 4, "name": "zed", "role": "client", "can_edit": False, "admin": False,
         "plans": []}]
    rc, out, err = cli(firm.db, "bob", "users", "remove", "morticia", "--yes",
                         capsys=capsys)
    assert rc == 1 and "bob" in err
    rc, out, err = cli(firm.db, "gomez", "users", "remove", "gomez", "--yes",
                         capsys=capsys)
    assert rc == 2 and "last administrator" in err
    rc, out, err = cli(firm.db, "gomez", "users", "remove", "Morticia", "--yes",
                         capsys=capsys)
    assert rc == 0, err
    rc, out, err = cli(firm.db, "morticia", "plan", "list", capsys=capsys)
    assert rc == 1 and "unknown user" in err
    rc, out, err = cli(firm.db, "gomez", "users", "add", "zed", "--role", "client", "--admin",
                       capsys=capsys)
    assert rc == 2 and "advisor" in err


# ------------------------------------------------------------------ upgrade


def test_item3_an_upgraded_database_gets_its_first_advisor_as_administrator(
        tmp_path: Path) -> None:
    """A database from before item 3 (schema 2): the lowest-id advisor becomes the one
    administrator, who can then grant more; nobody else changes."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    conn.executemany("INSERT INTO users (name, role, can_edit, created_at) VALUES (?,?,?,?)",
                     [("carl", "client", 0, "t"), ("alice", "advisor", 1, "t"),
                      ("bob", "advisor", 1, "t")])
    conn.commit()
    migrate(conn)
    rows: list[Any] = conn.execute("SELECT name, role, is_admin FROM users ORDER BY id").fetchall()
    assert rows == [("carl", "client", 0), ("alice", "advisor", 1), ("bob", "advisor", 0)]
    conn.close()


def test_item3_a_refused_new_advisor_is_told_why(firm: Firm,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A new user of an advisor who is not an administrator: "bob users add alice --role
    advisor" is refused for the role it asks for, not for a missing --plan (which would send
    bob to add a plan and be refused again)."""
    rc, _, err = cli(firm.db, "bob", "users", "add", "alice", "--role", "advisor",
                     capsys=capsys)
    assert rc == 1 and "may not make advisors" in err, err
    rc, _, err = cli(firm.db, "bob", "users", "add", "igor", "--role", "client", capsys=capsys)
    assert rc == 1 and "at least one of their plans" in err, err


def test_item3_a_demoted_advisor_who_still_owns_a_plan_is_an_administrators(
        tmp_path: Path) -> None:
    """Adversary: advisor bob, not an administrator, gives edit rights to carl, a departed
    advisor the administrator demoted to professional (as `users remove` advises) who still
    owns his old plan and holds a grant on bob's: carl would then edit a plan that is not
    bob's. Who a user reaches counts the plans they own, not only their grants."""
    db = tmp_path / "plantech.db"
    admin = Workspace.open(db, "gomez")
    admin.add_user("bob", "advisor")
    admin.add_user("carl", "advisor")
    Workspace.open(db, "carl").create_plan("Carl's", ["X"])
    bobs = Workspace.open(db, "bob").create_plan("Bob's", ["Y"]).id
    admin.add_user("carl", "professional", False, [bobs])
    with pytest.raises(PermissionDenied, match="not a user of your plans alone"):
        Workspace.open(db, "bob").add_user("carl", "professional", True)
    with pytest.raises(PermissionDenied):
        Workspace.open(db, "bob").remove_user("carl")
    assert role_of(admin, "carl") == ("professional", False, False)


@pytest.mark.parametrize("name", ["bob\u200b", "b\u202eob", "bo\x1bb", "\u2060bob"])
def test_item3_a_new_user_name_cannot_look_like_another(tmp_path: Path, name: str) -> None:
    """Adversary: an advisor creating a client "bob" + a zero-width or bidi character, shown
    in lists and audit logs exactly like advisor bob. Refused (exit 2 in the CLI); nothing
    is created."""
    db = tmp_path / "plantech.db"
    admin = Workspace.open(db, "gomez")
    plan = admin.create_plan("Addams", ["Gomez Addams"]).id
    admin.add_user("bob", "advisor")
    with pytest.raises(ValidationFailed, match="invisible"):
        admin.add_user(name, "client", False, [plan])
    assert [u.name for u, _ in admin.list_users()] == ["gomez", "bob"]
