"""A partner's account type → plan investment type mapping (SPEC §6, Appendix A and B).

The machinery only: a partner ships its tables as a TOML file in its package (Redtail's is
`partners/redtail/mapping.toml`); a firm may override them with a file of the partner's
`mapping_file` name in the config directory, which replaces the lists it gives and merges the
tables entry by entry. The investment types themselves are `domain.investment_types`.
Everything here is pure except reading those two files.

Names are matched after `normalize` (casefold, trim, collapse whitespace); punctuation counts, so
aliases are listed in the file rather than guessed here.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from plantech_tui.domain.errors import ValidationFailed
from plantech_tui.domain.investment_types import OTHER, canonical, display, normalize, shown_input
from plantech_tui.domain.models import OWNERS

_INVESTMENT_TYPES = "investment_types"
_INCLUDED = "included_account_types"
_NON_QUALIFIED = "non_qualified_names"
_SKIPPED = "skipped_account_types"  # known types that are deliberately not staged
_DIRECT = "direct"
_VIA_TQ = "via_tax_qualified"
_TQ = "tax_qualified"
_LIST_KEYS = (_INVESTMENT_TYPES, _INCLUDED, _NON_QUALIFIED, _SKIPPED)
_TABLE_KEYS = (_DIRECT, _VIA_TQ, _TQ)


_display = display


class DefaultType(NamedTuple):
    """The investment type a partner's account defaults to, and why."""

    investment_type: str
    review_type: bool
    reason: str


