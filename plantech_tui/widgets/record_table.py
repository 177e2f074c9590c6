"""RecordTable: a windowed table of keyed records — header, cursor, marks, filter and sort.

Textual's DataTable measures every cell on the event loop (100k rows froze the UI 10–15 s),
so this table never holds all its rows. Its source answers two questions:

  keys(filter, sort, descending) → the ordered keys of the rows that match (for a SQLite
                                   source: one indexed query returning ids)
  fetch(keys)                    → (key, cells, record) of just those rows

The table keeps the key list (the virtual height is its length), fetches rows a page at a time
as they come on screen, keeps a few pages cached, and draws with the Line API (`TableBody`, a
ScrollView whose `render_line` draws the header and the rows in view). "Mark all in the
filter" is the key list itself; a reload after a data change re-reads the keys and the rows in
view and reports what changed by key. Column widths come from the cached rows, shrunk to fit.

The filter line (`/`) filters on every keystroke. A `QuerySource` given a search callable
keeps the unfiltered keys of the current sort and, once `/` has loaded its search index in a
thread worker, filters them in memory (narrowing the previous result while the text grows) to
exactly the rows of its SQL filter; until then the filter runs in SQL. A data change
(`reload(data_changed=True)`) drops what a source kept; the index loads again at once only
when the user is typing in that filter line, else when the filter is next used.

Screens talk only to `RecordTable` (`set_rows` for small in-memory tables, `set_source` for
SQLite-backed ones, `cursor_key`, marks, `Opened`, `Highlighted`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import compress
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static

from ..domain.search import terms as search_terms
from ..domain.text import safe_for_terminal
from .icons import IconSet, icons

Cell = str | Text
Row = tuple[str, Sequence[Cell]]
Record = tuple[str, Sequence[Cell], Any]  # key, cells, the object behind the row
PAGE = 100  # rows fetched at a time
CACHED_PAGES = 8  # pages kept (a screenful is well under one page)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None  # fixed; None: from the rows in view
    min_width: int = 6  # when the table is too wide, columns shrink down to this
    right: bool = False  # right-aligned and never shrunk (money, counts)
    short: str = ""  # the header when `label` does not fit (else `label` cut)
    keep: bool = False  # the row's name (description): whole, shrunk only as a last resort

    def header(self, width: int) -> str:
        """The label, or the short one when the label does not fit in `width`."""
        if len(self.label) > width and self.short:
            return self.short
        return self.label


@dataclass(frozen=True)
class RowChanges:
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self, noun: str) -> str:
        """ "2 accounts added, 1 changed" (only what happened)."""
        parts = [(n, verb) for n, verb in ((self.added, "added"), (self.changed, "changed"),
                                           (self.removed, "removed")) if n]
        if not parts:
            return ""
        (n, verb), rest = parts[0], parts[1:]
        return ", ".join([f"{n} {noun}{'' if n == 1 else 's'} {verb}"]
                         + [f"{m} {v}" for m, v in rest])

    def __add__(self, other: RowChanges) -> RowChanges:
        return RowChanges(self.added + other.added, self.changed + other.changed,
                          self.removed + other.removed)


def cell_text(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


# ---------------------------------------------------------------- sources


class RowSource:
    """Where a table's rows come from. Keys are strings; filtering and sorting happen here."""

    def keys(self, text: str, sort: str | None, descending: bool) -> list[str]:
        raise NotImplementedError

    def fetch(self, keys: Sequence[str]) -> list[Record]:
        raise NotImplementedError

    def existing(self, keys: set[str]) -> set[str]:
        """Which of these keys still exist, whatever the filter (marks the filter hides)."""
        return keys & set(self.keys("", None, False))

    def invalidate(self) -> None:
        """The rows changed: forget what was kept (reload(data_changed=True) calls it)."""

    def search_loader(self) -> Callable[[], None] | None:
        """A function that prepares in-memory filtering, to run in a worker thread."""
        return None


def _sort_value(text: str) -> tuple[int, Any]:
    """Money and counts sort as numbers, the rest as text."""
    plain = text.replace("$", "").replace(",", "").strip()
    try:
        return (0, Decimal(plain))
    except (InvalidOperation, ValueError):
        return (1, text.casefold())


