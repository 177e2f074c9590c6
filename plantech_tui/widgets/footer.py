"""KeyFooter: Textual's Footer, made deliberate at narrow widths.

At 80 columns Textual's footer lays every key out in a row and the last ones are cut ("a Ad▏").
Below `NARROW` columns, or whenever Textual's footer would not fit, this footer turns
compact and shows only the keys whose whole label fits: the screen's own actions first (its
actions marked `first` in its registry, then the others), then `?` Help, which lists the rest, then Back and the
table's keys (the hint line under the table repeats those), never a key that does not apply
to the row at hand (dimmed ones). A label is never cut. Where every key fits it is Textual's
footer as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

NARROW = 100  # columns: below this the footer is compact and shows only whole labels
HELP = "help"
Item = tuple[Binding, bool, str]  # binding, enabled, tooltip


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter.-compact { padding-left: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._laid_out_for = -1  # the width the keys were composed for

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        self._laid_out_for = width
        fits = width >= NARROW and self._full_width() <= width
        self.set_reactive(Footer.compact, not fits)
        self.set_class(not fits, "-compact")
        if fits:
            yield from super().compose()
        else:
            yield from self._narrow_keys()

    def _full_width(self) -> int:
        """The width of Textual's footer, keys not compact: " k " "description " each."""
        total = 0
        seen: set[str] = set()
        for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                total += len(self.app.get_key_display(binding)) + 3 + len(binding.description)
        return total + 14  # the palette key, its border and padding

    def _items(self) -> tuple[list[Item], list[Item], list[Item]]:
        """(the screen's own keys, app keys, the rest), each in Textual's order, one per
        action, only those shown and applying now."""
        screen: Screen[Any] = self.screen
        own: list[Item] = []
        app: list[Item] = []
        rest: list[Item] = []
        seen: set[str] = set()
        for node, binding, enabled, tooltip in screen.active_bindings.values():
            if not binding.show or not enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            if binding.action == "back":
                rest.insert(0, (binding, enabled, tooltip))
            elif node is screen:
                own.append((binding, enabled, tooltip))
            elif node is self.app:
                app.append((binding, enabled, tooltip))
            else:
                rest.append((binding, enabled, tooltip))
        return own, app, rest

    def _width(self, binding: Binding) -> int:
        # compact: "key description" and a margin of 1
        return len(self.app.get_key_display(binding)) + 1 + len(binding.description) + 1

    def _narrow_keys(self) -> Iterator[FooterKey]:
        palette: FooterKey | None = None
        room = self.app.size.width - 2  # the padding on the left, a space on the right
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, binding, enabled, tooltip = found
                palette = FooterKey(binding.key, self.app.get_key_display(binding),
                                    binding.description, binding.action,
                                    classes="-command-palette -compact",
                                    disabled=not enabled,
                                    tooltip=binding.tooltip or binding.description)
                room -= len(self.app.get_key_display(binding)) + 1 + len(
                    binding.description) + 1  # and its border
        own, app, rest = self._items()
        # the screen's main actions (those its registry marks `first`)
        first = [spec.name for spec in getattr(self.screen, "SPECS", ()) if spec.first]
        own.sort(key=lambda item: first.index(item[0].action) if item[0].action in first
                 else len(first))  # stable: the others keep their order
        helps = [item for item in app if item[0].action == HELP]
        others = [item for item in app if item[0].action != HELP]
        room -= sum(self._width(b) for b, _e, _t in helps)  # `?` is always shown
        kept: list[Item] = []
        for item in own + others + rest:
            w = self._width(item[0])
            if w <= room:
                kept.append(item)
                room -= w
        for binding, enabled, tooltip in kept + helps:
            key = FooterKey(binding.key, self.app.get_key_display(binding),
                            binding.description, binding.action, disabled=not enabled,
                            tooltip=tooltip, classes="-compact")
            key.set_reactive(FooterKey.compact, True)
            yield key
        if palette is not None:
            yield palette
