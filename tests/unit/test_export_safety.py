"""Issue 10, item 1 on the command line and in the core: `export --csv FILE` never writes
through a link, `--csv -` is stdout, the SSH forced command of plantech_tui/docs/DEPLOY.md lets exactly
`export N --csv -` through, and who may export what follows the role matrix (SPEC §1)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
from pathlib import Path

import pytest

from plantech_tui.domain.errors import PermissionDenied
from plantech_tui.service.workspace import Workspace
from tests.helpers import make_big_plan

from . import test_cli
from .test_cli import World

cli, world = test_cli.cli, test_cli.world  # the fixtures of test_cli (a CLI run in-process)

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ CLI: links, stdout


@pytest.mark.parametrize("force", [False, True], ids=["without --force", "with --force"])
def test_item1_cli_export_never_writes_through_a_link(world: World, tmp_path: Path,
                                                      force: bool) -> None:
    """Adversary: someone who planted `plan.csv` as a link to the database (and `new.csv` as a
    link to a file that does not exist yet) where a user exports. Refused in one line, exit 1,
    with or without --force: the database keeps its bytes and no file appears at the target."""
    db = world.cli.db
    before = db.read_bytes()
    (tmp_path / "plan.csv").symlink_to(db)
    (tmp_path / "new.csv").symlink_to(tmp_path / "created-through-the-link.csv")
    extra = ["--force"] if force else []
    for name in ("plan.csv", "new.csv"):
        r = world.cli("export", "1", "--csv", str(tmp_path / name), *extra)
        assert r.rc == 1, r
        assert "symbolic link" in r.err and str(tmp_path / name) in r.err
        assert r.out == ""
    assert db.read_bytes() == before
    assert not (tmp_path / "created-through-the-link.csv").exists()
    assert Workspace.open(db, "alice").plan(1).name == "Addams Family"


def test_item1_cli_export_dash_is_stdout(world: World, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`--csv -` is stdout, exactly as `--csv` alone (SPEC §5): nothing named "-" is created."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    plain = world.cli("export", "1", "--csv")
    dash = world.cli("export", "1", "--csv", "-")
    assert dash.rc == 0 and dash.out == plain.out and dash.out.startswith("state,")
    assert world.cli("export", "1", "--csv", "-", "--json").json()["csv"] == plain.out
    assert list(cwd.iterdir()) == []


def test_cli_export_to_a_new_file_is_private(world: World, tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    assert world.cli("export", "1", "--csv", str(target)).rc == 0
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert target.read_text(encoding="utf-8").startswith("state,")


# ------------------------------------------------------------------ the core's file rules


@pytest.mark.parametrize("name", [
    "", " ", ".", "..", "../../credentials.json", "/var/lib/plantech/plantech.db", "a/b.csv",
    "a\\b.csv", "a\x00b.csv", "a\nb.csv", "a\x1b]0;x\x07.csv", "a\x9bb.csv", "a\u202eb.csv",
    "x" * 201,
])
def test_item1_only_a_plain_file_name_is_accepted(name: str, tmp_path: Path) -> None:
    """Adversary: a professional typing a path, a parent directory, or escapes as the name."""
    from plantech_tui.domain.errors import ValidationFailed
    from plantech_tui.service.export import save_export

    folder = tmp_path / "exports" / "lurch"
    with pytest.raises(ValidationFailed) as refused:
        save_export(folder, name, "state\n")
    assert refused.value.field == "path" and "file name" in refused.value.message
    assert not (tmp_path / "exports").exists() or list(folder.iterdir()) == []


def test_save_export_picks_a_new_name_and_never_overwrites(tmp_path: Path) -> None:
    from plantech_tui.service.export import save_export

    folder = tmp_path / "exports" / "lurch"
    first = save_export(folder, "plan-1-addams.csv", "one\n")
    (folder / "plan-1-addams-2.csv").symlink_to(tmp_path / "elsewhere.csv")
    second = save_export(folder, "plan-1-addams.csv", "two\n")
    third = save_export(folder, "notes", "three\n")
    assert (first.name, second.name, third.name) == (
        "plan-1-addams.csv", "plan-1-addams-3.csv", "notes")
    assert first.read_text() == "one\n" and second.read_text() == "two\n"
    assert not (tmp_path / "elsewhere.csv").exists()
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)


def test_a_browser_is_offered_a_plain_ascii_name() -> None:
    from plantech_tui.domain.errors import ValidationFailed
    from plantech_tui.service.export import download_name

    assert download_name("plan-1-addams.csv") == "plan-1-addams.csv"
    assert download_name("Pugsley’s plan; x=1.csv") == "Pugsley-s-plan-x-1.csv"
    assert download_name("¥¥¥") == "export.csv"
    with pytest.raises(ValidationFailed):
        download_name("a\r\nSet-Cookie: x.csv")


def test_the_export_folder_name_is_safe_for_any_user_name(tmp_path: Path) -> None:
    from plantech_tui.service.export import export_folder

    base = tmp_path / "data"
    assert export_folder("Lurch", 7, base) == base / "exports" / "lurch"
    assert export_folder("@ops.team-1", 7, base) == base / "exports" / "@ops.team-1"
    for odd in ("..", ".", "Gomez Addams", "a/b", "-rf", "x" * 100):
        folder = export_folder(odd, 7, base)
        assert folder.parent == base / "exports" and folder.name == "user+7", odd


# ------------------------------------------------------------------ the SSH forced command


def forced_command(tmp_path: Path) -> tuple[Path, Path]:
    """plantech_tui/docs/DEPLOY.md's plantech-ssh, with its fixed paths moved under tmp_path and plantech
    replaced by a stand-in that prints the arguments it was given, one per line."""
    text = (ROOT / "plantech_tui" / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    match = re.search(r"cat > /usr/local/bin/plantech-ssh <<'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert match, "plantech_tui/docs/DEPLOY.md has no plantech-ssh script"
    script = match.group(1)
    keys, stand_in = tmp_path / "authorized_keys", tmp_path / "plantech"
    for old, new in (("/etc/plantech/authorized_keys", str(keys)),
                     ("/opt/plantech/venv/bin/plantech", str(stand_in)),
                     ("/etc/plantech/maintenance", str(tmp_path / "maintenance"))):
        assert old in script
        script = script.replace(old, new)
    keys.write_text("restrict,pty ssh-ed25519 AAAAC3alice alice-key plantech-user=alice\n")
    stand_in.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
    stand_in.chmod(0o755)
    auth = tmp_path / "auth"
    auth.write_text("publickey ssh-ed25519 AAAAC3alice\n")
    path = tmp_path / "plantech-ssh"
    path.write_text(script)
    path.chmod(0o755)
    return path, auth


@pytest.mark.parametrize(("asked", "runs"), [
    ("export 1 --csv -", ["--user", "alice", "export", "1", "--csv", "-"]),
    ("export 1234 --csv -", ["--user", "alice", "export", "1234", "--csv", "-"]),
    ("export 1 --csv /var/lib/plantech/plantech.db", None),
    ("export 1 --csv ../credentials.json --force", None),
    ("export 1 --csv - --user bob", None),
    ("export 1 --user bob --csv -", None),
    ("export 1 2 --csv -", None),
    ("export 1  --csv -", None),
    ("export -1 --csv -", None),
    ("export 1; sh --csv -", None),
    ("export $(id) --csv -", None),
    ("export * --csv -", None),
    ("export  --csv -", None),
    ("export 1 --csv", None),
    ("export 1 --csv - --json", None),
])
def test_item1_ssh_forced_command_lets_only_export_to_stdout_through(
        tmp_path: Path, asked: str, runs: list[str] | None) -> None:
    """Adversary: an SSH user who asks the forced command for an export into a server path, or
    slips another user or another argument in. Only `export DIGITS --csv -` runs, as the
    key's user."""
    script, auth = forced_command(tmp_path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_USER_AUTH": str(auth),
           "SSH_ORIGINAL_COMMAND": asked}
    result = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True,
                            timeout=30, cwd=tmp_path)
    if runs is None:
        assert result.returncode == 1, result
        assert result.stdout == ""
        assert result.stderr.startswith("plantech: error: not allowed over SSH")
    else:
        assert result.returncode == 0, result
        assert result.stdout.splitlines() == runs


