"""Issue 12 point 6: RecordTable's layout when the terminal is narrower than the table. The
row's name (the `keep` column: "Jackson National 2207", company + last 4) stays whole; other
columns shrink to their floor, then the rightmost are hidden; amounts never shrink; a header
that does not fit shows its short form rather than being cut to nothing."""

from __future__ import annotations

from plantech_tui.widgets.record_table import Column, RecordTable

COLUMNS = [Column("description", "Description", min_width=20, keep=True),
           Column("balance", "Balance", right=True),
           Column("default", "Default type", short="Default"),
           Column("notes", "Notes"),
           Column("type", "Redtail type", short="RT type")]
ROW = ["Jackson National 2207", "$1,250,000.00", "Annuity (Non-Qualified)",
       "balance unknown; joint", "Variable Annuity"]


def widths(width: int, columns: list[Column] = COLUMNS, row: list[str] = ROW) -> list[int]:
    table = RecordTable(columns)
    table._natural = [len(cell) for cell in row]  # what the rows in view measured
    return table._column_widths(width)


def test_wide_enough_every_column_is_natural() -> None:
    """On a wide terminal nothing is cut: each column is as wide as its widest cell."""
    assert widths(200) == [21, 13, 23, 22, 16]


def test_at_80_columns_the_description_and_amount_stay_whole() -> None:
    """An advisor at 80 columns: "Jackson National 2207" and "$1,250,000.00" are whole; the
    text columns shrink (never below their short header) and the layout fits 80."""
    w = widths(80)
    assert w[0] == len("Jackson National 2207") and w[1] == len("$1,250,000.00")
    assert all(x >= len("Default") for x in w[2:])
    assert sum(w) + 2 * sum(1 for x in w if x) <= 80


def test_narrower_still_the_rightmost_columns_are_hidden_not_the_name() -> None:
    """At 50 columns the right-hand columns go (width 0) before the description is cut."""
    w = widths(50)
    assert w[0] == 21 and w[1] == 13
    assert w[-1] == 0 and w[-2] == 0
    assert sum(w) + 2 * sum(1 for x in w if x) <= 50


def test_only_a_name_wider_than_the_terminal_is_cut() -> None:
    """At 20 columns only the description is left, cut to what is there."""
    w = widths(20)
    assert w[1:] == [0, 0, 0, 0] and 0 < w[0] <= 18


def test_a_header_that_does_not_fit_shows_its_short_form() -> None:
    """"Default type" in 8 columns reads "Default", not "Default…" or nothing."""
    column = COLUMNS[2]
    assert column.header(12) == "Default type"
    assert column.header(8) == "Default"
    assert Column("notes", "Notes").header(3) == "Notes"  # no short form: cut when drawn
