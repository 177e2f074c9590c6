"""Pause / Play / Stop / Delete of a plan account, shared by Investment Assets and the editor.

Each says what it will do before doing it where it cannot be undone (Stop, Delete)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.errors import PlantechError
from ..domain.models import PlanAccount
from ..widgets.fmt import money_display
from .base import PlantechScreen
from .dialogs import ConfirmModal

Then = Callable[[], Any]


def pause_or_play(screen: PlantechScreen, account: PlanAccount, verb: str) -> PlanAccount | None:
    """verb: "pause" or "play"."""
    ws = screen.ws
    try:
        if verb == "play":
            done = ws.play(account.plan_id, account.id)
            screen.notify(f"{account.description}: {screen.crm} updates resumed (Play).")
        else:
            done = ws.pause(account.plan_id, account.id)
            screen.notify(f"{account.description}: paused — the balance stays "
                          f"{money_display(done.balance)} until you press Play.")
    except PlantechError as exc:
        screen.fail(exc)
        return None
    return done


def confirm_stop(screen: PlantechScreen, account: PlanAccount, then: Then) -> None:
    if account.link is None:
        screen.notify(f"{account.description} is a manual account: nothing to stop.")
        return

    def chosen(value: str | None) -> None:
        if value != "stop":
            return
        try:
            screen.ws.stop(account.plan_id, account.id)
        except PlantechError as exc:
            screen.fail(exc)
            return
        screen.notify(f"{account.description} is no longer linked; its {screen.crm} account "
                      "is back "
                      "in Pending Data.")
        then()

    screen.app.push_screen(ConfirmModal(
        f"Stop the {screen.crm} link of {account.description}?",
        f"The account stays in the plan with its balance {money_display(account.balance)}, "
        f"but {screen.crm} no longer updates it. Its {screen.crm} account ("
        f"{account.link.redtail_account_id}) returns to Pending Data, where it can be added "
        "or linked again.",
        [("Stop", "stop", "warning")]), chosen)


def confirm_delete(screen: PlantechScreen, account: PlanAccount, then: Then) -> None:
    def chosen(value: str | None) -> None:
        if value != "delete":
            return
        try:
            screen.ws.delete_account(account.plan_id, account.id)
        except PlantechError as exc:
            screen.fail(exc)
            return
        screen.notify(f"Deleted {account.description}."
                      + (f" Its {screen.crm} account is back in Pending Data."
                         if account.link else ""))
        then()

    body = "The account and its balance history are deleted from the plan."
    if account.link:
        body += (f" This breaks the {screen.crm} link: its {screen.crm} account ("
                 f"{account.link.redtail_account_id}) returns to Pending Data.")
    screen.app.push_screen(ConfirmModal(
        f"Delete {account.description}?", body, [("Delete", "delete", "error")]), chosen)
