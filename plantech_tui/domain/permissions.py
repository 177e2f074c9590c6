"""The role matrix of SPEC §1. Screens ask `allowed()` to decide what to draw; the workspace
calls `require()` before every action, so a refused action changes nothing whatever the path."""

from __future__ import annotations

from enum import StrEnum

from .errors import PermissionDenied
from .models import Role, User


class Action(StrEnum):
    VIEW_PLAN = "view plan"
    PLAN_INTEGRATION = "Plan Integration"  # Pending / Ignored, refresh report, audit log
    ADVISOR_INTEGRATION = "Advisor Integration"
    LINK_CONTACT = "link contacts"
    REFRESH = "Refresh Integrations"
    TRIAGE = "triage"  # ignore, stop ignoring, link, add, edit staged description, undo
    AUTO_PULL = "automatic pull"
    EDIT_ACCOUNT = "edit accounts"  # add/edit/delete manual; edit/delete linked
    PAUSE_PLAY_STOP = "Pause / Play / Stop"
    EXPORT = "export"
    MANAGE_PLANS = "manage plans"  # create/rename/delete plans, integrations, users


_ADVISOR_ONLY = {
    Action.PLAN_INTEGRATION,
    Action.ADVISOR_INTEGRATION,
    Action.LINK_CONTACT,
    Action.REFRESH,
    Action.TRIAGE,
    Action.PAUSE_PLAY_STOP,
    Action.MANAGE_PLANS,
}
_EVERYONE = {Action.VIEW_PLAN, Action.AUTO_PULL, Action.EXPORT}


def allowed(user: User, action: Action) -> bool:
    if user.role is Role.ADVISOR:
        return True
    if action in _EVERYONE:
        return True
    if action is Action.EDIT_ACCOUNT:
        return user.can_edit
    return False


def require(user: User, action: Action) -> None:
    if not allowed(user, action):
        raise PermissionDenied(f"{user.name} ({user.role.value}) may not use {action.value}")
