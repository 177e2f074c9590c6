"""PlantechApp: the screens, the global keys, the current user, and the pull worker.

Pulls run as async workers on the app's event loop: HTTP is awaited, the engine's short
SQLite apply runs inline (one BEGIN IMMEDIATE), so input is never blocked for long and the
UI's own connection sees the result at once. Another process's commits are noticed by
polling `PRAGMA data_version` (the next poll is armed only when the last one finished).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.reactive import reactive

from .domain.errors import PlantechError
from .domain.permissions import Action
from .domain.report import RefreshReport
from .service.workspace import Workspace
from .widgets.icons import IconSet, icons

ClientFor = Callable[[Any], Any]
POLL_SECONDS = 2.0


class PlantechCommands(Provider):
    """The command palette: the current screen's commands (seed names) plus global ones,
    only those the current role may use."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, PlantechApp)
        return app.palette_commands(self.screen)

    async def discover(self) -> Hits:
        for title, help_, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_)


class PlantechApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "PlanTech"
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit"),
        Binding("g", "global_menu", "Menu", id="global-menu"),
        Binding("question_mark", "help", "Help", id="help"),
    ]
    COMMANDS = App.COMMANDS | {PlantechCommands}
    REQUIRES: ClassVar[dict[str, Action]] = {
        "advisor_integration": Action.ADVISOR_INTEGRATION,
    }
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("Advisor Integration", "advisor_integration", "Your Redtail integrations"),
        ("Plans", "plans", "Back to the list of plans"),
        ("Help", "help", "Keys and what they do"),
    )

    pull_status: reactive[str] = reactive("")

    def __init__(self, db_path: Path | str | None = None, user_name: str | None = None, *,
                 client_for: ClientFor | None = None, workspace: Workspace | None = None,
                 ) -> None:
        if workspace is None:
            if db_path is None:
                raise ValueError("db_path or workspace is required")
            workspace = Workspace.open(db_path, user_name)
        super().__init__()
        self.workspace = workspace
        self.client_for = client_for
        self.icons: IconSet = icons()
        self.sub_title = workspace.user.label
        self.pulls: dict[int, str] = {}  # plan id → trigger of the pull in flight
        self.last_report: RefreshReport | None = None
        self._data_version = -1

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Any:
        from .screens.plans import PlansScreen

        return PlansScreen()

    def on_mount(self) -> None:
        self._data_version = self.workspace.store.data_version()
        self._warm_credentials()
        self.set_timer(POLL_SECONDS, self._poll)

    @work(thread=True, exit_on_error=False, group="credentials")
    def _warm_credentials(self) -> None:
        """Open the credential store off the UI thread (the keyring probe may take up to
        2 s); say once in the UI when it falls back to the file store."""
        from .sync.actions import credential_store

        def tell(message: str) -> None:
            self.call_from_thread(self.notify, message, title="Credentials",
                                  severity="warning", timeout=10)

        try:
            credential_store(notify=tell)
        except PlantechError as exc:
            tell(exc.message)

    # ------------------------------------------------------------------ permissions

    def permitted(self, action: str) -> bool:
        need = self.REQUIRES.get(action)
        return need is None or self.workspace.can(need)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.permitted(action)

    def palette_commands(self, screen: Any) -> list[tuple[str, str, Callable[[], Any]]]:
        from functools import partial

        commands = []
        if hasattr(screen, "palette_commands"):
            commands.extend(screen.palette_commands())
        seen = {c[0] for c in commands}
        for title, action, help_ in self.PALETTE:
            if title not in seen and self.permitted(action):
                commands.append((title, help_, partial(self.run_action, action)))
        return commands

    # ------------------------------------------------------------------ navigation

    def action_global_menu(self) -> None:
        from .screens.dialogs import MenuModal

        if isinstance(self.screen, MenuModal):
            return
        items = [("Plans", "plans")]
        if self.workspace.can(Action.ADVISOR_INTEGRATION):
            items.append(("Advisor Integration", "advisor_integration"))
        items += [("Help (?)", "help"), ("Quit (ctrl+q)", "quit")]

        async def chosen(item: str | None) -> None:
            if item:
                await self.run_action(item)

        self.push_screen(MenuModal("Menu", items, css_class="menu global-menu"), chosen)

    def action_plans(self) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_advisor_integration(self) -> None:
        from .screens.advisor_integration import AdvisorIntegrationScreen

        if not self.workspace.can(Action.ADVISOR_INTEGRATION):
            return
        if isinstance(self.screen, AdvisorIntegrationScreen):
            return
        self.push_screen(AdvisorIntegrationScreen())

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def leave_plan(self) -> None:
        """Back to Plans (the plan or account on screen no longer exists for this user)."""
        from .screens.plans import PlansScreen

        while len(self.screen_stack) > 1 and not isinstance(self.screen, PlansScreen):
            self.pop_screen()
        if isinstance(self.screen, PlansScreen):
            self.screen.refresh_data()

    def open_plan(self, plan_id: int) -> None:
        from .screens.plan import PlanScreen

        self.push_screen(PlanScreen(plan_id))

    # ------------------------------------------------------------------ pulls

    def start_auto_pull(self, plan_id: int) -> None:
        if plan_id not in self.pulls:
            self.run_worker(self._pull(plan_id, manual=False), group="pull",
                            name=f"auto pull {plan_id}", exit_on_error=False)

    def start_refresh(self, plan_id: int) -> bool:
        """Refresh Integrations (ignored, with a word, while a pull of the plan runs)."""
        if not self.workspace.can(Action.REFRESH):
            return False
        if plan_id in self.pulls:
            self.notify("A pull of this plan is already running.", title="Refresh Integrations")
            return False
        self.run_worker(self._pull(plan_id, manual=True), group="pull",
                        name=f"refresh {plan_id}", exit_on_error=False)
        return True

    def _show_pulls(self) -> None:
        self.pull_status = (f"Pulling Redtail ({len(self.pulls)} plans)…" if len(self.pulls) > 1
                            else "Pulling Redtail…" if self.pulls else "")

    async def _pull(self, plan_id: int, *, manual: bool) -> None:
        from .sync.actions import auto_pull_async, refresh_async

        self.pulls[plan_id] = "manual" if manual else "auto"
        self._show_pulls()
        report: RefreshReport | None = None
        try:
            if manual:
                report = await refresh_async(self.workspace, plan_id, client_for=self.client_for)
            else:
                report = await auto_pull_async(self.workspace, plan_id,
                                               client_for=self.client_for)
        except PlantechError as exc:
            self.notify(exc.message, title="Refresh Integrations" if manual else "Redtail pull",
                        severity="error", timeout=10)
        finally:
            self.pulls.pop(plan_id, None)
            self._show_pulls()
        if report is None:
            return
        self.last_report = report
        self.refresh_screens()
        for error in report.errors:
            who = f"contact {error.redtail_contact_id}: " if error.redtail_contact_id else ""
            self.notify(f"{who}{error.message}", title="Redtail", severity="error", timeout=10)
        if manual:
            from .screens.refresh_report import RefreshReportScreen

            self.push_screen(RefreshReportScreen(report, self._plan_name(plan_id)))
        elif report.new or report.changes or report.missing_at_source:
            self.notify(f"{self._plan_name(plan_id)}: {report.summary()}",
                        title="Updated from Redtail")

    def _plan_name(self, plan_id: int) -> str:
        try:
            return self.workspace.plan(plan_id).name
        except PlantechError:
            return f"plan {plan_id}"

    # ------------------------------------------------------------------ other sessions

    def refresh_screens(self) -> list[str]:
        from .screens.base import PlantechScreen

        said = []
        for screen in self.screen_stack:
            if isinstance(screen, PlantechScreen) and screen.is_mounted:
                what = screen.refresh_data()
                if what:
                    said.append(what)
                screen.refresh_bindings()
        return said

    def check_external_changes(self) -> bool:
        """Refresh the screens when another connection committed; say what changed."""
        version = self.workspace.store.data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        said = self.refresh_screens()
        if said:  # quiet when nothing on screen changed (another plan, a no-op pull)
            self.notify("; ".join(said), title="Changed in another session")
        return True

    def _poll(self) -> None:
        try:
            self.check_external_changes()
        except PlantechError as exc:
            self.notify(exc.message, severity="error")
        except sqlite3.Error as exc:  # the file went away or is unreadable: say so, keep going
            self.notify(f"database: {exc}", severity="error")
        finally:
            self.set_timer(POLL_SECONDS, self._poll)


def run_app(db_path: Path | str, user_name: str | None) -> int:
    """`plantech` with no subcommand: refuse an unknown user or a bad database in one line."""
    try:
        app = PlantechApp(db_path, user_name)
    except PlantechError as exc:
        print(f"plantech: error: {exc.message.splitlines()[0]}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(f"plantech: error: cannot open database {db_path}: {exc}", file=sys.stderr)
        return 1
    try:
        app.run()
    finally:
        app.workspace.close()
    return app.return_code or 0
