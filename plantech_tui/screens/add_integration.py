"""Add Integration (Advisor Integration): partner, environment, API key and login → Save
validates against Redtail once (never retried: Redtail locks a login after three failures)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Select, Static

from ..config import ENVIRONMENTS, default_api_key
from ..domain.errors import PlantechError, ValidationFailed
from ..domain.models import PARTNER, Integration
from ..domain.permissions import Action
from ..widgets.topbar import TopBar
from .base import FormMixin, PlantechScreen, button, field_row

CUSTOM = "Custom"
LOCK_NOTE = ("Save checks this login with Redtail once. Redtail locks a login after three "
             "failed attempts, so nothing is retried automatically. The password is never "
             "stored.")


def demo_login() -> dict[str, str] | None:
    """The fake Redtail's login while `plantech demo` runs (it sets PLANTECH_DEMO_BASE_URL)."""
    import os

    base_url = os.environ.get("PLANTECH_DEMO_BASE_URL")
    if not base_url:
        return None
    from ..sync.fake.dataset import DEMO_API_KEY, DEMO_PASSWORD, DEMO_USERNAME

    return {"base_url": base_url, "username": DEMO_USERNAME, "password": DEMO_PASSWORD,
            "api_key": DEMO_API_KEY}


class AddIntegrationScreen(FormMixin, PlantechScreen):
    BINDINGS: ClassVar[list[Binding]] = [  # type: ignore[assignment]
        Binding("ctrl+s", "save", "Save", id="save"),
    ]
    REQUIRES = {"save": Action.ADVISOR_INTEGRATION}

    def __init__(self, existing: Integration | None = None) -> None:
        super().__init__()
        self.existing = existing
        self.saving = False

    def compose(self) -> ComposeResult:
        e = self.existing
        environment = (e.environment if e and e.environment in ENVIRONMENTS
                       else CUSTOM if e else "Production")
        try:
            api_key = default_api_key() or ""
        except PlantechError:
            api_key = ""
        demo = None if e else demo_login()
        if demo is not None:  # `plantech demo`: the fake's login, so Save just works
            environment, api_key = CUSTOM, demo["api_key"]
        yield TopBar("Advisor Integration › " + ("Reconnect" if e else "Add Integration"))
        with VerticalScroll(classes="form page-form"):
            yield Static("Reconnect Integration" if e else "Add Integration",
                         classes="screen-title")
            yield field_row("Integration partner type", Select(
                [("CRM", "CRM")], value="CRM", allow_blank=False, id="field-partner_type"))
            yield field_row("Integration partner", Select(
                [(PARTNER, PARTNER)], value=PARTNER, allow_blank=False, id="field-partner"))
            yield field_row("Environment", Select(
                [("Production", "Production"), ("Sandbox", "Sandbox"), ("Custom URL", CUSTOM)],
                value=environment, allow_blank=False, id="field-environment"))
            if demo is not None:
                yield Static(f"Demo: this is the fake Redtail's login, filled in for you: "
                             f"username {demo['username']}, password {demo['password']}, "
                             f"API key {demo['api_key']}, base URL {demo['base_url']}.",
                             id="demo-login", classes="note", markup=False)
            yield field_row("Base URL", Input(e.base_url if e else demo["base_url"] if demo
                                              else "", id="field-base_url",
                                              placeholder="https://…/api/public/v1"),
                            id="row-base_url")
            yield Static("", id="environment-url", classes="note", markup=False)
            yield field_row("API key", Input(api_key, id="field-api_key", password=True,
                                             placeholder="the partner API key Redtail issued"))
            if api_key and demo is None:
                yield Static("API key prefilled from your configuration.", classes="note")
            yield field_row("Username", Input(e.username if e else demo["username"] if demo
                                              else "", id="field-username"))
            yield field_row("Password", Input(demo["password"] if demo else "",
                                              id="field-password", password=True))
            yield Static(f"{self.icons.warning} {LOCK_NOTE}", classes="note lock-note",
                         markup=False)
            yield Static("", id="form-status", classes="status", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield button("Save (ctrl+s)", "save", "primary")
                yield button("Cancel", "cancel")
        yield Footer()

    def on_mount(self) -> None:
        if not self.ws.can(Action.ADVISOR_INTEGRATION):
            self.dismiss(None)
            return
        self.clear_form_error()
        self._show_environment()
        first = "#field-password" if self.existing else "#field-username"
        self.query_one(first, Input).focus()

    def _environment(self) -> str:
        value = self.query_one("#field-environment", Select).value
        return value if isinstance(value, str) else "Production"

    def _show_environment(self) -> None:
        env = self._environment()
        custom = env == CUSTOM
        self.query_one("#row-base_url").display = custom
        note = self.query_one("#environment-url", Static)
        note.update("" if custom else f"Redtail {env}: {ENVIRONMENTS[env]}")
        note.display = not custom

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-environment":
            self._show_environment()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return
        v = self.field_values(("base_url", "api_key", "username", "password"))
        env = self._environment()
        base_url = v["base_url"] if env == CUSTOM else ENVIRONMENTS[env]
        self.clear_form_error()
        self.saving = True
        self.query_one("#save", Button).disabled = True
        self.query_one("#form-status", Static).update(
            f"{self.icons.pulling} Connecting to Redtail…")
        self._connect(base_url, v["username"], v["password"], v["api_key"], env)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _connect(self, base_url: str, username: str, password: str, api_key: str,
                       environment: str) -> None:
        from ..sync.actions import connect_integration
        from ..sync.redtail import AccountLocked, InvalidCredentials

        try:
            integration, created = await connect_integration(
                self.ws, base_url=base_url, username=username, password=password,
                api_key=api_key or None, environment=environment)
        except PlantechError as exc:
            self.saving = False
            self.query_one("#save", Button).disabled = False
            self.query_one("#form-status", Static).update("")
            if isinstance(exc, InvalidCredentials | AccountLocked):
                exc = ValidationFailed(exc.message, field="password")
            self.show_form_error(exc)
            return
        self.saving = False
        self.notify(f"{'Connected' if created else 'Reconnected'} Redtail CRM "
                    f"({integration.environment}) as {integration.username}.",
                    title="Advisor Integration")
        self.dismiss(integration.id)
