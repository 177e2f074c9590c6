"""The records the Redtail client returns, parsed leniently (REDTAIL_API.md).

Every model ignores unknown fields. Every text field is one clean line (`domain.text`): no
control character, no bidi override, at most ``TEXT_CAP`` characters; an account says which of
its fields were cut (`truncated`), for the refresh report. Ids are accepted as int or numeric string; text fields accept
null (→ "" or None) and scalars; a balance is a decimal string, an int, a Decimal (JSON parsed
with ``parse_float=Decimal``) or null, and becomes cents via `to_money_or_none`. Only the fields
whose garbage would corrupt data (ids, balance) are strict; the rest fall back to None.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from plantech_tui.domain.money import MoneyError, to_money_or_none
from plantech_tui.domain.text import TEXT_CAP, clean_line, clean_line_cut

__all__ = [
    "AuthResult",
    "ContactFamily",
    "FamilyMember",
    "LookupItem",
    "RedtailAccount",
    "RedtailContact",
    "coerce_id",
]

_DIGITS = re.compile(r"\s*\d+\s*", re.ASCII)  # "١" or "１" is not an id


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def coerce_id(value: object) -> int:
    """An id as Redtail sends it: an int, a numeric string, or an integral Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"not an id: {_short(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueError(f"not an id: {_short(value)}")


def _opt_id(value: object) -> int | None:
    """An optional reference id: null, "" and garbage all mean "none" (lenient)."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return coerce_id(value)
    except ValueError:
        return None


def _required_id(value: object) -> int:
    return coerce_id(value)


def _text(value: object) -> str:
    """Text that may be null or a scalar: null → "", numbers → their digits."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return str(value)
    if isinstance(value, dict):
        return _text(value.get("name"))
    return ""


def _opt_text(value: object) -> str | None:
    """Optional text: null stays None; an object with a "name" gives its name."""
    if value is None:
        return None
    if isinstance(value, dict):
        name = value.get("name")
        return None if name is None else _text(name)
    if isinstance(value, str | int | Decimal):
        return _text(value)
    return None


def _is_clean(value: object) -> bool:
    # the common case, checked in line: a short printable str, trimmed, single spaces
    return (type(value) is str and len(value) <= TEXT_CAP and value.isprintable()
            and "  " not in value and value.strip() is value)


def _clean_text(value: object) -> str:
    if _is_clean(value):
        return value  # type: ignore[return-value]
    return clean_line(_text(value))


def _clean_opt_text(value: object) -> str | None:
    if _is_clean(value):
        return value  # type: ignore[return-value]
    text = _opt_text(value)
    return None if text is None else clean_line(text)


def _number(value: object) -> str:
    """An account number: only its last 4 characters are ever kept, so its tail is."""
    return clean_line(_text(value)[-1000:], None)[-64:]


def _clean_emails(value: object) -> list[str]:
    return [clean_line(e) for e in _emails(value)[:100]]


