"""What every screen shares: role-gated bindings and palette commands, error display, forms.

A screen declares its actions once, in `ACTIONS` (a tuple of screens/actions.py's
`ActionSpec`); its BINDINGS, `REQUIRES` (the permission each action needs) and `PALETTE` are
generated from them when the class is made. A control a role may not use is not drawn (SPEC
§1): `check_action` refuses it (so the key, the footer and `run_action` all say no), and the
palette, `?` help and the buttons list only permitted ones. The workspace refuses them too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from ..domain.errors import PermissionDenied, PlantechError, ValidationFailed
from ..domain.permissions import Action
from ..widgets.fmt import shown
from ..widgets.icons import IconSet
from .actions import MODAL, SCREEN, ActionSpec, bindings, palette

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from ..app import PlantechApp
    from ..service.workspace import Workspace

T = TypeVar("T")
PaletteEntry = tuple[str, str, str]  # (title as in the seed, action, help)
Command = tuple[str, str, Callable[[], Any]]


class WorkerFailed(Message):
    """A screen's worker failed: the app reports it (Worker.StateChanged does not bubble, so
    each screen hands its own up; App.report_worker is the one place that says it)."""

    def __init__(self, worker: Worker[Any]) -> None:
        super().__init__()
        self.worker = worker


class RoleGated:
    """Mixin for screens: bindings and palette commands built from `ACTIONS`, gated by
    `ws.can(...)` in `check_action`."""

    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = ()  # this class's own (its bases' are added)
    SPECS: ClassVar[tuple[ActionSpec, ...]] = ()  # the class's and its bases', own first
    REQUIRES: ClassVar[dict[str, Action]] = {}
    PALETTE: ClassVar[tuple[PaletteEntry, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "ACTIONS" in cls.__dict__:  # before Textual merges the class's BINDINGS
            cls.BINDINGS = bindings(cls.ACTIONS)  # type: ignore[attr-defined]
            inherited = [s for base in cls.__mro__[1:] for s in base.__dict__.get("SPECS", ())]
            specs: list[ActionSpec] = []
            for spec in [*cls.ACTIONS, *inherited]:
                if spec not in specs:
                    specs.append(spec)
            cls.SPECS = tuple(specs)
            cls.REQUIRES = {s.name: s.requires for s in reversed(specs) if s.requires}
            cls.PALETTE = palette(cls.ACTIONS)
        super().__init_subclass__(**kwargs)

    @property
    def papp(self) -> PlantechApp:
        return cast("PlantechApp", cast(Screen[Any], self).app)

    @property
    def ws(self) -> Workspace:
        return self.papp.workspace

    @property
    def icons(self) -> IconSet:
        return self.papp.icons

    @functools.cached_property
    def crm(self) -> str:
        """How screens name the partner: "Redtail" while every integration in sight is
        Redtail's (the web product's words), that partner's name when there is one other,
        "CRM" when a user works with several (Redtail and Salesforce). Asked once per screen
        (a query): its column titles are composed once too, so a screen never mixes words."""
        from ..partners import registry

        names = set(self.ws.partners_in_sight())
        if len(names) == 1:
            try:
                return registry.by_name(names.pop()).label
            except PlantechError:
                return "CRM"
        return "Redtail" if not names else "CRM"

    def permitted(self, action: str) -> bool:
        need = self.REQUIRES.get(action)
        return need is None or self.ws.can(need)

    def spec(self, name: str) -> ActionSpec:
        """The screen's action of this name (the method's, `ignore`) or id (`stop-ignoring`)."""
        for spec in self.SPECS:
            if name in (spec.name, spec.id):
                return spec
        raise KeyError(name)

    def key_display(self, spec: ActionSpec) -> str:
        """The key of `spec` as a label names it ("i", "ctrl+s", "/"), remapped by `[keys]`
        if it was."""
        return self.papp.key_display(spec)

    def key_of(self, name: str) -> str:
        """The key of the screen's action `name` (or id) as text, remapped if it was: "n"."""
        return self.key_display(self.spec(name))

    def labelled(self, spec: ActionSpec, label: str | None = None) -> str:
        """A button's label: "Ignore (i)" (its key as remapped)."""
        text = label or spec.button or spec.title
        return f"{text} ({self.key_display(spec)})" if spec.key else text

    def hint_line(self, *parts: str) -> str:
        """The line under a table: each part a literal ("enter open") or an action's name or
        id, shown as its key (as remapped) and its hint word ("/ filter"); actions the role
        may not use are left out."""
        from .actions import TABLE_KEYS

        words = []
        for part in parts:
            if part in TABLE_KEYS:
                words.append(f"{self.papp.key_display_of(part, TABLE_KEYS[part])} {part}")
                continue
            try:
                spec = self.spec(part)
            except KeyError:
                words.append(part)
                continue
            if self.permitted(spec.name):
                words.append(f"{self.key_display(spec)} {spec.hint or spec.title.lower()}")
        return " · ".join(words)

    def action_button(self, name: str, variant: str = "default", id: str | None = None
                      ) -> Button:
        """The button of the action `name` (the registry's label and key); pressing it runs
        the action (on_button_pressed of the screen: `btn-<action>` ids)."""
        spec = self.spec(name)
        return button(self.labelled(spec), id or f"btn-{spec.name}", variant)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.app.post_message(WorkerFailed(event.worker))  # type: ignore[attr-defined]

    def action_state(self, action: str) -> bool | None:
        """Whether an action applies now (False hides it, None dims it)."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.permitted(action):
            return False
        return self.action_state(action)

    def palette_commands(self) -> list[Command]:
        screen = cast(Screen[Any], self)
        return [(title, help_, partial(screen.run_action, action))
                for title, action, help_ in self.PALETTE
                if self.permitted(action) and self.palette_state(action)]

    def palette_state(self, action: str) -> bool:
        return self.action_state(action) is not False

    def refused(self, action: str) -> bool:
        """For action methods called directly (not through a key or the palette): True, with
        the workspace's own refusal shown, when the role may not use `action`."""
        if self.permitted(action):
            return False
        need = self.REQUIRES[action]
        user = self.ws.user
        self.fail(PermissionDenied(f"{user.name} ({user.role.value}) may not use {need.value}"))
        return True

    def fail(self, exc: PlantechError, title: str = "") -> None:
        cast(Screen[Any], self).notify(exc.message, title=title or "Not done",
                                       severity="error", timeout=10)