def test_ssh_forced_command_still_allows_what_it_allowed(tmp_path: Path) -> None:
    script, auth = forced_command(tmp_path)
    for asked, runs in (("plan list", ["--user", "alice", "plan", "list"]),
                        ("", ["--user", "alice"])):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_USER_AUTH": str(auth),
               "SSH_ORIGINAL_COMMAND": asked}
        result = subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True,
                                text=True, timeout=30)
        assert result.stdout.splitlines() == runs, result


# ------------------------------------------------------------------ who may export what


@pytest.mark.parametrize("role", ["professional", "client"])
def test_item1_export_follows_the_role_matrix_in_the_core(db_path: Path, role: str) -> None:
    """Adversary: a professional or client calling the core directly (the Python API every
    front end uses) for the audit log's export, or for staged rows. The plan's export carries
    only the accounts they can see; the audit log's entries (advisor only) are refused."""
    ids = make_big_plan(db_path, 3)
    plan = ids["plan_id"]
    advisor = Workspace.open(db_path, "advisor")
    advisor.add_user("lurch", role, True, [plan])
    entry_ids = advisor.audit_keys(plan)
    assert entry_ids  # there is something to steal
    other = make_big_plan(db_path, 2, name="Not shared")["plan_id"]
    advisor.close()
    ws = Workspace.open(db_path, "lurch")
    assert {r["state"] for r in ws.export_rows(plan)} == {"account"}
    for call in (lambda: ws.audit_entries(plan, entry_ids), lambda: ws.audit_keys(plan),
                 lambda: ws.audit_search(plan)):
        with pytest.raises(PermissionDenied):
            call()
    from plantech_tui.domain.errors import NotFound

    with pytest.raises(NotFound):
        ws.export_rows(other)
    ws.close()


