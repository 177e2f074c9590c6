"""The pure heart of a pull: what the store has against what the partner says → what to change.

No I/O. The same diff drives the apply step, the refresh report and a dry run, which is why a
dry run's report equals the report of the real pull that follows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

from ..domain.describe import last4, staged_description
from ..domain.models import HELD_AWAY
from ..domain.money import money_display
from ..domain.report import BalanceChange, NewAccount, PullError, RefreshReport
from ..domain.text import TEXT_CAP, clean_line
from ..domain.triage import Status, can_be_missing, receives_pull, status_of
from ..partners.base import SourceAccount, legacy_id
from ..store.pulls import PULLED, id_order

ContactKey = tuple[int, str]  # (integration id, source contact id)
AccountKey = tuple[int, str]  # (integration id, source account id)


@dataclass
class ContactFetch:
    """One linked contact's accounts as fetched (all pages), or why they could not be."""

    integration_id: int
    contact_id: str
    accounts: list[SourceAccount] | None = None
    error: PullError | None = None
    truncated: bool = False  # the listing was cut: its accounts apply, its absences say nothing
    source: str = "the partner"  # the partner as the report names it ("Redtail 5009")

    @property
    def ok(self) -> bool:
        return self.accounts is not None

    @property
    def complete(self) -> bool:
        """The whole listing arrived: absences from it count (missing at source, listings)."""
        return self.accounts is not None and not self.truncated


@dataclass
class PlanDiff:
    plan_id: int
    inserts: list[dict[str, Any]] = field(default_factory=list)  # new staged rows (+ "contacts")
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (row, changes)
    listings: dict[int, set[str]] = field(default_factory=dict)  # staged id → contacts listing it
    touched: list[int] = field(default_factory=list)  # returned unchanged: last_updated only
    balances: list[tuple[int, Decimal, Decimal, int]] = field(default_factory=list)
    # (plan account id, old, new, staged id) for active linked accounts
    report: RefreshReport | None = None



def _utc_text(moment: Any) -> str | None:
    if moment is None:
        return None
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    # formatting by hand: strftime is the slowest step of a 100k-account diff
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")


def _pulled_fields(acct: SourceAccount) -> dict[str, Any]:
    return {
        "company": (acct.company or "").strip() or None,
        "number_last4": last4(acct.number),
        "account_type": acct.account_type,
        "taxqualified": None if acct.taxqualified is None else int(acct.taxqualified),
        "taxqualified_type_name": acct.taxqualified_type_name,
        "default_investment_type": acct.investment_type,
        "review_type": int(acct.review_type),
        # the seam's held-away flag, marked where the staged row keeps it (StagedAccount.held_away)
        "type_note": f"{HELD_AWAY} · {acct.type_note}" if acct.held_away else acct.type_note,
        "type_included": int(acct.included),
        "balance": None if acct.balance is None else f"{acct.balance:f}",
        "source_updated_at": _utc_text(acct.updated_at),
    }


