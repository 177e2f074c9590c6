"""Export CSV (e): what this role can see, written with the CLI's CSV rules."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from ..cli import CSV_COLUMNS, _csv_safe
from ..domain.errors import PlantechError, UsageError
from .base import FormMixin, PlantechModal, button, field_row


def csv_text(rows: list[dict[str, Any]], columns: Sequence[str] = CSV_COLUMNS) -> str:
    """The same document as `plantech export --csv` (its cell rule, `_csv_safe`, is reused:
    plain decimals, cells starting with = + - @ prefixed with ')."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_csv_safe(r[c]) for c in columns])
    return buf.getvalue()


def default_name(plan_id: int, plan_name: str, suffix: str = "") -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan_name.casefold()).strip("-") or "plan"
    return f"plan-{plan_id}-{slug}{suffix}.csv"


class ExportModal(FormMixin, PlantechModal[str | None]):
    """Export CSV: by default the plan's accounts, pending and ignored rows (`rows` and
    `columns` export something else of the plan, e.g. its audit log)."""

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
        self.confirm_overwrite: Path | None = None

    def compose(self) -> ComposeResult:
        name = default_name(self.plan_id, self.ws.plan(self.plan_id).name, self.suffix)
        with Vertical(classes="dialog form wide"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.note, classes="note", markup=False)
            yield field_row("File", Input(name, id="field-path"))
            yield Static("In the current directory unless you give a path.", classes="note")
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Export", "ok", "primary")
                yield button("Cancel", "cancel")

    def on_mount(self) -> None:
        self.clear_form_error()
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.confirm_overwrite = None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.export()
        else:
            self.dismiss(None)

    def export(self) -> None:
        path = Path(self.query_one(Input).value.strip()).expanduser()
        try:
            if not path.name:
                raise UsageError("give a file name")
            if path.exists() and self.confirm_overwrite != path:
                self.confirm_overwrite = path
                raise UsageError(f"{path} exists: press Export again to overwrite it")
            rows = self.rows()
            try:
                path.write_text(csv_text(rows, self.columns), encoding="utf-8")
            except OSError as exc:
                raise PlantechError(f"cannot write {path}: {exc.strerror}") from None
        except PlantechError as exc:
            self.show_form_error(exc)
            return
        self.notify(f"Wrote {len(rows):,} rows to {path.resolve()}.", title=self.title_text)
        self.dismiss(str(path))
