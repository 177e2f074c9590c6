"""The command line reads like gh (issue 12 item 4): help for every argument, EXAMPLES for every
command, exit codes and environment in `plantech --help`, shell completion, --quiet/--verbose,
`fake-redtail --json`, and a sync error that names the integration and the list that failed."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plantech_tui import completion
from plantech_tui.cli import build_parser, main
from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeRedtailServer,
    load_demo_data,
)
from tests.conftest import need_tool

ROOT = Path(__file__).resolve().parents[2]
PLANTECH = Path(sys.executable).with_name("plantech")

# read by the code, but not a user's to set: the test harness's plumbing, and PLANTECH_DEMO_*,
# which `plantech demo` sets for the app it starts
INTERNAL_ENV = {"PLANTECH_TEST_PHASES"}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
         ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command line with its command path (() is `plantech` itself)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*path, name))


def test_every_argument_has_help_and_every_command_has_examples() -> None:
    """A new user reading `plantech users add --help` finds what each option means and a line
    to copy: no argument of any command is bare, and no command lacks an EXAMPLES epilog."""
    bare: list[str] = []
    no_examples: list[str] = []
    parsers = list(walk(build_parser()))
    assert len(parsers) > 25  # the walk reaches the nested actions (plan create, triage add…)
    for path, parser in parsers:
        where = " ".join(("plantech", *path))
        for action in parser._actions:
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                bare.append(f"{where}: {'/'.join(action.option_strings) or action.dest}")
        epilog = parser.epilog or ""
        if not epilog.startswith("examples:\n  ") or " ".join(("plantech", *path[:1])) \
                not in epilog:
            no_examples.append(where)
        assert parser.formatter_class is argparse.RawDescriptionHelpFormatter, where
    assert bare == []
    assert no_examples == []


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_has_exit_codes_and_every_environment_variable(
        capsys: pytest.CaptureFixture[str]) -> None:
    """An operator scripting plantech learns from `--help` alone what 0, 1 and 2 mean and
    which environment variables count: every PLANTECH_* the code reads (found by grepping the
    source, so a new one fails this test until it is documented), plus NO_COLOR."""
    text = _help(capsys)
    exits = text[text.index("exit codes:"):]
    for code in ("0  success", "1  the operation failed", "2  usage"):
        assert f"\n  {code}" in exits
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in (ROOT / "plantech_tui").rglob("*.py"))
    read = {v for v in re.findall(r"\"(PLANTECH_[A-Z_]+)\"", source)
            if v not in INTERNAL_ENV and not v.startswith("PLANTECH_DEMO_")}
    assert {"PLANTECH_DB", "PLANTECH_USER", "PLANTECH_REDTAIL_API_KEY", "PLANTECH_ASCII",
            "PLANTECH_CONFIG", "PLANTECH_CREDENTIALS"} <= read
    environment = text[text.index("environment:"):]
    for var in sorted(read | {"NO_COLOR"}):
        assert re.search(rf"^  {var} ", environment, re.M), var
    # and a command's help shows its examples, verbatim (RawDescriptionHelpFormatter)
    delete = _help(capsys, "account", "delete")
    assert "examples:\n  plantech account delete 1 3\n" in delete
    assert "-y, --yes" in delete


# ------------------------------------------------------------------ completion


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_shipped_completion_is_generated_from_the_parser(
        shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A user who adds `plantech completion bash` to their shell gets every command, including
    the newest: the shipped script is exactly what shtab makes from today's parser (regenerate
    with `python -m plantech_tui.completion`), and `plantech completion` prints it."""
    shipped = completion.script(shell)
    assert shipped == completion.generate(shell), \
        "stale completion script: run python -m plantech_tui.completion"
    for command in ("demo", "fake-redtail", "serve", "sync", "doctor", "integration", "plan",
                    "account", "triage", "export", "users", "completion"):
        assert command in shipped
    for nested in ("search-contacts", "stop-ignoring", "link-contact", "--max-in-flight"):
        assert nested in shipped
    capsys.readouterr()
    assert main(["completion", shell]) == 0
    assert capsys.readouterr().out == shipped
    assert main(["completion", shell, "--json"]) == 0  # --json: one document, like every command
    assert json.loads(capsys.readouterr().out) == {"shell": shell, "script": shipped}


def test_bash_completes_a_subcommand(tmp_path: Path) -> None:
    """Typing `plantech account de<TAB>` in bash offers `delete`; `plantech tr<TAB>` offers
    `triage`."""
    need_tool("bash")
    script = tmp_path / "plantech.bash"
    script.write_text(completion.script("bash"), encoding="utf-8")

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        r = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c",
             f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
             f'COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}; '
             f'_shtab_plantech plantech "{words[-1]}" "{words[-2]}"; '
             'printf "%s\\n" "${COMPREPLY[@]}"'],
            capture_output=True, text=True, timeout=60, check=True)
        return r.stdout.split()

    assert complete("plantech", "account", "de") == ["delete"]
    assert complete("plantech", "tr") == ["triage"]


