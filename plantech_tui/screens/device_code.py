"""The OAuth device-flow dialog (Salesforce's login): the verification URL and the user code,
large, selectable and copyable, while the login is approved elsewhere (a browser on any
machine: the TUI may run over SSH). Esc cancels the login; the form dismisses the dialog
when the login is done or failed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ..partners.base import DeviceCode
from ..widgets.fmt import shown
from . import actions
from .base import PlantechModal


def spaced(code: str) -> str:
    """The code as a person copies it by eye: letters apart, in two groups."""
    text = shown(code).upper()
    half = (len(text) + 1) // 2 if len(text) >= 6 else len(text)
    return "  ".join((" ".join(text[:half]), " ".join(text[half:]))).strip()


class DeviceCodeModal(PlantechModal[None]):
    ACTIONS = actions.DEVICE_CODE

    def __init__(self, code: DeviceCode) -> None:
        super().__init__()
        self.code = code

    def compose(self) -> ComposeResult:
        c = self.code
        with Vertical(classes="dialog device-code"):
            yield Static(f"Connect {shown(c.partner)}", classes="dialog-title", markup=False)
            yield Static("1. On any device, open:", classes="dialog-body", markup=False)
            yield Static(shown(c.url), id="device-url", classes="device-url", markup=False)
            yield Static("2. Log in, then enter this code:", classes="dialog-body",
                         markup=False)
            yield Static(spaced(c.code), id="device-code", classes="device-code-text",
                         markup=False)
            yield Static(f"{self.icons.pulling} Waiting for approval… (checked every "
                         f"{c.interval:g} s; esc cancels)", id="device-status",
                         classes="status", markup=False)
            with Horizontal(classes="buttons"):
                yield self.action_button("copy_code", "primary", id="copy-code")
                yield self.action_button("cancel", "default", id="cancel")

    def on_button_pressed(self, event: object) -> None:
        button = getattr(event, "button", None)
        if getattr(button, "id", None) == "copy-code":
            self.action_copy_code()
        else:
            self.action_cancel()

    def action_copy_code(self) -> None:
        self.app.copy_to_clipboard(self.code.code)
        self.notify(f"Copied the code {self.code.code} (OSC 52: your terminal's clipboard).",
                    title="Copy")