def test_the_csv_rules_live_in_the_core() -> None:
    """The CLI and the TUI write the same document from one module (no screen imports cli)."""
    from plantech_tui.service.export import CSV_COLUMNS, csv_safe, csv_text

    text = csv_text([{c: "" for c in CSV_COLUMNS} | {"description": "=1+1"}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["description"] == "'=1+1" and csv_safe("@x") == "'@x"
    source = (ROOT / "plantech_tui" / "screens" / "export.py").read_text(encoding="utf-8")
    assert "..cli" not in source


# ------------------------------------------------------------------ in a browser


def test_item1_export_under_serve_is_a_browser_download(tmp_path: Path) -> None:
    """Adversary: a professional using `plantech serve` who types the database's path as the
    name. Refused like in a terminal; a plain name becomes a browser download (textual-serve's
    /download/KEY, from App.deliver_text) and nothing is written on the server, not even in
    their export folder. Real processes on loopback; the browser's side is aiohttp's websocket
    client speaking textual-serve's protocol, as in tests/unit/test_serve.py."""
    import asyncio
    import json
    import time

    import aiohttp

    from tests.unit.test_serve import ANSI, page_url, start_serve, stop_serve

    data = Path(os.environ["XDG_DATA_HOME"]) / "plantech"
    data.mkdir(parents=True)
    db = data / "plantech.db"
    plan = make_big_plan(db, 3, name="Addams Family")["plan_id"]
    ws = Workspace.open(db, "advisor")
    ws.add_user("lurch", "professional", False, [plan])
    ws.close()
    before = db.read_bytes()
    proc, url, log = start_serve(tmp_path, "--db", str(db), "--user", "lurch")

    async def browse() -> tuple[str, str]:
        # as a browser: the printed URL's token becomes the page's cookie, which the
        # websocket and the download carry (issue 10 item 2)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(page_url(url)) as page:
                assert page.status == 200
            async with session.ws_connect(f"{url.replace('http', 'ws', 1)}/ws?width=120"
                                          "&height=30", origin=url) as tab:
                return await in_tab(session, tab)

    async def in_tab(session: aiohttp.ClientSession,
                     tab: aiohttp.ClientWebSocketResponse) -> tuple[str, str]:
        deadline = time.monotonic() + 60
        seen, keys = "", []

        async def wait_for(text: str) -> None:
            nonlocal seen
            while text not in ANSI.sub("", seen):
                left = deadline - time.monotonic()
                assert left > 0, f"{text!r} never showed:\n{ANSI.sub('', seen)[-2000:]}"
                try:
                    msg = await tab.receive(timeout=left)
                except TimeoutError:
                    raise AssertionError(f"{text!r} never showed:\n"
                                         f"{ANSI.sub('', seen)[-2000:]}") from None
                if msg.type == aiohttp.WSMsgType.BINARY:
                    seen += msg.data.decode("utf-8", "replace")
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    doc = json.loads(msg.data)
                    if doc[0] == "deliver_file_start":
                        keys.append(doc[1])
                        seen += "\x00delivered\x00"
                else:
                    raise AssertionError(f"the tab closed:\n{ANSI.sub('', seen)[-2000:]}")

        async def press(key: str, then: str) -> None:
            nonlocal seen
            seen = ""
            await tab.send_json(["stdin", key])
            await wait_for(then)

        await wait_for("Addams Family")
        await tab.send_json(["focus"])
        await press("\r", "Investment Assets")
        await press("e", "Your browser downloads the file.")
        # the field's text is selected (on focus, and again after an error): typing
        # replaces it
        await press(str(db) + "\r", "give a file name only")
        assert keys == []
        await press("mine.csv\r", "\x00delivered\x00")
        async with aiohttp.ClientSession() as stranger, stranger.get(
                f"{url}/download/{keys[0]}") as refused:  # no cookie, no token
            assert refused.status == 403
        async with session.get(f"{url}/download/{keys[0]}") as got:
            assert got.status == 200
            disposition = got.headers["Content-Disposition"]
            body = await got.text()
        return disposition, body

    try:
        disposition, body = asyncio.run(browse())
    finally:
        code = stop_serve(proc, timeout=15)
    assert code == 0, log.read_text()
    assert disposition == "attachment; filename=mine.csv"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and {r["state"] for r in rows} == {"account"}
    assert db.read_bytes() == before
    assert not (data / "exports").exists()
