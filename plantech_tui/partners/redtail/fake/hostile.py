"""A hostile Redtail's text: names and companies that try to command the terminal or the TUI.

`hostile_data()` is the demo dataset with Gomez Addams (101) and some of his accounts
renamed: terminal escapes (OSC 0 title, OSC 52 clipboard write, CSI clear screen, 8-bit CSI
and OSC), bidi overrides, Textual markup (``[/]``, ``[@click=app.quit]``) and, with `huge`,
a 10 MB company name. Tests pull it over loopback and look at what is stored and printed.
"""

from __future__ import annotations

from .dataset import FakeData, load_demo_data

__all__ = ["HOSTILE_COMPANIES", "HOSTILE_FIRST_NAME", "HUGE_ACCOUNT", "hostile_data"]

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # "echo pwned" into the clipboard
CSI_CLEAR = "\x1b[2J\x1b[H"
C1_CSI = "\x9b31m"
C1_OSC = "\x9d0;c1\x9c"
BIDI = "\u202egnp.exe\u202c"

HOSTILE_FIRST_NAME = f"Go{OSC_TITLE}mez{BIDI}"
HOSTILE_COMPANIES: dict[int, str] = {
    5001: f"Fidelity{OSC_CLIPBOARD}",
    5002: f"Charles{CSI_CLEAR} Schwab\tInc\n",
    5003: f"Allianz{C1_CSI} Life{C1_OSC}",
    5006: "Ally [/] Bank",
    5008: "Vanguard [@click=app.quit]quit[/]",
}
HUGE_ACCOUNT = 5005  # Northern Trust: its company becomes 10 MB with `huge`


def hostile_data(*, huge: bool = False) -> FakeData:
    data = load_demo_data()
    data.contacts[101].first_name = HOSTILE_FIRST_NAME
    data.contacts[101].last_name = "Addams\x1b[2J"
    for account_id, company in HOSTILE_COMPANIES.items():
        data.update_account(account_id, company=company)
    if huge:
        # 10 MB (decimal): its page stays under the client's 10 MiB response cap (item 6),
        # so the field itself reaches the parser and is cut there
        data.update_account(HUGE_ACCOUNT, company="Northern Trust " + "X" * 10_000_000)
    return data
