"""The action registries (screens/actions.py) are consistent, so no screen can ship a key that
does nothing, two actions fighting over one key, or a button without its action: the
maintainer who adds an action to a tuple and forgets the method is told here, not by a user."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections import defaultdict
from pathlib import Path

import pytest
from textual.binding import Binding

import plantech_tui.screens as screens_pkg
from plantech_tui.app import PlantechApp
from plantech_tui.screens import actions
from plantech_tui.screens.base import RoleGated

SCREENS_DIR = Path(screens_pkg.__file__).parent


def gated_classes() -> list[type[RoleGated]]:
    for info in pkgutil.iter_modules(screens_pkg.__path__):
        importlib.import_module(f"plantech_tui.screens.{info.name}")
    found: list[type[RoleGated]] = []
    todo = list(RoleGated.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("plantech_tui.screens.")]


CLASSES = gated_classes()


def test_every_screen_is_found() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"PlansScreen", "PlanScreen", "PlanIntegrationScreen", "AccountEditorScreen",
            "AdvisorIntegrationScreen", "AuditLogScreen", "InboxScreen",
            "UserAuditScreen"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_key_is_bound_twice_on_a_screen(cls: type[RoleGated]) -> None:
    """Within a screen (its actions, its bases' and the app's), one key means one action id;
    the same id on two actions (Pause and Play on p) is one key shown for the state at hand.
    The only deliberate overlap: esc is the app's Cancel pull while a pull runs."""
    ids_by_key: dict[str, set[str]] = defaultdict(set)
    for spec in (*cls.SPECS, *actions.APP):
        for key in (spec.key or "").split(","):
            if key:
                ids_by_key[key].add(spec.id)
    clashes = {key: ids for key, ids in ids_by_key.items()
               if len(ids) > 1 and ids not in ({"back", "cancel-pull"}, {"cancel", "cancel-pull"})}
    assert not clashes


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_action_has_its_method(cls: type[RoleGated]) -> None:
    for spec in cls.SPECS:
        owner: type = PlantechApp if spec.action.startswith("app.") else cls
        assert callable(getattr(owner, f"action_{spec.name}", None)), \
            f"{cls.__name__}: {spec.id} runs {spec.action}, which has no action_{spec.name}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_bindings_palette_and_permissions_come_from_the_registry(cls: type[RoleGated]) -> None:
    """The class's BINDINGS are its registry's (every key has an id [keys] can name), and each
    palette entry and permission is a registry action."""
    own = cls.__dict__.get("ACTIONS")
    if own is None:
        return
    bound: list[Binding] = list(cls.__dict__["BINDINGS"])
    assert [(b.key, b.action, b.id) for b in bound] == \
        [(s.key, s.action, s.id) for s in own if s.key]
    assert all(b.id in actions.known_ids() for b in bound)
    names = {s.name for s in cls.SPECS}
    assert {action.split("(")[0] for _t, action, _h in cls.PALETTE} <= names
    assert set(cls.REQUIRES) <= names


def test_app_keys_come_from_the_registry() -> None:
    assert [(b.key, b.action, b.id) for b in PlantechApp.BINDINGS] == [  # type: ignore[union-attr]
        (s.key, s.action, s.id) for s in actions.APP if s.key]
    for spec in actions.APP:
        assert callable(getattr(PlantechApp, f"action_{spec.name}", None)), spec.id


def test_every_button_maps_to_an_action() -> None:
    """Every `action_button("name")` in a screen names an action of its registries, and every
    action with a button label exists as a method."""
    every = {s.name for specs in actions.REGISTRIES.values() for s in specs}
    calls = []
    for path in SCREENS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "action_button" \
                    and node.args and isinstance(node.args[0], ast.Constant):
                calls.append((path.name, node.args[0].value))
    assert calls  # the screens do make their buttons this way
    assert not [(f, name) for f, name in calls if name not in every]
    for cls in CLASSES:
        for spec in cls.SPECS:
            if spec.button:
                assert callable(getattr(cls, f"action_{spec.name}", None)), spec.id


def test_known_ids_are_the_documented_defaults() -> None:
    """SPEC §4's remappable defaults exist under these ids with these keys."""
    keys = {(s.id, s.key) for specs in actions.REGISTRIES.values() for s in specs}
    for pair in [("ignore", "i"), ("stop-ignoring", "I"), ("link", "l"), ("add", "a"),
                 ("pause-play", "p"), ("stop", "s"), ("delete", "d"), ("refresh", "r"),
                 ("export", "e"), ("global-menu", "g"), ("plan-menu", "m"), ("new", "n"),
                 ("quit", "ctrl+q"), ("help", "question_mark")]:
        assert pair in keys