def _description(company: str | None, number_last4: str | None,
                 account_type: str | None) -> str:
    """The staged description, within the product's 200 characters (a capped company + the
    last 4 would be 205): the name is cut, the last 4 kept."""
    description = staged_description(company, number_last4, account_type)
    if len(description) <= TEXT_CAP:
        return description
    tail = f" {number_last4}" if number_last4 else ""
    return clean_line(description[: len(description) - len(tail)], TEXT_CAP - len(tail)) + tail


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def compute_diff(
    *,
    plan_id: int,
    fetches: Iterable[ContactFetch],
    rows: Iterable[Mapping[str, Any]],
    listings: Mapping[int, Iterable[str]],
    account_balances: Mapping[int, Decimal],
    now: str,
) -> PlanDiff:
    """rows: the plan's staged_accounts rows (`store.pulls.staged_for_diff`: neutral keys,
    text ids); listings: staged id → contact ids listing it; account_balances: plan account
    id → balance (for linked accounts). The accounts come with their types resolved."""
    fetches = list(fetches)
    diff = PlanDiff(plan_id=plan_id)
    report = RefreshReport(plan_id=plan_id)
    diff.report = report

    # a cut listing is like a failed fetch for what it does not list (missing at source,
    # listings), and like a successful one for what it lists
    ok_contacts: set[ContactKey] = {
        (f.integration_id, f.contact_id) for f in fetches if f.complete}
    any_fetched = any(f.ok for f in fetches)
    for f in fetches:
        if f.error is not None:
            report.errors.append(f.error)

    # What the partner says: one entry per account; the lowest contact id's listing wins.
    seen: dict[AccountKey, tuple[SourceAccount, set[str], str]] = {}
    for f in sorted((f for f in fetches if f.ok),
                    key=lambda f: (f.integration_id, id_order(f.contact_id))):
        for acct in f.accounts or ():
            if acct.deleted:
                continue
            key = (f.integration_id, acct.source_id)
            if key in seen:
                seen[key][1].add(f.contact_id)
            else:
                seen[key] = (acct, {f.contact_id}, f.source)

    by_key = {(r["integration_id"], r["source_account_id"]): r for r in rows}
    unknown: dict[tuple[str, str], int] = {}  # (partner, type) → accounts

    for key, (acct, contacts, source) in sorted(
            seen.items(), key=lambda item: (item[0][0], id_order(item[0][1]))):
        integration_id, _ = key
        shown_id = legacy_id(acct.source_id)
        if acct.truncated:
            report.truncated.append(f"{source} {acct.source_id}: {', '.join(acct.truncated)} "
                                    f"cut to {TEXT_CAP} characters")
        account_type = acct.account_type
        if acct.type_unknown:
            slot = (source, (account_type or "").strip() or "(no type)")
            unknown[slot] = unknown.get(slot, 0) + 1
        pulled = _pulled_fields(acct)
        row = by_key.get(key)
        if row is None:
            if not pulled["type_included"]:
                report.skipped_by_type.append(
                    f"{account_type or 'unknown type'} ({source} {acct.source_id})")
                continue
            description = _description(pulled["company"], pulled["number_last4"],
                                       account_type)
            diff.inserts.append({
                "plan_id": plan_id, "integration_id": integration_id,
                "source_account_id": acct.source_id, "state": "pending",
                "description": description, **pulled, "last_updated": now, "created_at": now,
                "contacts": sorted(contacts, key=id_order),
            })
            report.new.append(NewAccount(
                redtail_account_id=shown_id, description=description, account_type=account_type,
                default_investment_type=pulled["default_investment_type"],
                balance=acct.balance, review_type=bool(pulled["review_type"]), source=source))
            if acct.balance is None:
                report.balance_unknown += 1
            continue

        # a known account keeps its state and its updates even if its type stopped counting
        if not pulled["type_included"] and row["type_included"]:
            report.type_flags.append(
                f"{row['description']}: {source} type {account_type or 'unknown'} is no longer "
                "an included type (kept)")
        old_listing = set(listings.get(row["id"], ()))
        # contacts that failed this pull keep their listing; successful ones say afresh
        failed_listers = {c for c in old_listing if (integration_id, c) not in ok_contacts}
        new_listing = contacts | failed_listers
        if new_listing != old_listing:
            diff.listings[row["id"]] = new_listing

        status = status_of(row["state"], row["link_state"])
        if not receives_pull(status):  # ignored, or a link that is not active (triage)
            if status is Status.IGNORED:
                report.ignored += 1
            else:
                report.paused += 1
            continue

        changes: dict[str, Any] = {}
        for col in PULLED:
            new = pulled[col]
            if col == "balance" and new is None:
                continue  # unknown never overwrites a known balance
            if col == "balance" and row[col] is not None and new is not None:
                if Decimal(row[col]) == Decimal(new):
                    continue
            if row[col] != new:
                changes[col] = new
        if acct.balance is None:
            report.balance_unknown += 1
        if row["state"] == "pending" and not row["description_edited"]:
            description = _description(pulled["company"], pulled["number_last4"],
                                       account_type)
            if description != row["description"]:
                changes["description"] = description
        if row["missing_at_source"] or row["missing_streak"]:
            changes["missing_at_source"] = 0
            changes["missing_streak"] = 0

        content = {k for k in changes if k not in ("source_updated_at", "missing_streak")}
        account_moved = False
        if row["state"] == "linked" and "balance" in changes:
            account_id = row["linked_account_id"]
            old_bal = account_balances.get(account_id)
            new_bal = Decimal(changes["balance"])
            if old_bal is None or old_bal != new_bal:
                diff.balances.append((account_id, old_bal or Decimal(0), new_bal, row["id"]))
                account_moved = True
        elif row["state"] == "linked" and acct.balance is not None:
            # the staged copy agrees, but the account may have been edited while paused
            account_id = row["linked_account_id"]
            old_bal = account_balances.get(account_id)
            if old_bal is not None and old_bal != acct.balance:
                diff.balances.append((account_id, old_bal, acct.balance, row["id"]))
                account_moved = True

        if content or account_moved:
            old_b = _dec(row["balance"])
            if row["state"] == "linked":
                old_b = account_balances.get(row["linked_account_id"], old_b)
            report.changes.append(BalanceChange(
                redtail_account_id=shown_id, description=row["description"], old=old_b,
                new=acct.balance if acct.balance is not None else old_b,
                where="linked" if row["state"] == "linked" else "pending",
                fields=sorted(c for c in content if c not in ("balance", "missing_at_source"))))
        else:
            report.unchanged += 1
        if changes:
            changes["last_updated"] = now
            diff.updates.append((dict(row), changes))
        else:
            diff.touched.append(row["id"])

    # Missing at source: rows not returned although every successful lister was fetched.
    for row in rows:
        key = (row["integration_id"], row["source_account_id"])
        if key in seen or not can_be_missing(status_of(row["state"], row["link_state"])):
            continue  # ignored rows and links whose contact was unlinked are not watched
        listers = {(row["integration_id"], c) for c in listings.get(row["id"], ())}
        fetched = listers & ok_contacts
        if not fetched:
            continue  # failed fetches neither count nor reset
        streak = row["missing_streak"] + 1
        changes = {"missing_streak": streak}
        if streak >= 2 and not row["missing_at_source"]:
            changes["missing_at_source"] = 1
        diff.updates.append((dict(row), changes))
        if streak >= 2:
            report.missing_at_source.append(legacy_id(row["source_account_id"]))

    report.missing_at_source.sort(key=lambda i: id_order(str(i)))
    report.unknown_types = [
        f"{name} ({partner}, {count} account{'s' if count != 1 else ''})"
        for (partner, name), count in sorted(unknown.items(),
                                             key=lambda kv: (kv[0][0], kv[0][1].casefold()))]
    if report.errors:
        report.status = "failed" if not any_fetched else "partial"
    return diff


def describe_change(change: BalanceChange) -> str:
    return (f"{change.description}: {money_display(change.old)} → {money_display(change.new)}"
            + (f" ({', '.join(change.fields)})" if change.fields else ""))