class MappingFileError(ValidationFailed):
    """A mapping file that cannot be used; the message names the file and, when known, the line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


# A table as held while loading: normalized name → (name as written, target as written).
_Table = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Mapping:
    """One active mapping (immutable). Tables are keyed by the names as written in the files."""

    investment_types: tuple[str, ...]
    included_account_types: tuple[str, ...]
    non_qualified_names: tuple[str, ...]
    direct: MappingProxyType[str, str]
    via_tax_qualified: MappingProxyType[str, str]
    tax_qualified: MappingProxyType[str, str]
    # types the firm knows and does not stage (credit cards, loans): not "unknown" to `knows`
    skipped_account_types: tuple[str, ...] = ()
    # the files this mapping was read from, built-in first (for doctor and notices)
    sources: tuple[str, ...] = field(default=(), compare=False)
    # the partner as the reasons name it: "defaulted from Redtail type IRA"
    label: str = field(default="source", compare=False)

    _investment_idx: dict[str, str] = field(init=False, repr=False, compare=False)
    _included_idx: frozenset[str] = field(init=False, repr=False, compare=False)
    _nq_idx: frozenset[str] = field(init=False, repr=False, compare=False)
    _direct_idx: dict[str, str] = field(init=False, repr=False, compare=False)
    _via_idx: dict[str, str] = field(init=False, repr=False, compare=False)
    _tq_idx: dict[str, str] = field(init=False, repr=False, compare=False)
    _known_idx: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "_investment_idx", {normalize(t): t for t in self.investment_types})
        setter(self, "_included_idx", frozenset(normalize(t) for t in self.included_account_types))
        setter(self, "_nq_idx", frozenset(normalize(t) for t in self.non_qualified_names))
        setter(self, "_direct_idx", {normalize(k): v for k, v in self.direct.items()})
        setter(self, "_via_idx", {normalize(k): v for k, v in self.via_tax_qualified.items()})
        setter(self, "_tq_idx", {normalize(k): v for k, v in self.tax_qualified.items()})
        setter(self, "_known_idx", frozenset(
            {*self._included_idx, *self._direct_idx, *self._via_idx,
             *(normalize(t) for t in self.skipped_account_types)}))

    def __hash__(self) -> int:
        return hash(
            (
                self.investment_types,
                self.included_account_types,
                self.non_qualified_names,
                self.skipped_account_types,
                tuple(self.direct.items()),
                tuple(self.via_tax_qualified.items()),
                tuple(self.tax_qualified.items()),
            )
        )

    def is_included(self, account_type: str | None) -> bool:
        """Appendix A: is a new account of this type staged? Unknown names are not."""
        if account_type is None:
            return False
        return normalize(account_type) in self._included_idx

    def knows(self, account_type: str | None) -> bool:
        """The mapping says something about this type: staged, mapped, or deliberately skipped.
        An empty type is not known; an unknown one is listed for the firm to map."""
        return account_type is not None and normalize(account_type) in self._known_idx

    def default_investment_type(
        self,
        account_type: str | None,
        taxqualified: bool | None,
        taxqualified_type_name: str | None,
        *,
        taxqualified_type_id: int | str | None = None,
    ) -> DefaultType:
        """Appendix B: the default investment type of a partner's account.

        `taxqualified_type_name` is the name the caller resolved (Redtail: from its lookup
        list). When the partner gave an id that did not resolve, pass it as `taxqualified_type_id` with no
        name: that is "an id that does not resolve" (Other, review), whatever `taxqualified` says.
        The tables apply whether or not the type is included (a known account whose type was
        dropped from Appendix A still gets a default).
        """
        src = self.label
        if account_type is None or not normalize(account_type):
            return DefaultType(OTHER, True, f"no {src} account type — review")
        shown = _display(account_type)
        key = normalize(account_type)
        direct = self._direct_idx.get(key)
        if direct is not None:
            return DefaultType(direct, False, f"defaulted from {src} type {shown}")
        non_qualified = self._via_idx.get(key)
        if non_qualified is None:
            return DefaultType(OTHER, True, f"{src} type {shown} has no default mapping — review")

        tq_name = taxqualified_type_name
        if tq_name is not None and normalize(tq_name):
            tq_key = normalize(tq_name)
            tq_shown = _display(tq_name)
            if tq_key in self._nq_idx:
                target: str | None = non_qualified
            else:
                target = self._tq_idx.get(tq_key)
            if target is None:
                return DefaultType(
                    OTHER,
                    True,
                    f'tax-qualified type "{tq_shown}" not recognised ({src} type {shown})'
                    " — review",
                )
            return DefaultType(
                target,
                False,
                f"defaulted from tax-qualified type {tq_shown} ({src} type {shown})",
            )
        if taxqualified_type_id is not None and str(taxqualified_type_id).strip():
            return DefaultType(
                OTHER,
                True,
                f"tax-qualified type id {str(taxqualified_type_id).strip()} not found in {src}'s"
                f" list ({src} type {shown}) — review",
            )
        if taxqualified is True:
            return DefaultType(
                OTHER,
                True,
                f"tax-qualified with no tax-qualified type ({src} type {shown}) — review",
            )
        return DefaultType(
            non_qualified, False, f"defaulted from {src} type {shown} (non-qualified)"
        )

    def canonical_investment_type(self, text: str) -> str:
        """The investment type the user meant (case/whitespace-insensitive), else ValidationFailed."""
        found = self._investment_idx.get(normalize(text))
        if found is not None:
            return found
        return canonical(self.investment_types, text)


_CO_CLIENT = re.compile(r"co\s*-?\s*client")


def canonical_owner(text: str) -> str:
    """Client, Co-client or Joint (case/whitespace-insensitive; "co client", "coclient" too)."""
    key = normalize(text)
    if key == "client":
        return "Client"
    if key == "joint":
        return "Joint"
    if _CO_CLIENT.fullmatch(key):
        return "Co-client"
    valid = ", ".join(OWNERS)
    if not key:
        raise ValidationFailed(f"an owner is required; valid: {valid}", field="owner")
    raise ValidationFailed(f'unknown owner "{shown_input(text)}"; valid: {valid}', field="owner")


# --- reading the files -------------------------------------------------------------------------


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class _Lines:
    """Finds the line of a key or list element in a TOML text, for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _sections(self) -> list[str | None]:
        current: str | None = None
        out: list[str | None] = []
        for line in self.lines:
            m = _HEADER.match(line)
            if m:
                current = m.group(1).strip().strip("\"'")
            out.append(current)
        return out

    @staticmethod
    def _key_pattern(key: str) -> re.Pattern[str]:
        k = re.escape(key)
        return re.compile(rf"""(?:^|[{{,])\s*(?:"{k}"|'{k}'|{k})\s*=""")

    def key(self, section: str | None, key: str) -> int | None:
        """Line (1-based) of `key = ...` in `section` (None: top level), else anywhere."""
        pattern = self._key_pattern(key)
        sections = self._sections()
        for wanted_only in (True, False):
            for i, line in enumerate(self.lines):
                if wanted_only and sections[i] != section:
                    continue
                if pattern.search(line):
                    return i + 1
        if section is not None:
            return self.header(section)
        return None

    def header(self, section: str) -> int | None:
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if m and m.group(1).strip().strip("\"'") == section:
                return i + 1
        return self.key(None, section) if section else None

    def element(self, list_key: str, value: str) -> int | None:
        """Line of `value` inside the top-level list `list_key`, else the list's own line."""
        start = self.key(None, list_key)
        if start is None:
            return None
        quoted = re.compile(rf"""["']{re.escape(value)}["']""")
        for i in range(start - 1, len(self.lines)):
            if quoted.search(self.lines[i]):
                return i + 1
        return start


