"""Suggested links: which existing manual account a pending Redtail account probably is.

Scoring (documented in the README too), each pending row against each unlinked plan account:
  +3  same last 4 of the account number (both known)
  +2  same investment type (the row's default type)
  +2  descriptions alike (difflib ratio >= 0.75 after casefolding)
  +1  the row's company named in the account's description (or the other way round)
A suggestion needs a score of at least 4 and a single best candidate; ties suggest nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

from .models import PlanAccount, StagedAccount

THRESHOLD = 4


def score(staged: StagedAccount, account: PlanAccount) -> int:
    points = 0
    if staged.number_last4 and account.number_last4 and staged.number_last4 == account.number_last4:
        points += 3
    if staged.default_investment_type == account.investment_type:
        points += 2
    a, b = staged.description.casefold(), account.description.casefold()
    if SequenceMatcher(None, a, b).ratio() >= 0.75:
        points += 2
    company = (staged.company or "").casefold().strip()
    if company and (company in b or b in company):
        points += 1
    return points


def suggest(staged: StagedAccount, candidates: Iterable[PlanAccount]) -> int | None:
    """The id of the one best unlinked account, or None."""
    best: list[tuple[int, int]] = []
    for account in candidates:
        if account.link is not None:
            continue
        s = score(staged, account)
        if s >= THRESHOLD:
            best.append((s, account.id))
    if not best:
        return None
    best.sort(reverse=True)
    if len(best) > 1 and best[0][0] == best[1][0]:
        return None
    return best[0][1]
