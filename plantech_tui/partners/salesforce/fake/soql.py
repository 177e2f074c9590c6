"""The SOQL the fake Salesforce understands, parsed strictly and evaluated over its records.

`SELECT f, … FROM Obj [WHERE c AND c …] [LIMIT n]`; a condition is `F = lit`, `F != lit`,
`F LIKE 'pattern'` or `F IN (lit, …)`; literals are quoted strings (escapes `\\\\ \\' \\" \\n
\\t \\r \\b \\f \\% \\_`, any other backslash is an error), `true`/`false`/`null` and numbers.
Keywords, fields and objects ignore case; records come back with the canonical names. No OR,
no relationship paths, no subqueries, no ORDER BY: the real errors are answered instead
(MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Condition", "Query", "SoqlError", "parse", "run"]

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "b": "\b",
            "f": "\f"}
_LIKE_ESCAPED = {"%": "\x00pct", "_": "\x00und"}  # \% and \_ : literal in LIKE, and in =
_KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "limit", "order",
             "by", "group", "having", "offset", "true", "false", "null", "includes",
             "excludes", "asc", "desc", "nulls"}


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is its errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Literal:
    value: Any  # str, bool, None or Decimal
    quoted: bool
    like: str | None = None  # for a quoted literal: the LIKE regex


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # "=", "!=", "like", "in"
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...]
    limit: int | None


# --------------------------------------------------------------------------- tokens


_TOKEN = re.compile(r"\s*(?:(?P<string>')|(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)"
                    r"|(?P<number>-?\d+(?:\.\d+)?)(?![A-Za-z_])"
                    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<bad>\S))")


def _string(text: str, start: int) -> tuple[Literal, int]:
    """A quoted literal starting after its opening quote at `start`."""
    chars: list[str] = []
    like: list[str] = []
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            value = "".join(chars)
            for marker, literal in (("\x00pct", "%"), ("\x00und", "_")):
                value = value.replace(marker, literal)
            return Literal(value, True, "".join(like)), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                chars.append(_ESCAPES[nxt])
                like.append(re.escape(_ESCAPES[nxt]))
            elif nxt in _LIKE_ESCAPED:
                chars.append(_LIKE_ESCAPED[nxt])
                like.append(re.escape(nxt))
            else:
                raise SoqlError("MALFORMED_QUERY", f"Invalid string literal: an escape "
                                f"sequence \\{nxt} is not valid in SOQL")
            i += 2
            continue
        chars.append(ch)
        like.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    raise SoqlError("MALFORMED_QUERY", "unexpected end of query: a string literal is not "
                    "closed")


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.group("bad") is not None:
            shown = text[m.start("bad") if m else pos:][:20]
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{shown}'")
        if m.group("string") is not None:
            literal, pos = _string(text, m.end())
            out.append(("lit", literal))
            continue
        pos = m.end()
        if m.group("op") is not None:
            out.append(("op", m.group("op")))
        elif m.group("number") is not None:
            out.append(("lit", Literal(Decimal(m.group("number")), False)))
        else:
            word = m.group("word")
            low = word.lower()
            if low in ("true", "false"):
                out.append(("lit", Literal(low == "true", False)))
            elif low == "null":
                out.append(("lit", Literal(None, False)))
            elif low in _KEYWORDS:
                out.append(("kw", low))
            else:
                out.append(("name", word))
    return out


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
        self.i += 1
        return token

    def expect(self, kind: str, value: Any = None) -> Any:
        token = self.take()
        if token[0] != kind or (value is not None and token[1] != value):
            shown = value or kind
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token[1]}' (expected "
                            f"{shown})")
        return token[1]

    def name(self) -> str:
        token = self.take()
        if token[0] != "name":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token[1]}'")
        if "." in token[1]:
            raise SoqlError("MALFORMED_QUERY", f"relationship paths like '{token[1]}' are not "
                            "supported by the fake Salesforce")
        return str(token[1])

    def query(self) -> Query:
        self.expect("kw", "select")
        fields = [self.name()]
        while self.peek() == ("op", ","):
            self.take()
            fields.append(self.name())
        self.expect("kw", "from")
        sobject = self.name()
        where: list[Condition] = []
        limit = None
        token = self.peek()
        if token == ("kw", "where"):
            self.take()
            where.append(self.condition())
            while self.peek() == ("kw", "and"):
                self.take()
                where.append(self.condition())
            token = self.peek()
        if token == ("kw", "limit"):
            self.take()
            lit = self.expect("lit")
            if lit.quoted or not isinstance(lit.value, Decimal) or lit.value < 0:
                raise SoqlError("MALFORMED_QUERY", "LIMIT needs a whole number")
            limit = int(lit.value)
            token = self.peek()
        if token is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{str(token[1]).upper()}'")
        return Query(tuple(fields), sobject, tuple(where), limit)

    def condition(self) -> Condition:
        field = self.name()
        token = self.take()
        if token == ("kw", "in"):
            self.expect("op", "(")
            values = [self.expect("lit")]
            while self.peek() == ("op", ","):
                self.take()
                values.append(self.expect("lit"))
            self.expect("op", ")")
            return Condition(field, "in", tuple(values))
        if token == ("kw", "like"):
            lit = self.expect("lit")
            if not lit.quoted:
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a quoted pattern")
            return Condition(field, "like", (lit,))
        if token in (("op", "="), ("op", "!="), ("op", "<>")):
            op = "=" if token[1] == "=" else "!="
            return Condition(field, op, (self.expect("lit"),))
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{token[1]}'")


def parse(text: str) -> Query:
    return _Parser(text).query()


# --------------------------------------------------------------------------- evaluation


def _canonical(schema: Mapping[str, str], name: str, sobject: str) -> str:
    for field in schema:
        if field.casefold() == name.casefold():
            return field
    raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'. If you "
                    "are attempting to use a custom field, be sure to append the '__c' after "
                    "the custom field name.")


def _matcher(kind: str, cond: Condition, sobject: str) -> Callable[[Any], bool]:
    values = cond.values
    for lit in values:
        if kind == "boolean" and lit.quoted:
            raise SoqlError("INVALID_FIELD", f"{cond.field} = '{lit.value}': value of filter "
                            "criterion for field must be of type boolean and should not be "
                            "enclosed in quotes")
        if kind in ("id", "reference") and lit.quoted and not _ID.fullmatch(str(lit.value)):
            raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
    if cond.op == "like":
        pattern = re.compile(values[0].like or "", re.IGNORECASE | re.DOTALL)
        return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None

    def same(v: Any, lit: Literal) -> bool:
        if isinstance(v, str) and isinstance(lit.value, str):
            return v.casefold() == lit.value.casefold()
        if isinstance(v, bool) or isinstance(lit.value, bool):
            return v is lit.value
        if v is None or lit.value is None:
            return v is None and lit.value is None
        try:
            return Decimal(str(v)) == Decimal(str(lit.value))
        except ArithmeticError:
            return False

    if cond.op == "!=":
        return lambda v: not same(v, values[0])
    return lambda v: any(same(v, lit) for lit in values)


def run(query: Query, schemas: Mapping[str, Mapping[str, str]],
        records: Callable[[str], list[dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
    """(canonical object name, the matching records with only the selected fields).
    `schemas`: object → field → type; `records(obj)` the object's rows."""
    sobject = next((o for o in schemas if o.casefold() == query.sobject.casefold()), None)
    if sobject is None:
        raise SoqlError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported. If "
                        "you are attempting to use a custom object, be sure to append the "
                        "'__c' after the entity name.")
    schema = schemas[sobject]
    fields = [_canonical(schema, f, sobject) for f in query.fields]
    tests = [(_canonical(schema, c.field, sobject), _matcher(
        schema[_canonical(schema, c.field, sobject)], c, sobject)) for c in query.where]
    out = []
    for row in records(sobject):
        if all(test(row.get(field)) for field, test in tests):
            out.append({f: row.get(f) for f in dict.fromkeys(fields)})
            if query.limit is not None and len(out) >= query.limit:
                break
    return sobject, out