def test_completion_and_version_never_import_shtab() -> None:
    """Completion costs start-up nothing: shtab is a build-time tool, not imported when
    `plantech completion` or `plantech --version` runs (and not needed installed)."""
    code = ("import sys, io, contextlib\n"
            "from plantech_tui.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['completion', 'zsh']) == 0\n"
            "    try: main(['--version'])\n"
            "    except SystemExit: pass\n"
            "print('shtab' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, check=True)
    assert r.stdout.strip() == "False"


# ------------------------------------------------------------------ --quiet / --verbose


@pytest.fixture
def fake() -> Iterator[FakeRedtailServer]:
    with FakeRedtailServer(load_demo_data()) as server:
        yield server


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db: Path,
         *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    import io

    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    rc = main(["--db", str(db), "--user", "alice", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _connect(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db: Path,
             fake: FakeRedtailServer, *flags: str) -> tuple[int, str, str]:
    return _run(capsys, monkeypatch, db, *flags, "integration", "add", "--base-url",
                fake.base_url, "--username", DEMO_USERNAME, "--password-stdin", "--api-key",
                DEMO_API_KEY, stdin=DEMO_PASSWORD + "\n")


def test_quiet_drops_notices_but_not_errors(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_path: Path,
        fake: FakeRedtailServer) -> None:
    """An operator's cron job with -q gets a silent stderr on success (no "storing credentials
    in a file" notice), but still the one error line when something fails."""
    from plantech_tui.paths import data_dir
    from plantech_tui.sync import credentials

    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")
    creds = data_dir() / "credentials.json"
    rc, out, err = _connect(capsys, monkeypatch, db_path, fake, "--quiet")
    assert rc == 0 and "connected integration 1" in out
    assert creds.exists()  # the file store was set up: the moment of the notice
    assert err == ""
    rc, _, err = _run(capsys, monkeypatch, db_path, "plan", "show", "9", "-q")
    assert rc == 2 and err.startswith("plantech: error: ") and err.count("\n") == 1
    # the same first-time set-up without -q says where the keys go
    creds.unlink()
    credentials.reset_credential_store()
    rc, _, err = _connect(capsys, monkeypatch, db_path, fake)
    assert rc == 0 and "storing credentials in" in err and str(creds) in err


def test_verbose_puts_the_log_on_stderr_without_secrets(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_path: Path,
        fake: FakeRedtailServer) -> None:
    """An operator chasing a slow sync runs `-vv` and sees each Redtail request with its status
    on stderr (never the key or the password, and stdout stays one JSON document); without
    -v nothing of the log reaches the terminal."""
    assert _connect(capsys, monkeypatch, db_path, fake)[0] == 0
    assert _run(capsys, monkeypatch, db_path, "plan", "create", "Addams")[0] == 0
    assert _run(capsys, monkeypatch, db_path, "plan", "link-contact", "1", "--integration",
                "1", "--contact", "101")[0] == 0
    rc, out, err = _run(capsys, monkeypatch, db_path, "sync", "--plan", "1", "--json")
    assert rc == 0 and "GET" not in err
    rc, out, err = _run(capsys, monkeypatch, db_path, "sync", "--plan", "1", "--json", "-vv")
    assert rc == 0 and json.loads(out)["plans"][0]["status"] == "ok"
    assert re.search(r"^plantech: DEBUG plantech\.\S+: GET \S*/contacts/101/accounts\S* -> 200",
                     err, re.M), err
    assert DEMO_API_KEY not in err and DEMO_PASSWORD not in err
    # -v is INFO: the per-request DEBUG lines stay in the file
    rc, out, err = _run(capsys, monkeypatch, db_path, "-v", "sync", "--plan", "1")
    assert rc == 0 and "GET" not in err
    rc, _, err = _run(capsys, monkeypatch, db_path, "-q", "sync", "--plan", "1", "-v")
    assert rc == 2 and "--quiet and --verbose" in err


# ------------------------------------------------------------------ fake-redtail --json


def test_fake_redtail_json_first_line_is_one_document() -> None:
    """A script starting the fake with --json reads its first stdout line as JSON and gets the
    base URL and the login to connect with; the server answers there."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-redtail", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        doc = json.loads(first)
        assert set(doc) == {"base_url", "api_key", "username", "password", "admin_url"}
        assert (doc["api_key"], doc["username"], doc["password"]) == (
            DEMO_API_KEY, DEMO_USERNAME, DEMO_PASSWORD)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/public/v1", doc["base_url"])
        r = httpx.get(doc["admin_url"] + "/state", timeout=30)
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out == ""  # nothing after the one document


def test_fake_redtail_text_mode_still_starts_with_the_base_url() -> None:
    """The existing contract: without --json the first stdout line is the base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "plantech_tui", "fake-redtail"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/public/v1", first)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


# ------------------------------------------------------------------ the lookup-list error


def test_a_lookup_list_failure_names_the_integration_and_the_list(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_path: Path,
        fake: FakeRedtailServer) -> None:
    """Redtail answers garbage: the advisor reads which login's which list failed ("plan 1:
    integration 1 (Redtail, <login>): lookup list account types: …"), not "contact None"."""
    assert _connect(capsys, monkeypatch, db_path, fake)[0] == 0
    assert _run(capsys, monkeypatch, db_path, "plan", "create", "Addams")[0] == 0
    assert _run(capsys, monkeypatch, db_path, "plan", "link-contact", "1", "--integration",
                "1", "--contact", "101")[0] == 0
    fake.set_faults("malformed")
    rc, out, err = _run(capsys, monkeypatch, db_path, "sync", "--plan", "1")
    assert rc == 1
    assert "None" not in out + err
    lookup = f"integration 1 (Redtail, {DEMO_USERNAME}): lookup list account types: "
    assert f"  error: {lookup}" in out
    assert f"plantech: plan 1: {lookup}" in err
    assert "plantech: plan 1: contact 101: " in err  # a contact's error still names it
    fake.set_faults("malformed")
    rc, out, _ = _run(capsys, monkeypatch, db_path, "sync", "--plan", "1", "--json")
    errors = [e for e in json.loads(out)["plans"][0]["errors"]
              if e["redtail_contact_id"] is None]
    assert [e["kind"] for e in errors] == ["bad_response"]
    assert errors[0]["message"].startswith(lookup)