class ListSource(RowSource):
    """Rows held in memory (small tables: plans, contacts, integrations)."""

    def __init__(self, columns: Sequence[Column], rows: Iterable[Sequence[Any]] = ()) -> None:
        self.columns = [c.key for c in columns]
        self.order: list[str] = []
        self.rows: dict[str, tuple[tuple[Cell, ...], Any]] = {}
        for row in rows:
            key, cells = row[0], tuple(row[1])
            self.order.append(key)
            self.rows[key] = (cells, row[2] if len(row) > 2 else None)

    def keys(self, text: str, sort: str | None, descending: bool) -> list[str]:
        keys = list(self.order)
        terms = text.casefold().split()
        if terms:
            def hit(key: str) -> bool:
                blob = " ".join(cell_text(c) for c in self.rows[key][0]).casefold()
                return all(t in blob for t in terms)
            keys = [k for k in keys if hit(k)]
        if sort in self.columns:
            index = self.columns.index(sort)
            keys.sort(key=lambda k: _sort_value(cell_text(self.rows[k][0][index])),
                      reverse=descending)
        return keys

    def fetch(self, keys: Sequence[str]) -> list[Record]:
        return [(k, *self.rows[k]) for k in keys if k in self.rows]

    def existing(self, keys: set[str]) -> set[str]:
        return {k for k in keys if k in self.rows}


SearchIndex = tuple[Sequence[str], Sequence[str]]  # (keys, folded search texts), aligned


@dataclass(frozen=True)
class _Filtered:
    """The last in-memory filter result: the next, longer text narrows it instead of the whole
    list (rows matching "fidelity" are among those matching "fid")."""

    order: tuple[str | None, bool]
    terms: tuple[str, ...]
    keys: list[str]
    texts: list[str]

    def narrows_to(self, order: tuple[str | None, bool], terms: Sequence[str]) -> bool:
        # a row matching every new term matches each old term inside one of them
        return order == self.order and all(any(old in new for new in terms)
                                           for old in self.terms)


class QuerySource(RowSource):
    """Rows from the workspace: `keys(text, sort, descending)` returns ordered ids,
    `fetch(ids)` returns (id, cells, record) for those ids.

    The unfiltered key list of the current sort is kept until `invalidate()`. With `search`
    (returning the keys of every unfiltered row and their search texts, folded as
    domain/search.py says), the filter runs in memory once the index is loaded: a keystroke
    filters the kept list (or, when the text grew, the previous result) by substring, and
    returns exactly the rows `keys` would return from SQL. `search_loader()` gives the load to
    run in a worker thread; until it is done the filter runs in SQL (at 100k rows one SQL
    filter takes less time than the whole load)."""

    def __init__(self, keys: Callable[[str, str | None, bool], Sequence[int]],
                 fetch: Callable[[list[int]], Iterable[tuple[int, Sequence[Cell], Any]]],
                 existing: Callable[[list[int]], Iterable[int]] | None = None,
                 search: Callable[[], SearchIndex] | None = None) -> None:
        self._keys = keys
        self._fetch = fetch
        self._existing = existing
        self._search = search
        self._lock = threading.Lock()
        self._generation = 0  # bumped by invalidate(): a load begun before is dropped
        self._base: tuple[tuple[str | None, bool], list[str]] | None = None
        self._index: dict[str, str] | None = None
        self._loading = False
        self._base_texts: list[str] | None = None  # the texts of self._base's keys
        self._last: _Filtered | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._base = None
            self._index = None
            self._loading = False
            self._base_texts = None
            self._last = None

    @property
    def search_ready(self) -> bool:
        return self._index is not None

    def search_loader(self) -> Callable[[], None] | None:
        """The function that loads the search index, to run in a worker thread (None: there
        is none, or it is loaded or loading); it must be called once returned."""
        if self._search is None or self._index is not None or self._loading:
            return None
        search = self._search
        generation = self._generation
        self._loading = True

        def load() -> None:
            index = None
            try:
                keys, texts = search()
                index = dict(zip(keys, texts, strict=True))
            finally:
                with self._lock:
                    if generation == self._generation:  # else: begun before a change
                        self._index = index
                        self._loading = False  # failed (None): a later load may work

        return load

    def keys(self, text: str, sort: str | None, descending: bool) -> list[str]:
        order = (sort, descending)
        terms = search_terms(text)
        if not terms:
            return self._unfiltered(order)
        index = self._index
        if index is None:
            return self._str_keys(self._keys(text, sort, descending))
        last = self._last
        if last is not None and last.narrows_to(order, terms):
            keys, texts = last.keys, last.texts
            todo = [t for t in terms if t not in last.terms]
        else:
            keys = self._unfiltered(order)
            if self._base_texts is None:
                self._base_texts = [index.get(k, "") for k in keys]
            texts = self._base_texts
            todo = list(terms)
        for term in todo:
            hits = [term in t for t in texts]
            keys, texts = list(compress(keys, hits)), list(compress(texts, hits))
        self._last = _Filtered(order, tuple(terms), keys, texts)
        return keys

    def _unfiltered(self, order: tuple[str | None, bool]) -> list[str]:
        """The kept unfiltered keys in this order (the table never changes the list)."""
        if self._base is None or self._base[0] != order:
            self._base = (order, self._str_keys(self._keys("", *order)))
            self._base_texts = None
        return self._base[1]

    @staticmethod
    def _str_keys(ids: Sequence[int]) -> list[str]:
        return list(map(str, ids))

    def fetch(self, keys: Sequence[str]) -> list[Record]:
        return [(str(k), cells, record) for k, cells, record in self._fetch([int(k) for k in keys])]

    def existing(self, keys: set[str]) -> set[str]:
        if self._existing is None:  # not through keys(): that would replace the kept list
            return keys & set(self._str_keys(self._keys("", None, False)))
        return {str(k) for k in self._existing([int(k) for k in keys])}


