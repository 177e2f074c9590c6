"""The Salesforce partner's records: clients, households and accounts as the seam's neutral
records, from the demo org's quirks (SALESFORCE_FSC_API.md, "Quirks a fake must reproduce")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from plantech_tui.domain.errors import ValidationFailed
from plantech_tui.partners.base import BadResponse, PartnerNotFound, RateLimited
from plantech_tui.partners.salesforce import fake

from .conftest import InProcess, ids, in_process, open_connection


async def test_herman_s_accounts_as_a_planner_needs_them(sf: InProcess) -> None:
    """Advisor linking Herman: his own and his joint accounts, an account he owns only by an
    active role; not the closed savings, not the trust he is merely trustee of, not the CD
    whose joint role ended; a credit card listed but not staged (a known skipped type); an
    account without type or number listed, its type unknown."""
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(ids(sf.org)["Herman"])
    by_name = {a.company: a for a in listing.accounts}
    assert set(by_name) == {"Schwab Brokerage", "Fidelity IRA", "Schwab Joint Brokerage",
                            "Transylvania Visa", "Unlabelled holding", "Old Joint CD",
                            "Herman's Annuity (by role)"}
    assert by_name["Fidelity IRA"].investment_type == "Traditional IRA"
    assert by_name["Schwab Brokerage"].balance == Decimal("152340.55")
    assert by_name["Schwab Brokerage"].number == "SCH-44017"
    visa = by_name["Transylvania Visa"]
    assert not visa.included and not visa.type_unknown  # skipped, and the firm knows it
    blank = by_name["Unlabelled holding"]
    assert blank.account_type is None and blank.number == "" and blank.type_unknown
    assert not blank.included
    assert by_name["Herman's Annuity (by role)"].investment_type == "Annuity (Non-Qualified)"


async def test_a_joint_account_is_listed_for_both_owners_with_one_id(sf: InProcess) -> None:
    """The core stages an account once per id (owner Joint when both owners are the plan's
    clients): the partner must give Herman and Lily the same id for their joint brokerage."""
    conn = await open_connection(sf)
    people = ids(sf.org)
    async with conn:
        herman = {a.company: a.source_id for a in (await conn.accounts(people["Herman"])).accounts}
        lily = {a.company: a.source_id for a in (await conn.accounts(people["Lily"])).accounts}
    assert herman["Schwab Joint Brokerage"] == lily["Schwab Joint Brokerage"]
    assert "Old Joint CD" not in lily  # her joint role ended in 2024


async def test_held_away_is_staged_and_marked_null_balance_is_unknown(sf: InProcess) -> None:
    """Lily's 401(k) is held at another firm: it is staged (a planner plans with it) and its
    note says "Held away"; her checking account has no balance in Salesforce: unknown, never
    zero."""
    conn = await open_connection(sf)
    async with conn:
        lily = {a.company: a for a in (await conn.accounts(ids(sf.org)["Lily"])).accounts}
    held = lily["Acme Corp 401(k)"]
    assert held.held_away and held.included  # the core marks it (sync/diff.py, type_note)
    assert lily["Cemetery Trust Checking"].balance is None


async def test_qualified_tax_status_on_a_taxable_type_is_flagged_for_review(
        sf: InProcess) -> None:
    """A brokerage account marked Qualified contradicts itself: Other, for review (the doc's
    rule), not a silent Taxable Brokerage."""
    conn = await open_connection(sf)
    async with conn:
        sam = {a.company: a for a in (await conn.accounts(ids(sf.org)["Sam"])).accounts}
    odd = sam["Brokerage Qualified?"]
    assert odd.investment_type == "Other" and odd.review_type
    assert "Qualified" in odd.type_note
    assert sam["Family Office Sweep"].type_unknown  # the org's own custom value


async def test_search_by_name_words_or_email_and_the_household(sf: InProcess) -> None:
    """Searching "munster" finds Herman and Lily (person accounts only, not the household
    account); "d'arcy" finds Zoë (apostrophe and accents); an email finds its owner. Herman's
    household is the Munster one with Grandpa in it (Grandpa's primary group is elsewhere)."""
    conn = await open_connection(sf)
    async with conn:
        found, cut = await conn.search_contacts({"name": "munster"})
        assert [c.name for c in found] == ["Herman Munster", "Lily Munster"] and not cut
        [zoe], _ = await conn.search_contacts({"name": "d'arcy"})
        assert zoe.name == "Zoë D'Arcy-Ñúñez"
        [lily], _ = await conn.search_contacts({"email": "lily@munster.example"})
        assert lily.first_name == "Lily" and lily.emails == ("lily@munster.example",)
        household = await conn.household(found[0].source_id)
    people = ids(sf.org)
    assert household.name == fake.DEMO_HOUSEHOLD
    assert set(household.member_ids) == {people["Herman"], people["Lily"], people["Sam"]}


@pytest.mark.parametrize("text", [
    "x' OR Name LIKE '%", "%", "_", "' OR IsPersonAccount = false OR Name = '",
    "\\' OR Id != '", "munster' AND Name != 'x",
])
async def test_soql_injection_in_the_search_finds_nothing_and_changes_nothing(
        sf: InProcess, text: str) -> None:
    """Adversary: search text built to widen the query (close the quote, add OR, wildcards).
    It is one literal: nothing matches (no name contains it), the org is unchanged, and every
    query the fake received parsed as the client meant."""
    before = {k: dict(v) for k, v in sf.org.rows["Account"].items()}
    conn = await open_connection(sf)
    async with conn:
        found, _ = await conn.search_contacts({"name": text})
    assert found == []
    assert {k: dict(v) for k, v in sf.org.rows["Account"].items()} == before


async def test_a_bad_client_id_is_refused_before_any_query(sf: InProcess) -> None:
    """Adversary: `link-contact --contact "001' OR Id != '"`: refused as not an id."""
    conn = await open_connection(sf)
    async with conn:
        asked = len(sf.state.queries)
        with pytest.raises(ValidationFailed, match="15 or 18"):
            await conn.accounts("001' OR Id != '")
        with pytest.raises(PartnerNotFound):
            await conn.contact("001999999999999AAA")
    assert len(sf.state.queries) == asked + 1  # only the lookup of the well-formed id


async def test_the_standard_objects_are_used_when_the_package_is_absent() -> None:
    """An org with FSC's standard objects and no managed package: accounts come from
    FinancialAccount, their owners from parties, the newest balance per account."""
    sf = in_process(fake.load_demo_data(standard=True), "no_package")
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(ids(sf.org)["Herman"])
    names = {a.company: a for a in listing.accounts}
    assert "Schwab Joint Brokerage" in names and "Mockingbird Savings" not in names
    assert names["Fidelity IRA"].balance == Decimal("98765.43")
    assert all(a.source_id.startswith("0ZF") for a in listing.accounts)


async def test_no_financial_accounts_at_all_is_explained(sf: InProcess) -> None:
    """A user without FSC access: the contact fails with why, not an empty listing that
    would flag every linked account missing."""
    sf.state.set_faults("no_package")
    conn = await open_connection(sf)
    async with conn:
        with pytest.raises(BadResponse, match="no financial accounts"):
            await conn.accounts(ids(sf.org)["Herman"])


async def test_a_hidden_optional_field_is_dropped_a_hidden_required_one_is_named(
        sf: InProcess) -> None:
    """Field-level security hides HeldAway from this user: the listing goes on without it.
    If it hides the balance, the message names the field and what to ask the admin."""
    sf.state.set_faults("hidden_field:FinServ__FinancialAccount__c.FinServ__HeldAway__c")
    conn = await open_connection(sf)
    async with conn:
        listing = await conn.accounts(ids(sf.org)["Lily"])
        assert listing.accounts and not any(a.held_away for a in listing.accounts)
        sf.state.set_faults("hidden_field:FinServ__FinancialAccount__c.FinServ__Balance__c")
        with pytest.raises(BadResponse, match="FinServ__Balance__c.*field-level access"):
            await conn.accounts(ids(sf.org)["Herman"])


async def test_unmapped_types_come_from_the_org_s_picklist(sf: InProcess) -> None:
    """doctor's question: which of the org's own type values does the mapping not know?
    The custom "Family Office Sweep"; not Credit Card (known, skipped)."""
    conn = await open_connection(sf)
    async with conn:
        assert await conn.unmapped_types() == ["Family Office Sweep"]


async def test_a_limit_on_one_client_fails_that_client_only(sf: InProcess) -> None:
    """REQUEST_LIMIT_EXCEEDED while listing Lily: her listing fails (RateLimited), Herman's
    still works."""
    people = ids(sf.org)
    sf.state.set_faults(f"request_limit_owner:{people['Lily']}")
    conn = await open_connection(sf)
    async with conn:
        assert (await conn.accounts(people["Herman"])).accounts
        with pytest.raises(RateLimited):
            await conn.accounts(people["Lily"])
