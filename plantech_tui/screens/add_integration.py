"""Add Integration (Advisor Integration): the partner type and partner (the article's first
step), then the partner's own login fields (`Partner.login_fields`) → Save validates the login
once (never retried: Redtail locks a login after three failures)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Select, Static

from ..domain.errors import PlantechError, ValidationFailed
from ..domain.models import Integration
from ..domain.permissions import Action
from ..partners import registry
from ..partners.base import AccountLocked, DeviceCode, InvalidCredentials, LoginField, Partner
from ..widgets.fmt import shown
from ..widgets.topbar import TopBar
from . import actions
from .base import FormMixin, PlantechScreen, button, field_row

CUSTOM = "Custom"


class AddIntegrationScreen(FormMixin, PlantechScreen):
    ACTIONS = actions.ADD_INTEGRATION

    def __init__(self, existing: Integration | None = None) -> None:
        super().__init__()
        self.existing = existing
        self.saving = False
        self._device: ModalScreen[None] | None = None  # the device-code dialog while it shows
        self.partner: Partner = (registry.by_name(existing.partner) if existing
                                 else registry.get())

    def _default(self, f: LoginField) -> str:
        if f.default is None:
            return ""
        try:
            return f.default() or ""
        except PlantechError:
            return ""

    def compose(self) -> ComposeResult:
        e = self.existing
        p = self.partner
        envs = p.environments
        environment = (e.environment if e and e.environment in envs
                       else CUSTOM if e or not envs else next(iter(envs)))
        demo = None if e else p.demo_login()
        if demo is not None:  # `plantech demo`: the fake's login, so Save just works
            environment = CUSTOM
        yield TopBar("Advisor Integration › " + ("Reconnect" if e else "Add Integration"))
        with VerticalScroll(classes="form page-form"):
            yield Static("Reconnect Integration" if e else "Add Integration",
                         classes="screen-title")
            types = sorted({x.partner_type for x in registry.all_partners()})
            yield field_row("Integration partner type", Select(
                [(t, t) for t in types], value=p.partner_type, allow_blank=False,
                id="field-partner_type"))
            yield field_row("Integration partner", Select(
                [(x.name, x.slug) for x in registry.all_partners()
                 if x.partner_type == p.partner_type],
                value=p.slug, allow_blank=False, id="field-partner"))
            if envs:
                yield field_row("Environment", Select(
                    [*((name, name) for name in envs), ("Custom URL", CUSTOM)],
                    value=environment, allow_blank=False, id="field-environment"))
            if demo is not None:
                filled = ", ".join(f"{f.label} {demo[f.name]}" for f in p.login_fields
                                   if demo.get(f.name))
                yield Static(f"Demo: this is the fake {p.label}'s login, filled in for you: "
                             f"{filled}.", id="demo-login", classes="note", markup=False)
            for f in p.login_fields:
                default = self._default(f)
                value = (demo[f.name] if demo is not None and f.name in demo
                         else getattr(e, f.name, "") if e is not None and not f.secret
                         and f.name in ("base_url", "username") else default)
                field = Input(value, id=f"field-{f.name}", password=f.secret,
                              placeholder=f.placeholder)
                if f.name == p.url_field:
                    yield field_row(f.label, field, id="row-base_url")
                    if envs:
                        yield Static("", id="environment-url", classes="note", markup=False)
                    continue
                yield field_row(f.label, field)
                if default and f.secret and demo is None:
                    yield Static(f"{f.label} prefilled from your configuration.",
                                 classes="note")
            if p.lock_note:
                yield Static(f"{self.icons.warning} {p.lock_note}", classes="note lock-note",
                             markup=False)
            yield Static("", id="form-status", classes="status", markup=False)
            yield Static("", id="form-error", classes="form-error", markup=False)
            with Horizontal(classes="buttons"):
                yield self.action_button("save", "primary", id="save")
                yield button("Cancel", "cancel")
        yield Footer()

    def on_mount(self) -> None:
        if not self.ws.can(Action.ADVISOR_INTEGRATION):
            self.dismiss(None)
            return
        self.clear_form_error()
        self._show_environment()
        self._focus_first()
        if self.existing is not None and not self.partner.password_login:
            self._prefill(self.existing.secret_ref)

    @work(thread=True, group="prefill", exit_on_error=False)
    def _prefill(self, secret_ref: str) -> None:
        """Reconnect: what the stored login remembers (Salesforce's login URL and client id),
        read off the UI thread (a keyring may be slow), filled into fields still empty."""
        from ..sync.credentials import credential_store

        try:
            secret = credential_store().get(secret_ref)
        except PlantechError:
            return
        values = self.partner.reconnect_values(secret) if secret else {}
        if values:
            self.app.call_from_thread(self._fill, values)

    def _fill(self, values: dict[str, str]) -> None:
        p = self.partner
        url = values.get(p.url_field)
        if url and p.environments:
            env = p.environment_of(url)
            self.query_one("#field-environment", Select).value = (
                env if env in p.environments else CUSTOM)
        for name, value in values.items():
            found = self.query(f"#field-{name}")
            if found and not found.first(Input).value:
                found.first(Input).value = value
        self._show_environment()

    def _focus_first(self) -> None:
        fields = self.partner.login_fields
        secret = next((f for f in fields if f.secret and f.required), None)
        user = next((f for f in fields if f.name == "username"), None)
        first = secret if self.existing and secret else user or secret or (
            fields[0] if fields else None)
        if first is not None:
            self.query_one(f"#field-{first.name}", Input).focus()

    def _environment(self) -> str:
        if not self.partner.environments:
            return CUSTOM
        value = self.query_one("#field-environment", Select).value
        return value if isinstance(value, str) else next(iter(self.partner.environments))

    def _show_environment(self) -> None:
        envs = self.partner.environments
        if not envs:
            return
        env = self._environment()
        custom = env == CUSTOM
        rows = self.query("#row-base_url")
        if rows:
            rows.first().display = custom
        note = self.query_one("#environment-url", Static)
        note.update("" if custom else f"{self.partner.label} {env}: {envs[env]}")
        note.display = not custom

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-environment":
            self._show_environment()
        elif event.select.id in ("field-partner", "field-partner_type") and not self.existing:
            await self._choose_partner(event.select.id, event.value)

    async def _choose_partner(self, which: str, value: object) -> None:
        """Another partner (or type) chosen: its own login fields replace the form's."""
        if which == "field-partner_type":
            if value == self.partner.partner_type:
                return
            chosen = next((x for x in registry.all_partners() if x.partner_type == value), None)
        else:
            if value == self.partner.slug or not isinstance(value, str):
                return
            chosen = registry.get(value)
        if chosen is None:
            return
        self.partner = chosen
        await self.recompose()
        self.clear_form_error()
        self._show_environment()
        self._focus_first()

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
        p = self.partner
        v = {k: str(x) for k, x in self.field_values(f.name for f in p.login_fields).items()}
        env = self._environment()
        if p.environments and env != CUSTOM:
            v[p.url_field] = p.environments[env]
        self.clear_form_error()
        self.saving = True
        self.query_one("#save", Button).disabled = True
        self.query_one("#form-status", Static).update(
            f"{self.icons.pulling} Connecting to {p.label}…")
        self._connect(p.slug, v, env if p.environments else None)

    def _prompt(self, code: DeviceCode) -> None:
        """The partner's login goes on elsewhere (an OAuth device code): the dialog shows the
        URL and the code until the login ends; cancelling it cancels the login."""
        from .device_code import DeviceCodeModal

        self.query_one("#form-status", Static).update(
            f"{self.icons.pulling} Waiting for you to approve the login at {shown(code.url)}…")

        def closed(_result: object) -> None:
            if self.saving:  # cancelled by the user, not closed because the login ended
                self.workers.cancel_group(self, "connect")
                self._connect_ended()
                self.query_one("#form-status", Static).update("Login cancelled.")

        self._device = DeviceCodeModal(code)
        self.app.push_screen(self._device, closed)

    def _connect_ended(self) -> None:
        self.saving = False
        self.query_one("#save", Button).disabled = False
        device, self._device = self._device, None
        if device is not None and device in self.app.screen_stack:
            device.dismiss(None)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _connect(self, slug: str, values: dict[str, str],
                       environment: str | None) -> None:
        from ..service.connections import connect_integration

        try:
            integration, created = await connect_integration(
                self.ws, partner=slug, environment=environment, prompt=self._prompt, **values)
        except PlantechError as exc:
            self._connect_ended()
            self.query_one("#form-status", Static).update("")
            secret = next((f.name for f in self.partner.login_fields
                           if f.secret and f.required), None)
            if isinstance(exc, InvalidCredentials | AccountLocked) and secret:
                exc = ValidationFailed(exc.message, field=secret)
            self.show_form_error(exc)
            return
        self._connect_ended()
        self.notify(f"{'Connected' if created else 'Reconnected'} {integration.partner} "
                    f"({integration.environment}) as {integration.username}.",
                    title="Advisor Integration")
        self._report_unmapped(integration.id)
        self.dismiss(integration.id)

    def _report_unmapped(self, integration_id: int) -> None:
        """After the screen closes: the org's type values the mapping lacks, as a notice."""
        from ..service.connections import unmapped_types_async

        app, ws, connection_for = self.app, self.ws, self.papp.connection_for

        async def check() -> None:  # runs on after the screen is gone: it holds no `self`
            line = await unmapped_types_async(ws, integration_id,
                                              connection_for=connection_for)
            if line:
                app.notify(line, title="Account types to map", severity="warning",
                           timeout=15)

        app.run_worker(check(), group="unmapped-types", exit_on_error=False)
