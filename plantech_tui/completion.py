"""`plantech completion bash|zsh`: print a completion script generated from the parser.

The scripts are made by shtab (a development dependency, never imported at run time) and
shipped as package data, so completion costs `plantech` nothing at start-up. After changing
the command line, regenerate them:

    python -m plantech_tui.completion

(tests/unit/test_cli_help.py fails while a shipped script is stale).
"""

from __future__ import annotations

from pathlib import Path

SHELLS = ("bash", "zsh")
DATA = Path(__file__).parent / "data" / "completion"


def script(shell: str) -> str:
    """The shipped script for `shell`."""
    from .domain.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r} (bash or zsh)")
    return (DATA / f"plantech.{shell}").read_text(encoding="utf-8")


def generate(shell: str) -> str:
    """A fresh script from the current parser (needs shtab: `pip install -e '.[test]'`)."""
    import shtab

    from .cli import build_parser

    return str(shtab.complete(build_parser(), shell=shell))


def main() -> None:  # pragma: no cover - the maintainer's regeneration step
    DATA.mkdir(parents=True, exist_ok=True)
    for shell in SHELLS:
        (DATA / f"plantech.{shell}").write_text(generate(shell), encoding="utf-8")
        print(DATA / f"plantech.{shell}")


if __name__ == "__main__":  # pragma: no cover
    main()
