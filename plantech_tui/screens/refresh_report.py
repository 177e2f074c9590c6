"""The refresh report after a pull: new, changed (old → new), unchanged, skipped by type,
paused, balance unknown, missing at source, errors with the server's text."""

from __future__ import annotations

from ..domain.report import PullError, RefreshReport
from ..sync.diff import describe_change
from ..widgets.fmt import money_display
from ..widgets.icons import IconSet
from .base import TextModal


def report_lines(report: RefreshReport, i: IconSet) -> list[str]:
    status = {"ok": f"{i.ok} ok", "partial": f"{i.warning} partial",
              "failed": f"{i.error} failed"}[report.status]
    lines = [f"Status: {status}{' (dry run)' if report.dry_run else ''}",
             f"Summary: {report.summary()}", ""]
    lines.append(f"New ({len(report.new)}):")
    lines += [f"  {i.new} {n.description} — {n.source or 'partner'} type "
              f"{n.account_type or 'unknown'} → "
              f"{n.default_investment_type}{' (review)' if n.review_type else ''}, "
              f"{money_display(n.balance, 'balance unknown')}" for n in report.new]
    lines.append(f"Changed ({len(report.changes)}):")
    lines += [f"  {i.changed} {describe_change(c)}" for c in report.changes]
    lines.append(f"Unchanged: {report.unchanged}")
    lines.append(f"Skipped by type ({len(report.skipped_by_type)}):"
                 + ("" if report.skipped_by_type else " none"))
    lines += [f"  - {s}" for s in report.skipped_by_type]
    if report.unknown_types:
        lines.append(f"Types the mapping does not know ({len(report.unknown_types)}): map "
                     "them in the partner's mapping file (see plantech doctor)")
        lines += [f"  {i.warning} {t}" for t in report.unknown_types]
    lines.append(f"Paused (not updated): {report.paused}")
    if report.ignored:
        lines.append(f"Ignored (not updated): {report.ignored}")
    lines.append(f"Balance unknown: {report.balance_unknown}")
    lines.append(f"Missing at source: {len(report.missing_at_source)}"
                 + (" — " + ", ".join(map(str, report.missing_at_source))
                    if report.missing_at_source else ""))
    lines += [f"  {i.warning} {flag}" for flag in report.type_flags]
    if report.truncated:
        lines.append(f"Text cut ({len(report.truncated)}):")
        lines += [f"  {i.warning} {t}" for t in report.truncated]
    lines.append(f"Errors ({len(report.errors)}):" + ("" if report.errors else " none"))
    for e in report.errors:
        who = f"contact {e.redtail_contact_id}: " if e.redtail_contact_id else ""
        lines.append(f"  {i.error} {who}{e.message}")
    return lines


class RefreshReportScreen(TextModal):
    DIALOG_CLASSES = "dialog wide report"
    SCROLL_ID = "report-body"
    TEXT_ID = "report"

    def __init__(self, report: RefreshReport, plan_name: str) -> None:
        super().__init__()
        self.report = report
        self.plan_name = plan_name

    def heading(self) -> str:
        return f"Refresh Integrations — {self.plan_name}"

    def text(self) -> str:
        return "\n".join(report_lines(self.report, self.icons))


def refresh_all_lines(outcomes: list[tuple[str, RefreshReport | PullError | str]],
                      i: IconSet) -> list[str]:
    """One line per plan (its summary, or why it was not pulled), then the errors."""
    counts = {"ok": 0, "partial": 0, "failed": 0, "not pulled": 0}
    lines: list[str] = []
    for name, outcome in outcomes:
        if isinstance(outcome, RefreshReport):
            counts[outcome.status] += 1
            mark = {"ok": i.ok, "partial": i.warning, "failed": i.error}[outcome.status]
            status = "" if outcome.status == "ok" else f" ({outcome.status})"
            lines.append(f"{mark} {name}{status}: {outcome.summary()}")
            for e in outcome.errors:
                who = f"contact {e.redtail_contact_id}: " if e.redtail_contact_id else ""
                lines.append(f"    {i.error} {who}{e.message}")
        elif isinstance(outcome, PullError):
            counts["failed"] += 1
            lines.append(f"{i.error} {name}: {outcome.message}")
        else:
            counts["not pulled"] += 1
            lines.append(f"- {name}: {outcome}")
    head = ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "no plans"
    return [f"{len(outcomes)} plan(s): {head}", "", *lines]


class RefreshAllScreen(TextModal):
    """The report of "Refresh all my plans": one line per plan."""

    DIALOG_CLASSES = "dialog wide report"
    SCROLL_ID = "report-body"
    TEXT_ID = "report"

    def __init__(self, outcomes: list[tuple[str, RefreshReport | PullError | str]]) -> None:
        super().__init__()
        self.outcomes = outcomes

    def heading(self) -> str:
        return "Refresh all my plans"

    def text(self) -> str:
        return "\n".join(refresh_all_lines(self.outcomes, self.icons))