@dataclass
class _File:
    """One parsed mapping file, checked for shape but not yet against other files."""

    source: str
    lines: _Lines
    investment_types: list[str] | None = None
    included: list[str] | None = None
    non_qualified: list[str] | None = None
    skipped: list[str] | None = None
    tables: dict[str, _Table] = field(default_factory=dict)

    def error(self, line: int | None, problem: str) -> MappingFileError:
        return MappingFileError(self.source, line, problem)


def _parse(text: str, source: str) -> _File:
    lines = _Lines(text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        if m:
            problem = f"invalid TOML: {message[: m.start()]} (column {m.group(2)})"
            raise MappingFileError(source, int(m.group(1)), problem) from None
        raise MappingFileError(source, None, f"invalid TOML: {message}") from None

    parsed = _File(source=source, lines=lines)
    for key in doc:
        if key not in _LIST_KEYS and key not in _TABLE_KEYS:
            known = ", ".join(_LIST_KEYS + _TABLE_KEYS)
            raise parsed.error(lines.key(None, key), f'unknown key "{key}" (known: {known})')

    for key in _LIST_KEYS:
        if key in doc:
            values = _parse_list(parsed, key, doc[key])
            if key == _INVESTMENT_TYPES:
                parsed.investment_types = values
            elif key == _INCLUDED:
                parsed.included = values
            elif key == _SKIPPED:
                parsed.skipped = values
            else:
                parsed.non_qualified = values
    for key in _TABLE_KEYS:
        if key in doc:
            parsed.tables[key] = _parse_table(parsed, key, doc[key])

    for name in parsed.tables.get(_DIRECT, {}).keys() & parsed.tables.get(_VIA_TQ, {}).keys():
        shown = parsed.tables[_VIA_TQ][name][0]
        raise parsed.error(
            lines.key(_VIA_TQ, shown),
            f'account type "{shown}" is in both [{_DIRECT}] and [{_VIA_TQ}]',
        )
    nq_keys = {normalize(n) for n in parsed.non_qualified or ()}
    for name in parsed.tables.get(_TQ, {}).keys() & nq_keys:
        shown = parsed.tables[_TQ][name][0]
        raise parsed.error(
            lines.key(_TQ, shown),
            f'tax-qualified type "{shown}" is in both {_NON_QUALIFIED} and [{_TQ}]',
        )
    return parsed


def _parse_list(parsed: _File, key: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise parsed.error(parsed.lines.key(None, key), f"{key} must be a list of names")
    seen: dict[str, str] = {}
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not normalize(item):
            raise parsed.error(
                parsed.lines.key(None, key), f"{key} must hold only non-empty names, got {item!r}"
            )
        norm = normalize(item)
        if norm in seen:
            raise parsed.error(
                parsed.lines.element(key, item),
                f'{key} lists "{_display(item)}" twice (as "{seen[norm]}")',
            )
        seen[norm] = _display(item)
        out.append(_display(item))
    return out


def _parse_table(parsed: _File, key: str, value: Any) -> _Table:
    if not isinstance(value, dict):
        raise parsed.error(
            parsed.lines.key(None, key), f'{key} must be a table ([{key}] with "name" = "type")'
        )
    table: _Table = {}
    for name, target in value.items():
        line = parsed.lines.key(key, name)
        if not normalize(name):
            raise parsed.error(line, f"[{key}] has an empty name")
        if not isinstance(target, str) or not normalize(target):
            raise parsed.error(
                line, f'[{key}] "{_display(name)}" must map to an investment type name'
            )
        norm = normalize(name)
        if norm in table:
            raise parsed.error(
                line, f'[{key}] lists "{_display(name)}" twice (as "{table[norm][0]}")'
            )
        table[norm] = (_display(name), _display(target))
    return table


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingFileError(str(path), None, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise MappingFileError(str(path), None, f"cannot read ({exc.strerror or exc})") from None


def _combine(base: Mapping | None, over: _File) -> Mapping:
    """`over` applied on `base` (None: `over` is the whole mapping), validated."""
    lines = over.lines
    if base is None:
        for key, got in ((_INVESTMENT_TYPES, over.investment_types), (_INCLUDED, over.included)):
            if got is None:
                raise over.error(None, f"{key} is missing")
        base_tables: dict[str, _Table] = {_DIRECT: {}, _VIA_TQ: {}, _TQ: {}}
        base_inv: list[str] = []
        base_inc: list[str] = []
        base_nq: list[str] = []
        base_skipped: list[str] = []
        sources: tuple[str, ...] = ()
    else:
        base_tables = {
            _DIRECT: {normalize(k): (k, v) for k, v in base.direct.items()},
            _VIA_TQ: {normalize(k): (k, v) for k, v in base.via_tax_qualified.items()},
            _TQ: {normalize(k): (k, v) for k, v in base.tax_qualified.items()},
        }
        base_inv = list(base.investment_types)
        base_inc = list(base.included_account_types)
        base_nq = list(base.non_qualified_names)
        base_skipped = list(base.skipped_account_types)
        sources = base.sources

    investment_types = over.investment_types if over.investment_types is not None else base_inv
    included = over.included if over.included is not None else base_inc
    non_qualified = over.non_qualified if over.non_qualified is not None else base_nq
    skipped = over.skipped if over.skipped is not None else base_skipped

    tables = {name: dict(entries) for name, entries in base_tables.items()}
    # Naming a type in one table takes it out of its rival table, so an override can move it.
    rivals = {_DIRECT: _VIA_TQ, _VIA_TQ: _DIRECT}
    for table_name, entries in over.tables.items():
        for norm, entry in entries.items():
            rival = rivals.get(table_name)
            if rival is not None:
                tables[rival].pop(norm, None)
            tables[table_name][norm] = entry
    if over.non_qualified is not None:
        for name in over.non_qualified:
            tables[_TQ].pop(normalize(name), None)
    if _TQ in over.tables:
        over_tq = over.tables[_TQ]
        non_qualified = [n for n in non_qualified if normalize(n) not in over_tq]

    inv_idx = {normalize(t): t for t in investment_types}
    inv_line = lines.key(None, _INVESTMENT_TYPES)
    if not investment_types:
        raise over.error(inv_line, f"{_INVESTMENT_TYPES} must not be empty")
    if normalize(OTHER) not in inv_idx:
        raise over.error(inv_line, f'{_INVESTMENT_TYPES} must include "{OTHER}"')

    final: dict[str, dict[str, str]] = {}
    for table_name in _TABLE_KEYS:
        final[table_name] = {}
        for norm, (shown, target) in tables[table_name].items():
            canonical = inv_idx.get(normalize(target))
            if canonical is None:
                valid = ", ".join(investment_types)
                if norm in over.tables.get(table_name, {}):
                    raise over.error(
                        lines.key(table_name, shown),
                        f'[{table_name}] "{shown}" maps to "{target}", which is not an'
                        f" investment type (valid: {valid})",
                    )
                raise over.error(
                    inv_line,
                    f'{_INVESTMENT_TYPES} lacks "{target}", which the built-in [{table_name}]'
                    f' "{shown}" maps to; map "{shown}" in [{table_name}] too',
                )
            final[table_name][shown] = canonical

    return Mapping(
        investment_types=tuple(investment_types),
        included_account_types=tuple(included),
        non_qualified_names=tuple(non_qualified),
        direct=MappingProxyType(final[_DIRECT]),
        via_tax_qualified=MappingProxyType(final[_VIA_TQ]),
        tax_qualified=MappingProxyType(final[_TQ]),
        skipped_account_types=tuple(skipped),
        sources=(*sources, over.source),
        label=base.label if base is not None else "source",
    )


def read_builtin(package: str, resource: str, label: str = "source") -> Mapping:
    """A partner's built-in mapping, shipped as `resource` in `package` (the partner caches
    it); `label` names the partner in the reasons ("defaulted from Redtail type IRA")."""
    res = importlib.resources.files(package) / resource
    source = str(res)
    try:
        text = res.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingFileError(source, None, f"cannot read the built-in mapping ({exc})") from None
    return dataclasses.replace(_combine(None, _parse(text, source)), label=label)


def load_mapping(config_dir: Path | None, *, base: Mapping, filename: str | None) -> Mapping:
    """`base` (a partner's built-in mapping) with `config_dir/filename` applied when it exists.

    Raises MappingFileError (a ValidationFailed, exit 2) naming the file and line when the
    override is not usable; a TUI shows that as a notice and falls back to `base`.
    """
    if config_dir is None or filename is None:
        return base
    path = Path(config_dir) / filename
    if not path.exists():
        return base
    if not path.is_file():
        raise MappingFileError(str(path), None, "not a regular file")
    return _combine(base, _parse(_read(path), str(path)))
