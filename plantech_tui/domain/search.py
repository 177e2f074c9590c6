"""How the `/` filters of the tables match text.

The filter text is split on whitespace into terms; a row matches when every term appears in
one of its searched fields, with the case of ASCII letters ignored and every other character
compared as it is. That is SQLite's `field LIKE '%term%' ESCAPE '\\'` (store/tables.py filters
that way in SQL), so a table may also filter in memory over the same fields: `fold` both the
term and the row's search text (its fields joined by FIELD_SEP) and test `term in text`.
"""

from __future__ import annotations

# between the fields of a search text: a term never contains whitespace, so it cannot match
# across two fields (nor across two rows, whose texts SQL hands over joined by a newline)
FIELD_SEP = "\t"


def terms(text: str) -> list[str]:
    """The terms of a filter text, folded."""
    return fold(text).split()


def fold(text: str) -> str:
    """ASCII letters in lower case, every other character unchanged (as LIKE compares)."""
    if text.isascii():
        return text.lower()
    # bytes.lower() lowers only the ASCII letters; str.lower() would also fold É, ß, K (Kelvin)
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")
