"""Export CSV (e): what this role can see, delivered to the person, never to a path they pick.

Under `plantech serve` the file is a browser download (`App.deliver_text`); in a terminal it is
saved in the person's own export folder (`service/export.py`: a plain file name only, no link
followed, no file replaced). Textual's terminal delivery would write `open(path, "w")` (it
follows links and overwrites), so the terminal case writes the file itself."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ..domain.errors import PlantechError
from ..service.export import (
    CSV_COLUMNS,
    check_file_name,
    csv_text,
    default_name,
    download_name,
    export_folder,
    save_export,
)
from .base import FormMixin, PlantechModal, button, field_row

__all__ = ["CSV_COLUMNS", "ExportModal", "csv_text", "default_name"]


class ExportModal(FormMixin, PlantechModal[str | None]):
    """Export CSV: by default the plan's accounts, pending and ignored rows (`rows` and
    `columns` export something else of the plan, e.g. its audit log). Dismissed with where
    the file went: the path in the export folder, or `browser:NAME`."""

    def __init__(self, plan_id: int, *, title: str = "Export CSV",
                 note: str = "One row per account, pending and ignored account you can see.",
                 rows: Callable[[], list[dict[str, Any]]] | None = None,
                 columns: Sequence[str] = CSV_COLUMNS, suffix: str = "") -> None:
        super().__init__()
        self.plan_id = plan_id
        self.title_text = title
        self.note = note
        self.rows = rows or (lambda: self.ws.export_rows(self.plan_id))
        self.columns = list(columns)
        self.suffix = suffix

    @property
    def in_browser(self) -> bool:
        """Served by textual-serve (`plantech serve`): its WebDriver makes the app `is_web`."""
        return self.app.is_web

    @property
    def folder(self) -> Path:
        user = self.ws.user
        return export_folder(user.name, user.id)

    def compose(self) -> ComposeResult:
        name = default_name(self.plan_id, self.ws.plan(self.plan_id).name, self.suffix)
        where = ("Your browser downloads the file." if self.in_browser
                 else f"Saved in your export folder {self.folder}/ under a new name if this "
                      "one is taken.")
        with Vertical(classes="dialog form wide"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.note, classes="note", markup=False)
            yield field_row("File name", Input(name, id="field-path"))
            yield Static(where, id="export-where", classes="note", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Export", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.clear_form_error()
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.export()
        else:
            self.dismiss(None)

    def export(self) -> None:
        typed = self.query_one(Input).value
        try:
            name = check_file_name(typed)
            rows = self.rows()
            text = csv_text(rows, self.columns)
            count = f"{len(rows):,} row" + ("" if len(rows) == 1 else "s")
            if self.in_browser:
                name = download_name(name)
                self.app.deliver_text(io.StringIO(text), save_filename=name,
                                      mime_type="text/csv", encoding="utf-8")
                where = f"browser:{name}"
                message = f"Sent {count} to your browser as {name}."
            else:
                where = str(save_export(self.folder, name, text))
                message = f"Wrote {count} to {where}."
        except PlantechError as exc:
            self.show_form_error(exc)
            return
        self.notify(message, title=self.title_text, markup=False)
        self.dismiss(where)
