"""PlantechApp: the screens, the global keys, the current user, and the pull worker.

Pulls run as async workers on the app's event loop: HTTP is awaited, the engine's short
SQLite apply runs inline (one BEGIN IMMEDIATE), so input is never blocked for long and the
UI's own connection sees the result at once. Another process's commits are noticed by
polling `PRAGMA data_version` (the next poll is armed only when the last one finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from .domain.errors import PlantechError
from .domain.permissions import Action
from .screens.actions import APP as APP_ACTIONS
from .screens.actions import ActionSpec, bindings, palette
from .screens.base import WorkerFailed
from .service.workspace import Workspace
from .widgets.icons import IconSet, icons
from .widgets.record_table import TableBody

if TYPE_CHECKING:  # annotations only: its pydantic models cost ~6 ms at start-up
    from .domain.report import PullError, RefreshReport

ConnectionFor = Callable[[Any], Any]  # an integration → its partner connection (tests)
POLL_SECONDS = 2.0
CREDENTIALS_AFTER = 0.3  # seconds after the first frame: the terminal has drawn it by then
KEY_SETTLE_ROUNDS = 12  # at most this many passes waiting for a key's effects to settle
KEY_SETTLE_WAIT = 1.0  # seconds one pass waits for a busy widget before looking again
# held events whose effects are waited for before the next one (a key, a click, a paste)
SETTLE_AFTER = (events.Key, events.MouseDown, events.MouseUp, events.Click, events.Paste)
REFRESH_ALL_AT_ONCE = 4  # plans pulled at the same time by "Refresh all my plans"
# presenter keys: they exist only while `plantech demo` runs (it passes demo_admin_url)
DEMO_ACTIONS = {"demo_move_balance": "move-balance", "demo_add_account": "add-account",
                "demo_remove_account": "remove-account"}


class CoreNotice(Message):
    """A notice of the core (notices.notice), from any thread, for the user."""

    def __init__(self, text: str, title: str = "Credentials") -> None:
        super().__init__()
        self.text = text
        self.title = title


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
    BINDINGS: ClassVar[list[Binding]] = bindings(APP_ACTIONS)  # type: ignore[assignment]
    COMMANDS = App.COMMANDS | {PlantechCommands}
    UNHELD_KEYS: ClassVar[frozenset[str]] = frozenset({"ctrl+q"})
    REQUIRES: ClassVar[dict[str, Action]] = {
        s.name: s.requires for s in APP_ACTIONS if s.requires}
    PALETTE: ClassVar[tuple[tuple[str, str, str], ...]] = palette(APP_ACTIONS)

    pull_status: reactive[str] = reactive("")

    def __init__(self, db_path: Path | str | None = None, user_name: str | None = None, *,
                 connection_for: ConnectionFor | None = None, workspace: Workspace | None = None,
                 demo_admin_url: str | None = None) -> None:
        from .keys import configured_theme, keymap
        from .screens.actions import known_ids

        keys = keymap(known_ids())  # a wrong [keys] is an error before anything opens
        theme = configured_theme()
        if workspace is None:
            if db_path is None:
                raise ValueError("db_path or workspace is required")
            workspace = Workspace.open(db_path, user_name)
        super().__init__()
        self.keys = keys  # action id → key(s), from [keys] in the config file
        self.set_keymap(keys)
        if theme in self.available_themes:
            self.theme = theme
        self.workspace = workspace
        self.connection_for = connection_for
        self.icons: IconSet = icons()
        self.sub_title = workspace.user.label
        self.pulls: dict[int, str] = {}  # plan id → trigger of the pull in flight
        self.last_report: RefreshReport | None = None
        self.refresh_all_progress: tuple[int, int] | None = None  # (done, of)
        self.pull_progress: dict[int, tuple[int, int]] = {}  # plan id → (contacts done, of)
        self._pull_cancel: dict[int, asyncio.Event] = {}
        self._pull_clock = 0.0  # monotonic start of the oldest pull in flight
        self._pull_ticker: Any = None
        # the presenter keys: only `plantech demo` hands the fake's admin URL in
        self.demo_admin_url = demo_admin_url
        self._data_version = -1
        # type-ahead (see on_event): keys that arrived while an earlier key's effects settle
        self._keys_held: deque[events.Event] = deque()
        self._keys_busy = False
        self._keys_replaying: events.Event | None = None
        self._keys_settler: asyncio.Task[None] | None = None
        self._keys_idle = asyncio.Event()
        self._keys_idle.set()

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Any:
        from .screens.plans import PlansScreen

        return PlansScreen()

    def on_mount(self) -> None:
        from . import notices

        notices.claim(self._say)  # not stderr: under the full screen nobody would see it
        self.theme_changed_signal.subscribe(self, self._keep_theme)
        self._data_version = self.workspace.store.data_version()
        self.call_after_refresh(self._started)
        self.set_timer(POLL_SECONDS, self._poll)
        if self.demo_admin_url:
            self._demo_start()

    def _keep_theme(self, theme: Any) -> None:
        """A theme chosen (ctrl+p → Theme) is kept in the config file for the next start."""
        from .keys import configured_theme, save_theme

        try:
            if configured_theme() != theme.name:
                save_theme(theme.name)
        except PlantechError as exc:
            self.notify(exc.message, title="Theme not kept", severity="warning", timeout=8)

    def key_display_of(self, action_id: str, default: str | None, *, footer: bool = False
                       ) -> str:
        """The (first) key of an action id, remapped by `[keys]` if it was: "ctrl+s", "/",
        "space" (with `footer`: as the footer shows it, "^s")."""
        key = (self.keys.get(action_id) or default or "").split(",")[0].strip()
        if not key:
            return ""
        if key.startswith("ctrl+") and not footer:
            return key
        return self.get_key_display(Binding(key, action_id))

    def key_display(self, spec: ActionSpec, *, footer: bool = False) -> str:
        return self.key_display_of(spec.id, spec.key, footer=footer)

    def _demo_start(self) -> None:
        """The demo only: SIGTERM quits the usual way (the terminal is given back, then
        `plantech demo` removes its temp dir; SIGHUP is demo.py's); the tour, unless it was
        seen already."""
        import signal

        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, partial(self.exit, return_code=128 + signal.SIGTERM))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
        marker = os.environ.get("PLANTECH_DEMO_TOUR")
        if marker:
            from .screens.tour import TourScreen

            self.push_screen(TourScreen(Path(marker)))

    def _started(self) -> None:
        """After the first frame: `plantech` turned garbage collection off for start-up
        (cli.dispatch); what start-up built lives as long as the app, so it is frozen out of
        every later collection. Then the keyring/httpx imports, which would have delayed the
        first frame."""
        if not gc.isenabled():
            gc.freeze()
            gc.enable()
        self.set_timer(CREDENTIALS_AFTER, self._warm_credentials)

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notice of the app and its screens comes here (`Widget.notify` calls it):
        notices carry data (a Redtail message, an account's description), and data is never
        markup nor a terminal command. `markup` is ignored: no notice of ours uses markup."""
        from .domain.text import safe_for_terminal

        super().notify(safe_for_terminal(str(message)),
                       title=safe_for_terminal(str(title), multiline=False),
                       severity=severity, timeout=timeout, markup=False)

    def on_unmount(self) -> None:
        from . import notices

        notices.release(self._say)
        if self.demo_admin_url:  # the loop may outlive the app (tests): SIGTERM is not ours
            import signal

            try:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _say(self, message: str) -> None:
        """A one-time notice of the core (the credential store's fallback), from any thread:
        it reaches the app as a `CoreNotice` message. Never waits for the UI: the thread
        saying it may hold the credential store's lock while the UI thread waits on that lock
        (call_from_thread would deadlock); post_message only queues."""
        from . import notices

        loop = self._loop
        if (self._closing or not self._running or loop is None or loop.is_closed()
                or not self.post_message(CoreNotice(message))):
            notices.to_stderr(message)  # not running (any more): say it where a CLI would

    def on_core_notice(self, message: CoreNotice) -> None:
        from . import notices

        if self._closing or not self._running:  # quitting: say it where a CLI would
            notices.to_stderr(message.text)
        else:
            self.notify(message.text, title=message.title, severity="warning", timeout=10)

    # ------------------------------------------------------------------ workers

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (pulls, the credential probe, the demo's presenter keys)."""
        self.report_worker(event.worker)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """A screen's worker (screens forward their failures here: screens/base.py)."""
        self.report_worker(message.worker)

    def report_worker(self, worker: Worker[Any]) -> None:
        """The one place a background task's failure is reported and logged: every worker
        runs with exit_on_error=False, so an exception no worker expected (not only a
        PlantechError) shows as a notice, goes to the log with its traceback, and the app
        carries on."""
        if worker.state is not WorkerState.ERROR or worker.error is None:
            return
        import logging

        from .domain.text import clean_line

        error = worker.error
        what = worker.name or worker.group or "a background task"
        logging.getLogger("plantech.app").error("worker %r failed", what, exc_info=error)
        if isinstance(error, PlantechError):
            text = error.message
        else:
            text = (f"{what} failed unexpectedly: {type(error).__name__}: "
                    f"{clean_line(str(error), 300) or 'no detail'}. It is in the log "
                    "(plantech doctor says where); nothing else was affected.")
        self.notify(text, title="Something went wrong", severity="error", timeout=15)

    @work(thread=True, exit_on_error=False, group="credentials")
    def _warm_credentials(self) -> None:
        """Open the credential store off the UI thread (the keyring probe may take up to
        2 s); its fallback notice reaches the UI through `_say`. A pull that needs the store
        first waits for this probe rather than running a second one."""
        from .sync.credentials import credential_store

        try:
            credential_store()
        except PlantechError as exc:
            self._say(exc.message)

    # ------------------------------------------------------------------ type-ahead

    async def on_event(self, event: events.Event) -> None:
        """Keys are handled one at a time, each after the last one's effects settled.

        Over a slow SSH link keystrokes arrive in bursts: `/fidelity⏎` in one read. Textual
        hands each key to the widget focused *when the key is read*; a key that opens a screen
        or an input (`/`, `i`, `P`) only takes effect a few messages later, so the rest of the
        burst would reach the screen behind (`d` = Delete there). Here a key that arrives while
        an earlier one's screen push, mount or focus change is still in flight is held, and
        replayed, in order, once the screen and focus are stable again, so it reaches the
        screen or input the earlier key opened."""
        held_kind = isinstance(event, events.InputEvent | events.Paste)
        if isinstance(event, events.Key) and event.key in self.UNHELD_KEYS:
            held_kind = False  # ctrl+q quits at once, whatever is still settling
        if held_kind and not event.is_forwarded:
            if event is self._keys_replaying:
                self._keys_replaying = None
                if not isinstance(event, SETTLE_AFTER):  # a mouse move: next one at once
                    try:
                        await super().on_event(event)
                    finally:
                        self._release_next()
                    return
            elif self._keys_busy:  # a click or paste after a held key waits its turn too
                self._keys_held.append(event)
                return
            elif not isinstance(event, events.Key):
                await super().on_event(event)
                return
            self._keys_busy = True
            self._keys_idle.clear()
            try:
                await super().on_event(event)
            finally:
                self._keys_settler = asyncio.create_task(self._settle_keys())
            return
        await super().on_event(event)

    async def _settle_keys(self) -> None:
        """Wait until the key's effects settled: every widget of the current screen handled
        what was queued (the key itself, the mounts, tab switches and focus changes it
        caused), the screen repainted and ran its after-refresh callbacks, and a pass changed
        neither the screen nor the focus. Then replay the next held key, or let keys through
        directly again."""
        try:
            for _ in range(KEY_SETTLE_ROUNDS):
                if not self.is_running or self._closing:
                    return
                screen, focused = self.screen, self.focused
                await self._drain(screen)
                if (self.screen is screen and self.focused is focused and screen.is_mounted
                        and self._quiet(screen)):
                    break
        except Exception:  # never strand the keys: let them through as Textual would
            import logging

            logging.getLogger("plantech.app").warning("type-ahead: settling a key failed",
                                                      exc_info=True)
        finally:
            self._release_next()

    def _release_next(self) -> None:
        """Replay the next held event, or let events through directly again."""
        if self._keys_held and self.is_running:
            self._keys_replaying = self._keys_held.popleft()
            self.post_message(self._keys_replaying)
        else:
            self._keys_busy = False
            self._keys_idle.set()

    async def keys_settled(self) -> None:
        """Return once every key read so far was handled and its effects settled (for tests
        driving the app: Pilot's idle wait cannot see keys held here)."""
        await self._keys_idle.wait()

    async def _drain(self, screen: Any) -> None:
        """One pass: each running widget of `screen` (and the app) handles what it already
        had queued, then the screen repaints. A widget stuck in a long handler is not waited
        for past KEY_SETTLE_WAIT."""
        pending = 0
        done = asyncio.Event()

        def one_done() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0:
                done.set()

        for pump in [self, *screen.walk_children(with_self=True)]:
            if pump.call_later(one_done):
                pending += 1
        with contextlib.suppress(TimeoutError):
            if pending:
                await asyncio.wait_for(done.wait(), KEY_SETTLE_WAIT)
            if screen.is_running:
                await asyncio.wait_for(screen.wait_for_refresh(), KEY_SETTLE_WAIT)

    @staticmethod
    def _quiet(screen: Any) -> bool:
        """Nothing left to do on `screen`: no queued message, no after-refresh callback."""
        if screen._callbacks:
            return False
        return all(pump._message_queue.empty() and not pump._next_callbacks
                   for pump in screen.walk_children(with_self=True))

    # ------------------------------------------------------------------ permissions

    def permitted(self, action: str) -> bool:
        if action in DEMO_ACTIONS and not self.demo_admin_url:
            return False
        need = self.REQUIRES.get(action)
        return need is None or self.workspace.can(need)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_pull":
            from textual.screen import ModalScreen
            from textual.widgets import Input

            # not in a dialog or a text box: there esc keeps its own meaning
            return bool(self._pull_cancel) and not isinstance(self.screen, ModalScreen) \
                and not isinstance(self.focused, Input)
        return self.permitted(action)

    def palette_commands(self, screen: Any) -> list[tuple[str, str, Callable[[], Any]]]:
        commands = []
        if hasattr(screen, "palette_commands"):
            commands.extend(screen.palette_commands())
        table = screen.focused.table if isinstance(screen.focused, TableBody) else None
        if table is not None:
            commands += [("Filter", "Filter the table (/)", table.open_filter),
                         ("Sort", "Sort by the next column, or reverse (o)", table.cycle_sort)]
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
        items: list[tuple[str, str] | tuple[str, str, str]] = [("Plans", "plans")]
        for spec in APP_ACTIONS:
            title = spec.palette_title or spec.title
            if spec.name == "advisor_integration" and self.permitted(spec.name):
                items.append((title, spec.name))
            elif spec.menu_key and self.permitted(spec.name):
                items.append((f"{title} ({spec.menu_key})", spec.name, spec.menu_key))
        by_id = {spec.id: spec for spec in APP_ACTIONS}
        items += [(f"Help ({self.key_display(by_id['help'])})", "help"),
                  (f"Quit ({self.key_display(by_id['quit'])})", "quit")]

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

    def action_inbox(self) -> None:
        from .screens.inbox import InboxScreen

        if not self.permitted("inbox") or isinstance(self.screen, InboxScreen):
            return
        self.push_screen(InboxScreen())

    def action_user_audit(self) -> None:
        from .screens.user_audit import UserAuditScreen

        if not self.permitted("user_audit") or isinstance(self.screen, UserAuditScreen):
            return
        self.push_screen(UserAuditScreen())

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
        if self.refresh_all_progress is not None:
            done, of = self.refresh_all_progress
            self.pull_status = (f"Refreshing all plans: {done} of {of} done…" if of
                                else "Refreshing all plans…")
            return
        if not self.pulls:
            self.pull_status = ""
            if self._pull_ticker is not None:
                self._pull_ticker.stop()
                self._pull_ticker = None
            return
        if self._pull_ticker is None:  # the elapsed time moves on while a pull runs
            self._pull_clock = time.monotonic()
            self._pull_ticker = self.set_interval(1.0, self._show_pulls)
        parts = [f"Pulling Redtail ({len(self.pulls)} plans)…" if len(self.pulls) > 1
                 else "Pulling Redtail…"]
        done = sum(d for d, _ in self.pull_progress.values())
        of = sum(o for _, o in self.pull_progress.values())
        if of:
            parts.append(f"contacts {done}/{of}")
        parts.append(f"{int(time.monotonic() - self._pull_clock)}s")
        if self._pull_cancel:
            parts.append("esc cancels")
        self.pull_status = " · ".join(parts)

    def action_cancel_pull(self) -> None:
        """esc while Refresh Integrations runs: stop it before its apply step (nothing
        changes)."""
        for event in self._pull_cancel.values():
            event.set()

    async def _pull(self, plan_id: int, *, manual: bool) -> None:
        from .service.pulls import auto_pull_async, refresh_async
        from .sync.engine import PullCancelled

        self.pulls[plan_id] = "manual" if manual else "auto"
        cancel = asyncio.Event()
        if manual:  # an automatic pull is not the user's to cancel: esc stays "back" then
            self._pull_cancel[plan_id] = cancel

        def progress(done: int, of: int, _requests: int) -> None:
            self.pull_progress[plan_id] = (done, of)
            self._show_pulls()

        self._show_pulls()
        report: RefreshReport | None = None
        try:
            if manual:
                report = await refresh_async(self.workspace, plan_id,
                                             connection_for=self.connection_for,
                                             progress=progress, cancel=cancel)
            else:
                report = await auto_pull_async(self.workspace, plan_id,
                                               connection_for=self.connection_for,
                                               progress=progress, cancel=cancel)
        except PullCancelled as exc:
            self.notify(exc.message, title="Refresh Integrations" if manual else "Redtail pull")
        except PlantechError as exc:
            self.notify(exc.message, title="Refresh Integrations" if manual else "Redtail pull",
                        severity="error", timeout=10)
        finally:
            self.pulls.pop(plan_id, None)
            self.pull_progress.pop(plan_id, None)
            self._pull_cancel.pop(plan_id, None)
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

    def action_refresh_all(self) -> None:
        """Refresh all my plans: a pull of every plan with linked contacts, a few at a time,
        progress in the header, then one report line per plan."""
        if not self.permitted("refresh_all"):
            return
        if self.refresh_all_progress is not None:
            self.notify("Refresh all my plans is already running.", title="Refresh all")
            return
        self.refresh_all_progress = (0, 0)  # said at once, counted once the plans are known
        self._show_pulls()
        self.run_worker(self._refresh_all(), group="pull", name="refresh all",
                        exit_on_error=False)

    async def _refresh_all(self) -> None:
        from .screens.refresh_report import RefreshAllScreen
        from .service.pulls import sync_async

        outcomes: list[tuple[str, RefreshReport | PullError | str]] = []
        try:
            todo = []
            for summary in self.workspace.list_plans():
                plan = summary.plan
                if plan.id in self.pulls:
                    outcomes.append((plan.name, "a pull of this plan is already running"))
                elif not self.workspace.contacts(plan.id):
                    outcomes.append((plan.name, "no linked Redtail contacts: nothing to pull"))
                else:
                    todo.append(plan)
            self.refresh_all_progress = (0, len(todo))
            self._show_pulls()
            gate = asyncio.Semaphore(REFRESH_ALL_AT_ONCE)

            async def one(plan: Any) -> tuple[str, RefreshReport | PullError | str]:
                async with gate:
                    self.pulls[plan.id] = "manual"
                    outcome: RefreshReport | PullError | str
                    try:
                        [outcome] = await sync_async(self.workspace, [plan.id],
                                                     connection_for=self.connection_for,
                                                     trigger="manual")
                    except PlantechError as exc:
                        outcome = exc.message
                    finally:
                        self.pulls.pop(plan.id, None)
                        done, of = self.refresh_all_progress or (0, len(todo))
                        self.refresh_all_progress = (done + 1, of)
                        self._show_pulls()
                    return plan.name, outcome

            outcomes += await asyncio.gather(*(one(plan) for plan in todo))
        finally:
            self.refresh_all_progress = None
            self._show_pulls()
        self.refresh_screens()
        self.push_screen(RefreshAllScreen(sorted(outcomes, key=lambda o: o[0].casefold())))

    # ------------------------------------------------------------------ presenter keys

    def action_demo_move_balance(self) -> None:
        self._demo("demo_move_balance")

    def action_demo_add_account(self) -> None:
        self._demo("demo_add_account")

    def action_demo_remove_account(self) -> None:
        self._demo("demo_remove_account")

    def _demo(self, action: str) -> None:
        if self.permitted(action):
            self.run_worker(self._demo_post(DEMO_ACTIONS[action]), group="demo",
                            exit_on_error=False)

    async def _demo_post(self, what: str) -> None:
        """POST to the fake's admin route and say what the fake did."""
        import httpx

        url = f"{(self.demo_admin_url or '').rstrip('/')}/demo/{what}"
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(url)
        except httpx.HTTPError as exc:
            self.notify(f"The fake Redtail did not answer ({type(exc).__name__}).",
                        title="Demo", severity="error")
            return
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        if response.status_code >= 400 or not isinstance(doc, dict):
            message = doc.get("message") if isinstance(doc, dict) else None
            self.notify(message or f"HTTP {response.status_code}", title="Demo",
                        severity="error")
            return
        self.notify(describe_demo(what, doc), title="Demo: Redtail changed", timeout=10)

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


def describe_demo(what: str, doc: dict[str, Any]) -> str:
    """What the fake did, in the advisor's words (only the last 4 of a number)."""
    from .domain.describe import last4, staged_description
    from .domain.money import MoneyError, money_display, to_money_or_none

    account = doc.get("account") or doc.get("removed") or {}

    def money(value: object) -> str:
        try:
            return money_display(to_money_or_none(value), "balance unknown")
        except MoneyError:
            return str(value)

    name = staged_description(account.get("company"), last4(account.get("number")),
                              account.get("account_type"))
    if what == "move-balance":
        return (f"{name}: {money(doc.get('old_balance'))} → {money(doc.get('new_balance'))} "
                "in Redtail. Refresh Integrations (r) pulls it.")
    if what == "add-account":
        kind = account.get("account_type") or "type unknown"
        return (f"Redtail has a new account: {name} ({kind}, {money(account.get('balance'))}). "
                "Refresh Integrations (r) stages it as Pending.")
    return (f"Redtail no longer lists {name}. Pulls flag it missing at source (after two in "
            "a row).")


def run_app(db_path: Path | str, user_name: str | None, *,
            demo_admin_url: str | None = None) -> int:
    """`plantech` with no subcommand (and `plantech demo`, which installs the presenter keys):
    refuse an unknown user or a bad database in one line."""
    try:
        app = PlantechApp(db_path, user_name, demo_admin_url=demo_admin_url)
    except PlantechError as exc:
        gc.enable()  # turned off for start-up by cli.dispatch; the app never started
        print(f"plantech: error: {exc.message.splitlines()[0]}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        gc.enable()
        print(f"plantech: error: cannot open database {db_path}: {exc}", file=sys.stderr)
        return 1
    try:
        app.run()
    finally:
        app.workspace.close()
    return app.return_code or 0
