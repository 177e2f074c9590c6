"""Money is Decimal, quantized to cents with banker's rounding; never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
LIMIT = Decimal(10) ** 15  # |balance| < 10^15 (SPEC §3)
OUT_OF_RANGE = "amount out of range (must be less than 10^15 in size)"


class MoneyError(ValueError):
    pass


# What a person or Redtail writes for an amount, exactly (ASCII only): a sign before or after
# one optional "$"; digits, with commas only between groups of three ("1,234,567"); an
# optional fraction (any length: rounded half-even to cents); and, in the machine form without
# commas, an exponent ("1E+2", as str(Decimal) writes it). Nothing else: no parentheses for
# negatives, no spaces inside, no "_", no other digits.
_AMOUNT = re.compile(r"""
    (?P<sign>[+-]?)\$?(?P<sign2>[+-]?)
    (?:(?P<plain>[0-9]+)|(?P<grouped>[0-9]{1,3}(?:,[0-9]{3})+))?
    (?:\.(?P<frac>[0-9]*))?
    (?P<exp>[eE][+-]?[0-9]+)?
""", re.VERBOSE | re.ASCII)


def _parse_text(value: str) -> Decimal:
    text = value.strip()
    if not text:
        raise MoneyError("an amount is required")
    shown = repr(text[:40])
    m = _AMOUNT.fullmatch(text)
    if (m is None or (m["sign"] and m["sign2"]) or not (m["plain"] or m["grouped"] or m["frac"])
            or (m["grouped"] and m["exp"])):
        if "(" in text or ")" in text:
            raise MoneyError(f"not an amount: {shown} (write a negative amount with a minus "
                             "sign: -5)")
        if not text.isascii():  # "١", "１", the Arabic decimal separator "٫"…
            raise MoneyError(f"not an amount: {shown} (use the digits 0-9 and a . for decimals)")
        if "," in text:
            raise MoneyError(f"not an amount: {shown} (commas go only between groups of three "
                             "digits: 1,234,567.89)")
        raise MoneyError(f"not an amount: {shown}")
    digits = (m["plain"] or (m["grouped"] or "").replace(",", "") or "0")
    return Decimal(f"{m['sign'] or m['sign2']}{digits}.{m['frac'] or '0'}{m['exp'] or ''}")


def to_money(value: object) -> Decimal:
    """Parse a user or API value into cents. Accepts Decimal, int, and text in the grammar of
    `_AMOUNT` ("$1,234.5", "-3", "-$1,234.50", "1E+2").

    Floats are refused: a float has already lost the exact value.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"not an exact amount: {value!r}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        d = _parse_text(value)
    else:
        raise MoneyError(f"not an amount: {type(value).__name__}")
    if not d.is_finite():
        raise MoneyError(f"not an amount: {value!r}")
    # adjusted() is the exponent of the leading digit: no arithmetic, so no decimal.Overflow
    # however large the exponent ("1e1000000")
    if not d.is_zero() and d.adjusted() >= 15:
        raise MoneyError(OUT_OF_RANGE)
    q = d.quantize(CENT, rounding=ROUND_HALF_EVEN)
    if abs(q) >= LIMIT:  # 999999999999999.995 rounds up to 10^15
        raise MoneyError(OUT_OF_RANGE)
    return _no_negative_zero(q)


def _no_negative_zero(q: Decimal) -> Decimal:
    """-0.004 rounds to -0.00; nobody wants to see "-0.00"."""
    return q.copy_abs() if q.is_zero() else q


def to_money_or_none(value: object) -> Decimal | None:
    """Like `to_money`, but None (or an empty string) is an unknown balance."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_money(value)


def money_str(value: Decimal | None) -> str | None:
    """The JSON/CSV form: a plain decimal with two places ("1234.50")."""
    if value is None:
        return None
    return f"{_no_negative_zero(value.quantize(CENT, rounding=ROUND_HALF_EVEN)):f}"


def money_display(value: Decimal | None, unknown: str = "unknown") -> str:
    """The TUI form: $1,234.50 (negative as -$1,234.50)."""
    if value is None:
        return unknown
    q = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if q < 0 else ""
    return f"{sign}${abs(q):,.2f}"
