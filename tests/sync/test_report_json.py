"""The stored refresh report is written in pieces (issue 11: the C JSON encoder holds the GIL
for a whole call, 136 ms for a 100k-account report, and the TUI's keys waited on it).

Adversary: a first pull of a 100k-account book, and a maintainer who changes the writer: the
text stored must stay byte for byte what `json.dumps` wrote before (reports, `plan report`
and the audit log read it back), at every size around a piece's edge.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from plantech_tui.domain.report import NewAccount, PullError, RefreshReport
from plantech_tui.sync.engine import report_json


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2000, 2001, 25_000])
def test_the_report_is_written_as_json_dumps_wrote_it(n: int) -> None:
    report = RefreshReport(plan_id=1, status="partial")
    report.new = [NewAccount(redtail_account_id=1_000_000 + i, description=f'F"é\\ {i}',
                             account_type="Brokerage", default_investment_type="Cash",
                             balance=Decimal("123.45") if i % 3 else None)
                  for i in range(n)]
    report.missing_at_source = list(range(n))
    report.errors = [PullError(redtail_contact_id=101, kind="rate_limited", message="slow")]
    assert report_json(report) == json.dumps(report.as_json())
    assert json.loads(report_json(report))["plan_id"] == 1