class PlantechScreen(RoleGated, Screen[Any]):
    # back, and `plantech demo`'s presenter keys: near the front of every footer, so a crowded
    # one still shows them; the app's check_action hides them outside the demo
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = SCREEN

    # the screen's on_mount reads everything: the resume that follows the mount needn't again
    REFRESHED_ON_MOUNT: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._refresh_pending = False
        self._resumed = False

    def refresh_bindings(self) -> None:
        """Coalesced: the footer recomposes once per refresh, however many changes asked."""
        if self._refresh_pending:
            return
        self._refresh_pending = True

        def publish() -> None:
            self._refresh_pending = False
            super(PlantechScreen, self).refresh_bindings()

        self.call_after_refresh(publish)

    def refresh_data(self) -> str | None:
        """Re-read from the workspace and update in place; returns what changed, if anything."""
        return None

    def shown_to(self, action: Action) -> bool:
        """For a screen only some roles see (its on_mount asks first): False, and the screen
        leaves, when the user may not `action`. Nothing of it is drawn or read for others."""
        if self.ws.can(action):
            return True
        self.app.call_later(self.dismiss, None)
        return False

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)

    def on_screen_resume(self) -> None:
        if self._resumed or not self.REFRESHED_ON_MOUNT:
            self.refresh_data()
        self._resumed = True
        self.refresh_bindings()


