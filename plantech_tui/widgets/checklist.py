"""A SelectionList whose boxes say whether they are ticked (✓ / x) instead of showing the same
glyph in two colours: meaning never by colour alone (SPEC §2.7)."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import SelectionList
from textual.widgets.option_list import OptionDoesNotExist

from .icons import icons


class CheckList(SelectionList[int]):
    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        try:
            option = self.get_option_at_index(self.scroll_offset.y + y)
        except OptionDoesNotExist:
            return strip
        if len(segments) < 2 or segments[1].text != "X":
            return strip
        ticked = "x" if icons().ok == "ok" else "✓"
        segments[1] = Segment(ticked if option.value in self.selected else " ",
                              segments[1].style)
        return Strip(segments, strip.cell_length)