def _opt_bool(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value != 0
    if isinstance(value, str):
        low = value.strip().lower()
        if low in {"true", "t", "yes", "y", "1"}:
            return True
        if low in {"false", "f", "no", "n", "0"}:
            return False
    return None


def _flag(value: object) -> bool:
    return bool(_opt_bool(value))


def _balance(value: object) -> Decimal | None:
    try:
        return to_money_or_none(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _emails(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    out: list[str] = []
    for item in value:
        if isinstance(item, str):
            address = item
        elif isinstance(item, dict):
            raw = item.get("address", item.get("email_address", item.get("email")))
            address = raw if isinstance(raw, str) else ""
        else:
            address = ""
        if address.strip():
            out.append(address.strip())
    return out


Id = Annotated[int, BeforeValidator(_required_id)]
OptId = Annotated[int | None, BeforeValidator(_opt_id)]
Text = Annotated[str, BeforeValidator(_clean_text)]
OptText = Annotated[str | None, BeforeValidator(_clean_opt_text)]
Number = Annotated[str, BeforeValidator(_number)]
OptBool = Annotated[bool | None, BeforeValidator(_opt_bool)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Money = Annotated[Decimal | None, BeforeValidator(_balance)]
Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
Emails = Annotated[list[str], BeforeValidator(_clean_emails)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _join_name(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


class RedtailContact(_Lenient):
    id: Id
    first_name: Text = ""
    middle_name: Text = ""
    last_name: Text = ""
    nickname: Text = ""
    full_name: Text = ""
    type: OptText = None
    emails: Emails = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _fill_full_name(cls, data: Any) -> Any:
        # Missing full_name: from the parts, or a business contact's company_name / name.
        if not isinstance(data, dict) or _text(data.get("full_name")).strip():
            return data
        name = _join_name(
            _text(data.get("first_name")),
            _text(data.get("middle_name")),
            _text(data.get("last_name")),
        )
        if not name:
            for key in ("company_name", "name"):
                if _text(data.get(key)).strip():
                    name = _text(data.get(key)).strip()
                    break
        return {**data, "full_name": name}


_CAPPED_ACCOUNT_FIELDS = ("company", "account_type", "product", "status")
CappedField = Literal["company", "account_type", "product", "status"]
_TRUNCATED_KEY = "\x00plantech_truncated"  # no Redtail field: Redtail cannot set it


class RedtailAccount(_Lenient):
    id: Id
    contact_id: OptId = None
    number: Number = ""
    company: OptText = None
    balance: Money = None
    account_type: OptText = None
    account_type_id: OptId = None
    taxqualified: OptBool = None
    taxqualified_type: OptId = None
    product: OptText = None
    status: OptText = None
    deleted: Flag = False
    updated_at: Timestamp = None
    # the text fields cut to TEXT_CAP characters: set by _cap_text, never read from Redtail
    truncated: tuple[CappedField, ...] = Field(default=(), validation_alias=_TRUNCATED_KEY)

    @model_validator(mode="before")
    @classmethod
    def _cap_text(cls, data: Any) -> Any:
        # which text fields are too long, noted before the field validators cut them
        if not isinstance(data, dict):
            return data
        cut: list[str] = []
        for key in _CAPPED_ACCOUNT_FIELDS:
            value = data.get(key)
            if value is None or (type(value) is str and len(value) <= TEXT_CAP):
                continue
            text = _opt_text(value)
            if text is not None and len(text) > TEXT_CAP:
                cleaned, was_cut = clean_line_cut(text)
                if was_cut:
                    if not cut:
                        data = dict(data)
                    data[key] = cleaned
                    cut.append(key)
        if _TRUNCATED_KEY in data or cut:
            data = {**data, _TRUNCATED_KEY: tuple(cut)}
        return data


class FamilyMember(_Lenient):
    contact_id: Id
    name: Text = ""
    first_name: Text = ""
    last_name: Text = ""
    relationship: OptText = None
    hoh: OptBool = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        if out.get("contact_id") is None and "id" in out:
            out["contact_id"] = out["id"]
        if not _text(out.get("name")).strip():
            for key in ("full_name", "contact_name"):
                if _text(out.get(key)).strip():
                    out["name"] = out[key]
                    break
            else:
                out["name"] = _join_name(_text(out.get("first_name")), _text(out.get("last_name")))
        if out.get("relationship") is None:
            out["relationship"] = out.get("relationship_name", out.get("relationship_type"))
        if out.get("hoh") is None and "head_of_household" in out:
            out["hoh"] = out["head_of_household"]
        return out


class ContactFamily(_Lenient):
    id: OptId = None
    name: Text = ""
    members: list[FamilyMember] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_members(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("members") is None:
            return {**data, "members": []}
        return data


class LookupItem(_Lenient):
    id: Id
    name: Text = ""


class AuthResult(_Lenient):
    """The answer to a login. `user_key` is secret: it is left out of repr and str."""

    user_key: str = Field(repr=False, min_length=1)
    redtail_user_id: OptId = None
    redtail_database_id: OptId = None
