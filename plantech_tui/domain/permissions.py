"""The role matrix of SPEC §1. Screens ask `allowed()` to decide what to draw; the workspace
calls `require()` before every action, so a refused action changes nothing whatever the path."""

from __future__ import annotations

from collections.abc import Collection
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
    # users add / list / remove / audit, and the TUI's User changes; which users an advisor
    # may change is `user_change_refusal` below (README "Who manages users")
    MANAGE_USERS = "manage users"


_ADVISOR_ONLY = {
    Action.PLAN_INTEGRATION,
    Action.ADVISOR_INTEGRATION,
    Action.LINK_CONTACT,
    Action.REFRESH,
    Action.TRIAGE,
    Action.PAUSE_PLAY_STOP,
    Action.MANAGE_PLANS,
    Action.MANAGE_USERS,
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


def user_change_refusal(actor: User, target: User | None, role: Role, admin: bool,
                        target_plans: Collection[int], actor_plans: Collection[int],
                        granting: Collection[int] = ()) -> str | None:
    """Why `actor` may not create (`target` None) or change `target` into a `role` user
    (administrator when `admin`), or None when they may (README "Who manages users").

    Administrators may create and change anyone (the last administrator is the workspace's
    check: it needs the whole table). An advisor who is not an administrator manages only the
    clients and professionals of their own plans: never an advisor or administrator (so never
    themselves), never someone holding a grant on a plan that is not theirs or no grant at
    all (an administrator's to place), and they create only clients and professionals, each
    granted at least one of their plans. `target_plans` are the plans granted to the target,
    `actor_plans` the plans the actor owns or was granted, `granting` the plans this change
    grants. A removal is a change that keeps the target's role. Granting plans the actor does
    not see is refused earlier (NotFound)."""
    if not allowed(actor, Action.MANAGE_USERS):
        return f"{actor.name} ({actor.role.value}) may not use {Action.MANAGE_USERS.value}"
    if actor.is_admin:
        return None
    who = f"{actor.name} (advisor, not an administrator)"
    if target is not None:
        if target.id == actor.id:
            return f"{who} may not change their own user: ask an administrator"
        if target.role is Role.ADVISOR or target.is_admin:
            return f"{who} may not change advisor {target.name}: ask an administrator"
        if not target_plans or not set(target_plans) <= set(actor_plans):
            return (f"{who} may not change {target.name}: they are not a user of your plans "
                    f"alone; ask an administrator")
    if role is Role.ADVISOR:
        return f"{who} may not make advisors: ask an administrator"
    if admin:
        return f"{who} may not make administrators"
    if target is None and not granting:
        return f"{who} adds a user with at least one of their plans (--plan ID)"
    return None


def require_user_change(actor: User, target: User | None, role: Role, admin: bool,
                        target_plans: Collection[int], actor_plans: Collection[int],
                        granting: Collection[int] = ()) -> None:
    reason = user_change_refusal(actor, target, role, admin, target_plans, actor_plans,
                                 granting)
    if reason is not None:
        raise PermissionDenied(reason)
