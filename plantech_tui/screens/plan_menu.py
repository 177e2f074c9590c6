"""The plan menu ("⋮" inside a plan, key m) and the plan-level actions every plan screen has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import actions
from .base import PlantechScreen

if TYPE_CHECKING:
    _Base = PlantechScreen
else:
    _Base = object


class PlanMenuMixin(_Base):
    """Needs `self.plan_id`. Plan Integration and Refresh exist for advisors only."""

    plan_id: int

    def action_plan_menu(self) -> None:
        from .dialogs import MenuModal

        items = [(self.labelled(spec, spec.palette_title), spec.name)
                 for spec in (*actions.PLAN_MENU_ITEMS, actions.REFRESH, actions.EXPORT)
                 if self.permitted(spec.name)]
        items.append(("Back to Plans", "plans"))

        async def chosen(item: str | None) -> None:
            if item == "plans":
                await self.app.run_action("plans")
            elif item:
                await self.run_action(item)

        self.app.push_screen(MenuModal("Plan menu", items, css_class="menu plan-menu"), chosen)

    def _pop_to(self, kind: type[Any]) -> bool:
        """Go back to an open screen of this kind for this plan, if there is one."""
        stack = self.app.screen_stack
        for index in range(len(stack) - 1, -1, -1):
            screen = stack[index]
            if isinstance(screen, kind) and getattr(screen, "plan_id", None) == self.plan_id:
                for _ in range(len(stack) - 1 - index):
                    self.app.pop_screen()
                return True
        return False

    def action_investment_assets(self) -> None:
        from .plan import PlanScreen

        if not self._pop_to(PlanScreen):
            self.app.push_screen(PlanScreen(self.plan_id))

    def action_plan_integration(self, tab: str = "contacts") -> None:
        from .plan_integration import PlanIntegrationScreen

        if self.refused("plan_integration"):
            return
        if self._pop_to(PlanIntegrationScreen):
            screen = self.app.screen
            if isinstance(screen, PlanIntegrationScreen):
                screen.show_tab(tab)
            return
        self.app.push_screen(PlanIntegrationScreen(self.plan_id, tab=tab))

    def action_audit_log(self) -> None:
        from .audit_log import AuditLogScreen

        if self.refused("audit_log"):
            return
        if not self._pop_to(AuditLogScreen):
            self.app.push_screen(AuditLogScreen(self.plan_id))

    def action_refresh(self) -> None:
        if not self.refused("refresh"):
            self.papp.start_refresh(self.plan_id)

    def action_export(self) -> None:
        from .export import ExportModal

        self.app.push_screen(ExportModal(self.plan_id))
