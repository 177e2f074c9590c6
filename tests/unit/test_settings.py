"""Typed settings (issue 11): one pydantic model over config.toml, read once and kept.

Adversary: an operator hand-editing config.toml — a typo (`asci = true`, `[uix]`) that used to
pass in silence, a string where a boolean belongs — and an environment that sets what the
file says otherwise. Each mistake is one line naming the file, the line and the key; doctor
fails with the same words; the environment's PLANTECH_ names override the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plantech_tui import config
from plantech_tui.doctor import check_config
from plantech_tui.domain.errors import UsageError


@pytest.fixture
def cfg(isolated_env: Path) -> Path:
    path = isolated_env / ".config" / "plantech" / "config.toml"
    path.parent.mkdir(parents=True)
    config.reset()
    return path


@pytest.mark.parametrize(("body", "said"), [
    ("[ui]\nasci = true\n", "line 2: unknown key ui.asci (known in [ui]: ascii, theme)"),
    ("[redtail]\napi_key = 'k'\nenviroment = 'Sandbox'\n",
     "line 3: unknown key redtail.enviroment (known in [redtail]: api_key, environment)"),
    ("[uix]\nascii = true\n", "line 1: unknown table [uix] (known: redtail, ui, keys)"),
    ("[ui]\nascii = \"no\"\n", "line 2: ui.ascii must be true or false"),
    ("[ui]\ntheme = 3\n", "line 2: ui.theme must be a string"),
    ("[keys]\nignore = 5\n", 'line 2: [keys] ignore must be a key as a string, or keys '
                             'separated by commas ("x" or "x,ctrl+x")'),
    ("keys = 'x'\n", "line 1: keys must be a table ([keys])"),
])
def test_a_mistake_in_the_file_is_one_line_naming_key_and_line(cfg: Path, body: str,
                                                                 said: str) -> None:
    """`ascii = "no"` once turned ASCII *on*; a misspelt key was ignored. Now each is refused
    with where it is, and doctor says the same."""
    cfg.write_text(body, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        config.settings()
    assert caught.value.message == f"{cfg}: {said}"
    check = check_config()
    assert check.status == "fail" and check.detail == f"{cfg}: {said}"


def test_the_file_is_typed_and_the_environment_overrides_it(
        cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg.write_text('[ui]\nascii = false\ntheme = "nord"\n[redtail]\napi_key = "from-file"\n'
                   '[keys]\nignore = "x"\n', encoding="utf-8")
    s = config.settings()
    assert (s.ui.ascii, s.ui.theme, s.redtail.api_key, s.keys) == (
        False, "nord", "from-file", {"ignore": "x"})
    monkeypatch.setenv("PLANTECH_UI__ASCII", "yes")
    monkeypatch.setenv("PLANTECH_REDTAIL__API_KEY", "from-env")
    assert config.settings().ui.ascii is True and config.ascii_icons() is True
    assert config.default_api_key() == "from-env"
    monkeypatch.delenv("PLANTECH_UI__ASCII")
    monkeypatch.setenv("PLANTECH_ASCII", "1")  # the older name still works
    assert config.settings().ui.ascii is True
    monkeypatch.setenv("PLANTECH_ASCII", "maybe")
    with pytest.raises(UsageError, match="PLANTECH_ASCII must be 1 or 0"):
        config.settings()


def test_the_file_is_read_once_until_it_changes(cfg: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The icons ask on every pull-status change: that must not parse the file each time."""
    cfg.write_text("[ui]\nascii = true\n", encoding="utf-8")
    parsed = []
    loads = config.tomllib.loads

    def counting(text: str) -> object:
        parsed.append(text)
        return loads(text)

    monkeypatch.setattr(config.tomllib, "loads", counting)
    for _ in range(50):
        assert config.ascii_icons() is True
    assert len(parsed) == 1
    cfg.write_text("[ui]\nascii = false  # changed, and longer\n", encoding="utf-8")
    assert config.ascii_icons() is False
    assert len(parsed) == 2


def test_config_moves_with_plantech_config(isolated_env: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = isolated_env / "elsewhere.toml"
    elsewhere.write_text('[ui]\ntheme = "dracula"\n', encoding="utf-8")
    monkeypatch.setenv("PLANTECH_CONFIG", str(elsewhere))
    assert config.settings().ui.theme == "dracula"