# ---------------------------------------------------------------- the line-API body


class TableBody(ScrollView, can_focus=True):
    """Draws the header and the rows in view (Line API); keys and clicks move the cursor."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home,ctrl+home", "edge(0)", show=False),
        Binding("end,ctrl+end", "edge(1)", show=False),
        Binding("enter", "open", "Open", show=False),
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("o", "sort", "Sort", id="sort"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header", "record-table--cursor", "record-table--even",
        "record-table--marked",
    }
    DEFAULT_CSS = """
    TableBody {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        & > .record-table--header { text-style: bold; background: $panel; }
        & > .record-table--even { background: $surface-lighten-1 50%; }
        & > .record-table--marked { text-style: bold; }
        & > .record-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .record-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    def __init__(self, table: RecordTable) -> None:
        super().__init__()
        self.table = table

    # The wheel scrolls the view (Widget's own handler, which runs after these and scrolls at
    # once); then the cursor comes to the nearest row in view, so that the next key acts on a
    # row the user can see. Shift or ctrl + wheel scrolls sideways: the cursor stays.
    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if not (event.ctrl or event.shift):
            self.call_next(self.table._cursor_into_view)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if not (event.ctrl or event.shift):
            self.call_next(self.table._cursor_into_view)

    @property
    def rows_in_view(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # less the header

    def render_line(self, y: int) -> Strip:
        return self.table._render_line(self, y)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        self.table._fetch_in_view()
        super().watch_scroll_y(old_value, new_value)

    def on_resize(self, event: events.Resize) -> None:
        self.table._widths = None
        self.table._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            self.table._clicked(offset.x, offset.y)

    def action_cursor(self, step: int) -> None:
        self.table._set_cursor(self.table._cursor + step)

    def action_page(self, direction: int) -> None:
        self.table._set_cursor(self.table._cursor + direction * self.rows_in_view)

    def action_edge(self, end: int) -> None:
        self.table._set_cursor(self.table.row_count - 1 if end else 0)

    def action_open(self) -> None:
        key = self.table.cursor_key
        if key is not None:
            self.table.post_message(RecordTable.Opened(self.table, key))

    def action_filter(self) -> None:
        self.table.open_filter()

    def action_sort(self) -> None:
        self.table.cycle_sort()


class FilterInput(Input):
    """The `/` filter line: every keystroke filters, enter keeps the filter and goes back to
    the rows, escape clears it."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("escape", "clear_filter", "Clear filter", id="clear-filter"),
        Binding("down", "done", show=False),
    ]

    def action_clear_filter(self) -> None:
        for table in self.ancestors:
            if isinstance(table, RecordTable):
                table.close_filter(clear=True)
                return

    def action_done(self) -> None:
        for table in self.ancestors:
            if isinstance(table, RecordTable):
                table.close_filter(clear=False)
                return


# ---------------------------------------------------------------- the table


class RecordTable(Widget):
    """A table of records identified by string keys (see the module docstring)."""

    DEFAULT_CSS = """
    RecordTable { height: 1fr; layout: vertical; }
    RecordTable > .filter-bar { display: none; height: 1; }
    RecordTable.-filtering > .filter-bar { display: block; }
    RecordTable .filter-label { width: auto; padding: 0 1; color: $accent; text-style: bold; }
    RecordTable FilterInput { width: 1fr; }
    RecordTable > .empty { color: $text-muted; padding: 1 2; display: none; height: auto; }
    RecordTable.-empty > .empty { display: block; }
    RecordTable.-empty > TableBody { height: 1; }
    RecordTable > .table-status { color: $text-muted; padding: 0 1; height: 1; display: none; }
    RecordTable.-status > .table-status { display: block; }
    """

    class Opened(Message):
        """Enter (or a click on the highlighted row) on a row."""

        def __init__(self, table: RecordTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RecordTable:
            return self.table

    class Highlighted(Message):
        def __init__(self, table: RecordTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RecordTable:
            return self.table

    class MarksChanged(Message):
        def __init__(self, table: RecordTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RecordTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, empty_text: str = "",
                 markable: bool = False, source: RowSource | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns = list(columns)
        self._empty_text = empty_text
        self.markable = markable
        self._source: RowSource = source or ListSource(columns)
        self._keys: list[str] = []
        self._pos: dict[str, int] | None = None
        self._keyset: set[str] | None = None
        self._rows: dict[str, tuple[tuple[Cell, ...], Any]] = {}
        self._pages: OrderedDict[int, list[str]] = OrderedDict()
        self._natural: list[int] = [0] * len(columns)
        self._widths: list[int] | None = None
        self._widths_for = -1  # the width they were computed for
        self._cursor = 0
        self._highlighted: str | None = None
        self.marks: set[str] = set()
        self._anchor: str | None = None
        self.filter_text = ""
        self.sort_key: str | None = None
        self.sort_descending = False
        self._loaded = source is not None
        self._icon_set: IconSet | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filter-bar"):
            yield Static("Filter /", classes="filter-label")
            yield FilterInput(placeholder="description, company, last 4, type, contact — "
                              "enter keeps it, esc clears it", compact=True,
                              id=f"{self.id}-filter" if self.id else None)
        yield TableBody(self)
        yield Static(self._empty_text, classes="empty", markup=False)
        yield Static("", classes="table-status", markup=False)

    def on_mount(self) -> None:
        if self._loaded:
            self.reload()
        else:
            self._after_change()

    @property
    def body(self) -> TableBody:
        return self.query_one(TableBody)

    def focus(self, scroll_visible: bool = True) -> RecordTable:
        self.body.focus(scroll_visible)
        return self

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self._show_empty()

    # ------------------------------------------------------------------ data

    @property
    def source(self) -> RowSource:
        return self._source

    def set_source(self, source: RowSource, *, reload: bool = True) -> RowChanges:
        """Show the rows of another source (keeping filter, sort and marks); with
        reload=False the caller reloads when it is ready (a screen's refresh_data)."""
        self._source = source
        self._loaded = reload
        return self.reload() if reload and self.is_mounted else RowChanges()

    def set_rows(self, rows: Iterable[Sequence[Any]]) -> RowChanges:
        """Show exactly these rows, (key, cells) or (key, cells, record), in this order (a
        small in-memory table)."""
        new = ListSource(self._columns, rows)
        old = self._source if isinstance(self._source, ListSource) else ListSource(self._columns)
        changes = RowChanges(
            added=sum(1 for k in new.order if k not in old.rows),
            changed=sum(1 for k in new.order if k in old.rows and old.rows[k][0] != new.rows[k][0]),
            removed=sum(1 for k in old.order if k not in new.rows))
        self._source = new
        self._loaded = True
        if self.is_mounted:
            self.reload()
        return changes

    def reload(self, *, data_changed: bool = True) -> RowChanges:
        """Re-read the keys and the rows in view; the cursor stays on its record (or, when
        that is gone, at the same place: on the row that followed it). With data_changed (the
        default) the source forgets what it kept, marks of rows that are gone are dropped and
        what changed is counted; a mere filter or sort change passes data_changed=False (and
        gets no count)."""
        old_keys = self._keys
        old_rows = self._rows
        cursor_key = self.cursor_key
        if data_changed:
            self._source.invalidate()
        self._keys = self._source.keys(self.filter_text, self.sort_key, self.sort_descending)
        self._pos = None
        self._keyset = None
        self._rows = {}
        self._pages = OrderedDict()
        self._natural = [0] * len(self._columns)
        self._widths = None
        if cursor_key is not None:
            self._cursor = self._index_of(cursor_key, self._cursor)
        self._cursor = max(0, min(self._cursor, len(self._keys) - 1))
        if self.marks and data_changed:
            known = self.marks & self._key_set()
            self.marks = known | self._source.existing(self.marks - known)
        self._fetch_in_view()
        changes = RowChanges()
        if data_changed:
            changes = self._changes(old_keys, old_rows)
            if self._typing_filter():
                self._load_search_index()  # the next keystroke filters in memory again
        self._after_change()
        return changes

    def _index_of(self, key: str, near: int) -> int:
        """Where `key` is now (else `near`): the same place is checked first, then a scan
        (in C) rather than a 100k-entry position map built per keystroke."""
        keys = self._keys
        if 0 <= near < len(keys) and keys[near] == key:
            return near
        try:
            return keys.index(key)
        except ValueError:
            return near

    def _changes(self, old_keys: list[str], old_rows: dict[str, tuple[tuple[Cell, ...], Any]]
                 ) -> RowChanges:
        changed = sum(1 for k, (cells, _) in self._rows.items()
                      if k in old_rows and old_rows[k][0] != cells)
        if not old_keys or old_keys == self._keys:  # first load, or the same rows
            return RowChanges(added=len(self._keys) if not old_keys else 0, changed=changed)
        new_set = self._key_set()
        old_set = set(old_keys)
        return RowChanges(added=len(new_set - old_set), changed=changed,
                          removed=len(old_set - new_set))

    def _after_change(self) -> None:
        if not self.is_mounted:
            return
        body = self.body
        body.virtual_size = Size(0, len(self._keys) + 1)
        self._scroll_to_cursor()
        body.refresh()
        self._show_empty()
        self._show_status()
        self._post_highlight()

    def _show_empty(self) -> None:
        if not self.is_mounted:
            return
        empty = not self._keys
        text = self._empty_text
        if empty and self.filter_text:
            text = (f"No rows match the filter “{self.filter_text}”. Press / and esc to "
                    "clear it.")
        self.query_one(".empty", Static).update(safe_for_terminal(text))
        self.set_class(empty, "-empty")

    def _key_set(self) -> set[str]:
        if self._keyset is None:
            self._keyset = set(self._keys)
        return self._keyset

    def _positions(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = {k: i for i, k in enumerate(self._keys)}
        return self._pos

    def _load_page(self, page: int) -> None:
        keys = self._keys[page * PAGE:(page + 1) * PAGE]
        for key, cells, record in self._source.fetch(keys):
            cells = tuple(cells)
            self._rows[key] = (cells, record)
            for i, cell in enumerate(cells[:len(self._natural)]):
                width = cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len
                if width > self._natural[i]:
                    self._natural[i] = width
                    self._widths = None
        self._pages[page] = keys
        self._pages.move_to_end(page)
        while len(self._pages) > CACHED_PAGES:
            _, gone = self._pages.popitem(last=False)
            for key in gone:
                self._rows.pop(key, None)

    def _fetch_in_view(self) -> None:
        """Make sure the pages of the rows on screen (and the cursor's) are cached."""
        if not self._keys:
            return
        top = int(self.body.scroll_y) if self.is_mounted else 0
        last = top + (self.body.rows_in_view if self.is_mounted else PAGE)
        for page in {top // PAGE, min(last, len(self._keys) - 1) // PAGE,
                     self._cursor // PAGE}:
            if page in self._pages:
                self._pages.move_to_end(page)
            else:
                self._load_page(page)

    def _entry(self, index: int) -> tuple[tuple[Cell, ...], Any]:
        key = self._keys[index]
        entry = self._rows.get(key)
        if entry is None:
            self._load_page(index // PAGE)
            entry = self._rows.get(key)
        if entry is None:  # deleted since the keys were read: shown until the next reload
            return tuple("…" for _ in self._columns), None
        return entry

    @property
    def keys(self) -> list[str]:
        """The keys in view order (those matching the filter)."""
        return list(self._keys)

    @property
    def row_count(self) -> int:
        # not __len__: a widget must stay truthy (Textual tests `if self._parent`)
        return len(self._keys)

    def cells(self, key: str) -> list[str]:
        """The text of a row's cells (without the mark column)."""
        return [cell_text(c) for c in self._entry(self._positions()[key])[0]]

    def cell(self, key: str, column: str) -> str:
        index = [c.key for c in self._columns].index(column)
        return self.cells(key)[index]

    def record(self, key: str | None) -> Any:
        """The object behind a row (what the source returned with its cells)."""
        if key is None or key not in self._key_set():
            return None
        return self._entry(self._positions()[key])[1]

    def find(self, column: str, text: str) -> str | None:
        """The key of the first row whose cell in `column` contains `text` (walks the rows:
        for tests and small tables)."""
        index = [c.key for c in self._columns].index(column)
        for i in range(len(self._keys)):
            if text in cell_text(self._entry(i)[0][index]):
                return self._keys[i]
        return None

    # ------------------------------------------------------------------ cursor

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self._cursor < len(self._keys):
            return self._keys[self._cursor]
        return None

    def move_to(self, key: str) -> bool:
        index = self._positions().get(key)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def advance(self) -> None:
        self._set_cursor(self._cursor + 1)

    def next_key_after(self, leaving: set[str]) -> str | None:
        """The first row from the cursor down that is not `leaving` (else the nearest one
        above): where the cursor goes after an action takes those rows away."""
        for i in range(self._cursor, len(self._keys)):
            if self._keys[i] not in leaving:
                return self._keys[i]
        for i in range(min(self._cursor, len(self._keys)) - 1, -1, -1):
            if self._keys[i] not in leaving:
                return self._keys[i]
        return None

    def _set_cursor(self, index: int) -> None:
        if not self._keys:
            return
        self._cursor = max(0, min(index, len(self._keys) - 1))
        self._fetch_in_view()
        self._scroll_to_cursor()
        if self.is_mounted:
            self.body.refresh()
        self._post_highlight()

    def _cursor_into_view(self) -> None:
        """After the wheel scrolled the view: the cursor to the nearest row in view."""
        if not self._keys or not self.is_mounted:
            return
        top = int(self.body.scroll_y)
        last = min(top + self.body.rows_in_view, len(self._keys)) - 1
        if not top <= self._cursor <= last:
            self._set_cursor(min(max(self._cursor, top), last))

    def _scroll_to_cursor(self) -> None:
        if not self.is_mounted:
            return
        body = self.body
        top = int(body.scroll_y)
        rows = body.rows_in_view
        if self._cursor < top:
            body.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + rows:
            body.scroll_to(y=self._cursor - rows + 1, animate=False, immediate=True)

    def _post_highlight(self) -> None:
        key = self.cursor_key
        if key != self._highlighted and self.is_mounted:
            self._highlighted = key
            self.post_message(self.Highlighted(self, key))

    # ------------------------------------------------------------------ marks

    def _marks_changed(self) -> None:
        if self.is_mounted:
            self.body.refresh()
            self._show_status()
            self.post_message(self.MarksChanged(self))

    def toggle_mark(self, key: str | None = None) -> None:
        key = key or self.cursor_key
        if key is None or not self.markable:
            return
        self.marks.symmetric_difference_update({key})
        self._anchor = key
        self._marks_changed()

    def mark_range(self) -> int:
        """Mark every row from the last mark (the anchor) to the cursor; returns how many."""
        if not self.markable or self.cursor_key is None:
            return 0
        positions = self._positions()
        start = positions.get(self._anchor or "", self._cursor)
        low, high = sorted((start, self._cursor))
        span = self._keys[low:high + 1]
        self.marks.update(span)
        self._anchor = self.cursor_key
        self._marks_changed()
        return len(span)

    def mark_all(self) -> None:
        """Mark every row of the current filter (not only those on screen)."""
        if self.markable and self._keys:
            self.marks.update(self._keys)
            self._marks_changed()

    def clear_marks(self) -> bool:
        had = bool(self.marks)
        self.marks.clear()
        self._anchor = None
        if had:
            self._marks_changed()
        return had

    def unmark(self, keys: Iterable[str]) -> None:
        self.marks.difference_update(keys)
        self._marks_changed()

    @property
    def hidden_marks(self) -> int:
        """Marked rows the filter hides."""
        return len(self.marks - self._key_set()) if self.marks else 0

    def chosen(self) -> list[str]:
        """The marked rows (in table order, then those the filter hides), else the cursor row."""
        if self.marks:
            shown = [k for k in self._keys if k in self.marks]
            if len(shown) != len(self.marks):
                shown += sorted(self.marks - self._key_set(), key=lambda k: (len(k), k))
            return shown
        return [self.cursor_key] if self.cursor_key else []

    def marks_text(self) -> str:
        """ "12 marked, 3 hidden by the filter" (empty without marks)."""
        if not self.marks:
            return ""
        hidden = self.hidden_marks
        return f"{len(self.marks):,} marked" + (
            f", {hidden:,} hidden by the filter" if hidden else "")

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        parts = [self.marks_text()]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”: {len(self._keys):,} "
                         f"row{'' if len(self._keys) == 1 else 's'}")
        text = " · ".join(p for p in parts if p)
        self.query_one(".table-status", Static).update(safe_for_terminal(text))
        self.set_class(bool(text), "-status")

    # ------------------------------------------------------------------ filter and sort

    def set_filter(self, text: str, *, typed: bool = False) -> None:
        """Show the rows matching `text` (typed: it comes from the filter line, left as is)."""
        text = " ".join(text.split())
        if text == self.filter_text:
            return
        self.filter_text = text
        if self.is_mounted:
            field = self.query_one(FilterInput)
            if not typed and field.value.strip() != text:
                field.value = text
            self.set_class(bool(text) or field.has_focus, "-filtering")
        self.reload(data_changed=False)

    def open_filter(self) -> None:
        self.add_class("-filtering")
        field = self.query_one(FilterInput)
        field.value = self.filter_text
        field.focus()
        field.cursor_position = len(field.value)
        self._load_search_index()

    def _typing_filter(self) -> bool:
        """The user is at this table's filter line, on the screen in front. Otherwise the
        index dropped by a data change loads again only when the filter is next used: another
        session's commits, noticed every 2 s, must not rebuild the index of every filtered
        table of every screen in the stack."""
        if not self.is_mounted or self.screen is not self.app.screen:
            return False
        return self.query_one(FilterInput).has_focus

    def _load_search_index(self) -> None:
        """Let the source prepare in-memory filtering off the UI thread (the Store gives each
        thread its own connection)."""
        load = self._source.search_loader()
        if load is not None:
            self.run_worker(load, thread=True, group="search-index", exit_on_error=False,
                            name=f"search index {self.id or ''}")

    def close_filter(self, *, clear: bool) -> None:
        field = self.query_one(FilterInput)
        if clear:
            field.value = ""
        self.set_filter(field.value)
        self.set_class(bool(self.filter_text), "-filtering")
        self.body.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value, typed=True)
        self._load_search_index()  # dropped by a data change since `/`: this one ran in SQL

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close_filter(clear=False)

    def sort_by(self, column: str | None, descending: bool = False) -> None:
        self.sort_key = column
        self.sort_descending = descending
        self._widths = None
        self.reload(data_changed=False)

    def cycle_sort(self, column: str | None = None) -> None:
        """`o`: the next column ascending, or the same column descending (a header click
        names the column: ascending, then descending, then back to the default order)."""
        keys = [c.key for c in self._columns]
        if column is not None:
            if self.sort_key != column:
                self.sort_by(column)
            elif not self.sort_descending:
                self.sort_by(column, True)
            else:
                self.sort_by(None)
            return
        if self.sort_key is None:
            self.sort_by(keys[0])
        elif not self.sort_descending:
            self.sort_by(self.sort_key, True)
        else:
            index = keys.index(self.sort_key) + 1 if self.sort_key in keys else 0
            self.sort_by(keys[index] if index < len(keys) else None)

    # ------------------------------------------------------------------ drawing

    def _icons(self) -> IconSet:
        # once per table: icons() reads the config file, and rows are drawn line by line
        if self._icon_set is None:
            self._icon_set = icons()
        return self._icon_set

    def _mark_width(self) -> int:
        return len(self._icons().mark) + 1 if self.markable else 0

    def _column_widths(self, width: int) -> list[int]:
        """Each column's width; 0 hides it. When the table is too wide for the terminal, the
        widest shrinkable columns shrink first (never below their minimum or their short
        header; amounts never shrink: a cut amount would read as another one), then the
        rightmost columns are hidden; the `keep` column (the row's name, e.g. "Jackson
        National 2207") stays whole, and is cut only when it alone is wider than the table."""
        if self._widths is not None and self._widths_for == width:
            return self._widths
        columns = self._columns
        arrow = {c.key: 2 if c.key == self.sort_key else 0 for c in columns}
        natural = [c.width or max(n, len(c.label) + arrow[c.key], 1)
                   for c, n in zip(columns, self._natural, strict=True)]
        room = width - self._mark_width()
        shown = list(range(len(columns)))

        def floor(i: int) -> int:
            c, n = columns[i], natural[i]
            if c.width or c.right or c.keep:
                return n
            header = len(c.header(0)) + arrow[c.key]
            return min(n, max(c.min_width, header, 1))

        def space(cols: list[int]) -> int:
            return room - 2 * len(cols)

        # hide the rightmost columns (not the kept one) while even their floors do not fit
        while sum(floor(i) for i in shown) > space(shown) and len(shown) > 1:
            victims = [i for i in shown if not columns[i].keep]
            if not victims:
                break
            shown.remove(victims[-1])
        widths = [0] * len(columns)
        for i in shown:
            widths[i] = natural[i]
        avail = space(shown)
        if sum(widths) > avail:
            floors = {i: floor(i) for i in shown}
            cap = max(widths)
            while cap > 1 and sum(max(min(natural[i], cap), floors[i]) for i in shown) > avail:
                cap -= 1
            for i in shown:
                widths[i] = max(min(natural[i], cap), floors[i])
            over = sum(widths) - avail
            if over > 0:  # the kept column alone does not fit: cut it (it is never hidden)
                for i in shown:
                    if columns[i].keep:
                        widths[i] = max(1, widths[i] - over)
        self._widths = widths
        self._widths_for = width
        return widths

    def _clicked(self, x: int, y: int) -> None:
        body = self.body
        if y == 0:
            column = self._column_at(x)
            if column is not None:
                self.cycle_sort(column)
            return
        index = int(body.scroll_y) + y - 1
        if index >= len(self._keys):
            return
        body.focus()
        if index == self._cursor:  # a click on the highlighted row opens it
            body.action_open()
        else:
            self._set_cursor(index)

    def _column_at(self, x: int) -> str | None:
        left = self._mark_width()
        for column, w in zip(self._columns, self._column_widths(self.body.size.width),
                             strict=True):
            if not w:
                continue
            if left <= x < left + w + 2:
                return column.key
            left += w + 2
        return None

    def _render_line(self, body: TableBody, y: int) -> Strip:
        width = body.size.width
        base = body.rich_style
        widths = self._column_widths(width)
        if y == 0:
            style = base + body.get_component_rich_style("record-table--header")
            labels: list[Cell] = []
            i = self._icons()
            for c, w in zip(self._columns, widths, strict=True):
                arrow = ""
                if c.key == self.sort_key:
                    arrow = " " + (i.sort_down if self.sort_descending else i.sort_up)
                labels.append(c.header(w - len(arrow)) + arrow)
            return self._strip(labels, widths, " " * self._mark_width(), style, width)
        index = int(body.scroll_y) + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[index]
        cells = self._entry(index)[0]
        style = base
        if index % 2 == 1:
            style += body.get_component_rich_style("record-table--even")
        marked = key in self.marks
        if marked:
            style += body.get_component_rich_style("record-table--marked")
        if index == self._cursor:
            style += body.get_component_rich_style("record-table--cursor")
        mark = (self._icons().mark if marked else "").ljust(self._mark_width())
        return self._strip(cells, widths, mark, style, width)

    def _strip(self, cells: Sequence[Cell], widths: list[int], mark: str, style: Style,
               width: int) -> Strip:
        console = self.app.console
        segments: list[Segment] = [Segment(mark)] if mark else []
        for column, cell, w in zip(self._columns, cells, widths, strict=False):
            if not w:  # hidden: the table is too narrow for it
                continue
            # a cell is data: shown, never obeyed (a Text keeps its spans: one for one)
            if isinstance(cell, Text):
                text = cell.copy()
                if not text.plain.isprintable():
                    text.plain = safe_for_terminal(text.plain, multiline=False)
            else:
                raw = str(cell)
                text = Text(raw if raw.isprintable() else safe_for_terminal(raw, multiline=False))
            text.no_wrap = True
            if text.cell_len > w:
                text.truncate(w, overflow="ellipsis")
            pad = " " * (w - text.cell_len)
            segments.append(Segment(" " + pad if column.right else " "))
            segments.extend(s for s in text.render(console, end="") if s.text)
            segments.append(Segment(" " if column.right else pad + " "))
        return Strip(segments).apply_style(style).crop_extend(0, width, style)