class PlantechModal(RoleGated, ModalScreen[T]):
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = MODAL

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextModal(PlantechModal[None]):
    """A read-only dialog: a heading, a scrolling text, Close (esc). Subclasses give the
    heading and the text (and, for styling, the classes and ids below)."""

    DIALOG_CLASSES: ClassVar[str] = "dialog wide"
    SCROLL_ID: ClassVar[str | None] = None
    TEXT_ID: ClassVar[str | None] = None

    def heading(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.DIALOG_CLASSES):
            yield Static(shown(self.heading()), classes="dialog-title", markup=False)
            with VerticalScroll(id=self.SCROLL_ID):
                yield Static(shown(self.text()), id=self.TEXT_ID, markup=False)
            with Horizontal(classes="buttons"):
                yield button("Close (esc)", "close", "primary")

    def on_mount(self) -> None:
        # an esc typed ahead may have closed the dialog before it mounted: nothing to focus
        for close in self.query("#close").results(Button):
            close.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)


class FormMixin:
    """Inputs and selects with ids `field-<name>`; errors keep what was typed and focus the
    field at fault."""

    def field_values(self, names: Iterable[str]) -> dict[str, Any]:
        node = cast(Widget, self)
        out: dict[str, Any] = {}
        for name in names:
            widget = node.query_one(f"#field-{name}")
            if isinstance(widget, Input):
                out[name] = widget.value
            elif isinstance(widget, Select):
                out[name] = None if widget.value is Select.NULL else widget.value
        return out

    def show_form_error(self, exc: PlantechError) -> None:
        node = cast(Widget, self)
        icon = cast(RoleGated, self).icons.error
        node.query_one("#form-error", Static).update(shown(f"{icon} {exc.message}"))
        node.query_one("#form-error").display = True
        field = exc.field if isinstance(exc, ValidationFailed) else None
        if field:
            for widget in node.query(f"#field-{field}"):
                widget.focus()
                if isinstance(widget, Input):
                    widget.select_all()  # kept, and typing replaces it
                break

    def form_changes(self, names: Iterable[str], before: dict[str, Any]) -> list[str]:
        """The fields whose value differs from `before` (the form as it was shown)."""
        now = self.field_values(names)
        return [name for name in now if now[name] != before.get(name, now[name])]

    def leave_or_ask(self, changed: list[str], leave: Callable[[], Any]) -> None:
        """esc / Cancel in a form: leave at once when nothing changed; otherwise ask, with
        Keep editing focused, so an esc pressed by habit or typed ahead loses nothing."""
        from .dialogs import ConfirmModal

        if not changed:
            leave()
            return

        def chosen(value: str | None) -> None:
            if value == "discard":
                leave()

        fields = ", ".join(name.replace("_", " ") for name in changed)
        cast(Widget, self).app.push_screen(ConfirmModal(
            "Discard your changes?",
            f"You changed: {fields}. They are not saved. Save with ctrl+s, or discard them.",
            [("Discard changes", "discard", "error")], cancel_label="Keep editing"), chosen)

    def clear_form_error(self) -> None:
        node = cast(Widget, self)
        node.query_one("#form-error", Static).update("")
        node.query_one("#form-error").display = False


def field_row(label: str, *widgets: Widget, id: str | None = None) -> Horizontal:
    """One line of a form: the label, then its compact input(s). An input without a
    placeholder gets one, so an empty field still says where to type (with the box drawn by
    the stylesheet)."""
    for widget in widgets:
        if isinstance(widget, Input | Select):
            widget.compact = True
        if isinstance(widget, Input) and not widget.placeholder:
            widget.placeholder = f"type the {label.lower()}" if not widget.password \
                else f"type the {label.lower()} (hidden)"
    return Horizontal(Label(label, classes="field-label"), *widgets, classes="field-row", id=id)


def button(label: str, id: str, variant: str = "default") -> Button:
    return Button(label, id=id, variant=variant, compact=True)  # type: ignore[arg-type]
