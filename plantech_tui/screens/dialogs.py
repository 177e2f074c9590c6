"""Small general dialogs: confirm (with several choices) and menus (the "⋮" menus)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from ..widgets.fmt import plain, shown
from .base import PlantechModal, button

Choice = tuple[str, str, str]  # (label, value, variant)


class ConfirmModal(PlantechModal[str | None]):
    """Says what will happen, offers the choices; dismisses with the chosen value.

    Every confirmation here guards something destructive or bulk (Delete, Stop, Remove link,
    a bulk triage), so Cancel has the focus: an `enter` typed ahead, or pressed by habit,
    cancels. The choice is taken with ←/shift+tab (or a click), then enter."""

    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("left", "app.focus_previous", "Previous choice", show=False),
        Binding("right", "app.focus_next", "Next choice", show=False),
    ]

    def __init__(self, title: str, body: str, choices: Sequence[Choice], *,
                 cancel_label: str = "Cancel") -> None:
        super().__init__()
        self._cancel_label = cancel_label
        self._title = title
        self._body = body
        self._choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(shown(self._title), classes="dialog-title", markup=False)
            yield Static(shown(self._body), classes="dialog-body", markup=False)
            with Horizontal(classes="buttons"):
                for label, value, variant in self._choices:
                    yield button(label, f"choice-{value}", variant)  # type: ignore[arg-type]
                yield button(f"{self._cancel_label} (esc)", "choice-cancel")

    def on_mount(self) -> None:
        self.query_one("#choice-cancel", Button).focus()  # enter cancels

    def on_button_pressed(self, event: Button.Pressed) -> None:
        value = (event.button.id or "").removeprefix("choice-")
        self.dismiss(None if value == "cancel" else value)


class MenuModal(PlantechModal[str | None]):
    """A "⋮" menu: a short list of destinations; dismisses with the chosen item's id. An item
    may carry a key ((label, id, key)): pressing it in the menu picks the item at once."""

    def __init__(self, title: str, items: Sequence[tuple[str, str] | tuple[str, str, str]], *,
                 css_class: str = "menu") -> None:
        super().__init__()
        self._title = title
        self._items = [(item[0], item[1]) for item in items]
        self._keys = {item[2]: item[1] for item in items if len(item) > 2}
        self._css_class = css_class

    def compose(self) -> ComposeResult:
        with Vertical(classes=f"dialog {self._css_class}"):
            yield Static(shown(self._title), classes="dialog-title", markup=False)
            yield OptionList(*(Option(plain(label), id=item_id) for label, item_id in self._items),
                             id="menu-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_key(self, event: events.Key) -> None:
        item = self._keys.get(event.character or "")
        if item is not None:
            event.stop()
            self.dismiss(item)
