"""The fake Salesforce org's data: objects as rows of canonical fields, the demo org (the
Munster household and the quirks SALESFORCE_FSC_API.md lists) and generated books.

Ids are 18 characters with the real key prefixes (Account 001, Contact 003, RecordType 012,
AccountContactRelation 07k, FinServ__FinancialAccount__c a0F, its roles a0G, FinancialAccount
0ZF, FinancialAccountParty 0ZP, FinancialAccountBalance 0ZB).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_HOUSEHOLD",
    "DEMO_USERNAME",
    "FakeOrg",
    "SCHEMAS",
    "generate_data",
    "load_demo_data",
]

DEMO_CLIENT_ID = "3MVG9PlanTechDemoClientId"
DEMO_USERNAME = "advisor@munster.example"
DEMO_HOUSEHOLD = "Munster Household"
ORG_ID = "00D000000000001AAA"
USER_ID = "005000000000001AAA"
STAMP = "2026-11-30T09:15:00.000+0000"

_F = "FinServ__"
SCHEMAS: dict[str, dict[str, str]] = {
    "Account": {"Id": "id", "Name": "string", "FirstName": "string", "LastName": "string",
                "PersonEmail": "email", "PersonContactId": "reference",
                "IsPersonAccount": "boolean", "RecordTypeId": "reference",
                "IsDeleted": "boolean", "LastModifiedDate": "datetime"},
    "RecordType": {"Id": "id", "Name": "string", "DeveloperName": "string",
                   "SobjectType": "string"},
    "AccountContactRelation": {"Id": "id", "AccountId": "reference", "ContactId": "reference",
                               "Roles": "multipicklist", "IsActive": "boolean",
                               f"{_F}PrimaryGroup__c": "boolean", f"{_F}Primary__c": "boolean"},
    f"{_F}FinancialAccount__c": {
        "Id": "id", "Name": "string", f"{_F}FinancialAccountNumber__c": "string",
        f"{_F}Balance__c": "currency", f"{_F}FinancialAccountType__c": "picklist",
        f"{_F}Status__c": "picklist", f"{_F}TaxStatus__c": "picklist",
        f"{_F}Ownership__c": "picklist", f"{_F}HeldAway__c": "boolean",
        f"{_F}Managed__c": "boolean", f"{_F}PrimaryOwner__c": "reference",
        f"{_F}JointOwner__c": "reference", f"{_F}Household__c": "reference",
        f"{_F}OpenDate__c": "date", f"{_F}CloseDate__c": "date", "RecordTypeId": "reference",
        "LastModifiedDate": "datetime", "IsDeleted": "boolean"},
    f"{_F}FinancialAccountRole__c": {
        "Id": "id", f"{_F}FinancialAccount__c": "reference",
        f"{_F}RelatedAccount__c": "reference", f"{_F}RelatedContact__c": "reference",
        f"{_F}Role__c": "picklist", f"{_F}Active__c": "boolean", f"{_F}StartDate__c": "date",
        f"{_F}EndDate__c": "date", "IsDeleted": "boolean"},
    "FinancialAccount": {"Id": "id", "Name": "string", "FinancialAccountNumber": "string",
                         "Type": "picklist", "Status": "picklist", "OpeningDate": "date",
                         "ClosingDate": "date", "IsHeldAway": "boolean", "IsDeleted": "boolean"},
    "FinancialAccountBalance": {"Id": "id", "FinancialAccountId": "reference",
                                "Amount": "currency", "BalanceAsOfDate": "date",
                                "Type": "picklist", "IsDeleted": "boolean"},
    "FinancialAccountParty": {"Id": "id", "FinancialAccountId": "reference",
                              "AccountId": "reference", "ContactId": "reference",
                              "Role": "picklist", "IsRoleActive": "boolean",
                              "IsDeleted": "boolean"},
}
PACKAGE_OBJECTS = frozenset({f"{_F}FinancialAccount__c", f"{_F}FinancialAccountRole__c"})
STANDARD_OBJECTS = frozenset({"FinancialAccount", "FinancialAccountBalance",
                              "FinancialAccountParty"})
PREFIX = {"Account": "001", "Contact": "003", "RecordType": "012",
          "AccountContactRelation": "07k", f"{_F}FinancialAccount__c": "a0F",
          f"{_F}FinancialAccountRole__c": "a0G", "FinancialAccount": "0ZF",
          "FinancialAccountParty": "0ZP", "FinancialAccountBalance": "0ZB"}
# the org's picklist of account types (describe): the sample data's, and one custom value
ACCOUNT_TYPES = ["Brokerage", "Discount Brokerage", "Individual Retirement", "Roth IRA",
                 "401(k)", "529 Plan", "Checking", "Savings", "Mutual Fund",
                 "Cash Management Account", "Credit Card", "Individual Life",
                 "Treasury Management", "Family Office Sweep"]


@dataclass
class FakeOrg:
    """Every object's rows by id, and what this org has switched on."""

    rows: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in SCHEMAS})
    package: bool = True  # FSC's managed package
    standard: bool = False  # the standard FinancialAccount objects (API 61.0+)
    account_types: list[str] = field(default_factory=lambda: list(ACCOUNT_TYPES))
    _serial: dict[str, int] = field(default_factory=dict)
    household_type_id: str = ""

    def new_id(self, sobject: str) -> str:
        n = self._serial[sobject] = self._serial.get(sobject, 0) + 1
        return f"{PREFIX[sobject]}{n:012d}AAA"[:18].ljust(18, "A")

    def add(self, sobject: str, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(SCHEMAS[sobject])
        row.update({"IsDeleted": False} if "IsDeleted" in row else {})
        row.update(values)
        row["Id"] = row.get("Id") or self.new_id(sobject)
        if "LastModifiedDate" in row and row["LastModifiedDate"] is None:
            row["LastModifiedDate"] = STAMP
        self.rows[sobject][row["Id"]] = row
        return row

    # -- building blocks

    def person(self, first: str, last: str, email: str | None = None) -> dict[str, Any]:
        contact = self.new_id("Contact")
        return self.add("Account", Name=f"{first} {last}", FirstName=first, LastName=last,
                        PersonEmail=email, PersonContactId=contact, IsPersonAccount=True)

    def household(self, name: str, members: list[dict[str, Any]],
                  primary: list[bool] | None = None) -> dict[str, Any]:
        if not self.household_type_id:
            self.household_type_id = self.add(
                "RecordType", Name="Household", DeveloperName="IndustriesHousehold",
                SobjectType="Account")["Id"]
        house = self.add("Account", Name=name, IsPersonAccount=False,
                         RecordTypeId=self.household_type_id)
        for i, member in enumerate(members):
            self.add("AccountContactRelation", AccountId=house["Id"],
                     ContactId=member["PersonContactId"], Roles="Client", IsActive=True,
                     **{f"{_F}PrimaryGroup__c": primary[i] if primary else True,
                        f"{_F}Primary__c": i == 0})
        return house

    def account(self, owner: dict[str, Any], name: str, number: str | None,
                account_type: str | None, balance: str | None, *,
                joint: dict[str, Any] | None = None, household: dict[str, Any] | None = None,
                status: str = "Open", tax_status: str | None = None, held_away: bool = False,
                roles: bool = True) -> dict[str, Any]:
        """A package financial account and (as FSC keeps them) its active owner roles; with
        `standard` on, the same account as standard objects too."""
        row = self.add(f"{_F}FinancialAccount__c", Name=name, **{
            f"{_F}FinancialAccountNumber__c": number,
            f"{_F}Balance__c": None if balance is None else Decimal(balance),
            f"{_F}FinancialAccountType__c": account_type, f"{_F}Status__c": status,
            f"{_F}TaxStatus__c": tax_status, f"{_F}HeldAway__c": held_away,
            f"{_F}Managed__c": not held_away, f"{_F}PrimaryOwner__c": owner["Id"],
            f"{_F}JointOwner__c": joint["Id"] if joint else None,
            f"{_F}Household__c": household["Id"] if household else None,
            f"{_F}Ownership__c": "Joint" if joint else "Individual",
            f"{_F}OpenDate__c": "2020-01-15",
            f"{_F}CloseDate__c": "2025-06-30" if status == "Closed" else None})
        if roles:
            self.role(row, owner, "Primary Owner")
            if joint:
                self.role(row, joint, "Joint Owner")
        if self.standard:
            self.add("FinancialAccount", Id=row["Id"].replace("a0F", "0ZF", 1), Name=name,
                     FinancialAccountNumber=number, Type=account_type, Status=status,
                     OpeningDate="2020-01-15", IsHeldAway=held_away)
            std = row["Id"].replace("a0F", "0ZF", 1)
            for who, role in ((owner, "Primary Owner"), (joint, "Joint Owner")):
                if who is not None:
                    self.add("FinancialAccountParty", FinancialAccountId=std, AccountId=who["Id"],
                             ContactId=who["PersonContactId"], Role=role, IsRoleActive=True)
            if balance is not None:
                self.add("FinancialAccountBalance", FinancialAccountId=std,
                         Amount=Decimal(balance), BalanceAsOfDate="2026-11-30", Type="Current")
        return row

    def role(self, account: dict[str, Any], who: dict[str, Any], role: str, *,
             active: bool = True) -> dict[str, Any]:
        return self.add(f"{_F}FinancialAccountRole__c", **{
            f"{_F}FinancialAccount__c": account["Id"], f"{_F}RelatedAccount__c": who["Id"],
            f"{_F}Role__c": role, f"{_F}Active__c": active, f"{_F}StartDate__c": "2020-01-15",
            f"{_F}EndDate__c": None if active else "2024-12-31"})

    def by_name(self, name: str) -> dict[str, Any]:
        """A person or household account by its Name (tests and the demo keys)."""
        return next(r for r in self.rows["Account"].values() if r["Name"] == name)

    def accounts_of(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in self.rows[f"{_F}FinancialAccount__c"].values()
                if owner["Id"] in (r[f"{_F}PrimaryOwner__c"], r[f"{_F}JointOwner__c"])]


def load_demo_data(*, standard: bool = False) -> FakeOrg:
    """The demo org: the Munster household, and every quirk a client must survive."""
    org = FakeOrg(standard=standard)
    herman = org.person("Herman", "Munster", "herman@munster.example")
    lily = org.person("Lily", "Munster", "lily@munster.example")
    grandpa = org.person("Sam", "Dracula", "grandpa@munster.example")
    house = org.household(DEMO_HOUSEHOLD, [herman, lily, grandpa], primary=[True, True, False])
    org.household("Dracula Household", [grandpa])  # Grandpa is in two households

    org.account(herman, "Schwab Brokerage", "SCH-44017", "Brokerage", "152340.55",
                household=house, tax_status="Nonqualified")
    org.account(herman, "Fidelity IRA", "FID-77310", "Individual Retirement", "98765.43",
                household=house, tax_status="Qualified")
    org.account(lily, "Vanguard Roth IRA", "VG-20931", "Roth IRA", "64210.00",
                household=house, tax_status="Tax-Free")
    org.account(herman, "Schwab Joint Brokerage", "SCH-55102", "Brokerage", "310500.00",
                joint=lily, household=house, tax_status="Nonqualified")
    org.account(lily, "Acme Corp 401(k)", "401-8812", "401(k)", "187000.00", household=house,
                tax_status="Tax-Deferred", held_away=True)
    org.account(herman, "Mockingbird Savings", "SAV-1313", "Savings", "4100.00",
                household=house, status="Closed")
    org.account(herman, "Transylvania Visa", "4111-2222", "Credit Card", "-1250.00",
                household=house)
    org.account(lily, "Cemetery Trust Checking", "CHK-0666", "Checking", None, household=house)
    org.account(herman, "Unlabelled holding", "", "", "2500.00", household=house)
    org.account(grandpa, "Castle Treasury Sweep", "TM-1897", "Treasury Management",
                "50000.00")
    org.account(grandpa, "Family Office Sweep", "FOS-0001", "Family Office Sweep", "12000.00")
    org.account(grandpa, "Grandpa 529 for Eddie", "529-0042", "529 Plan", "23000.00",
                tax_status="Tax-Free")
    # Grandpa's bat-wing annuity: qualified tax status on a taxable type (mapped to Other)
    org.account(grandpa, "Brokerage Qualified?", "BQ-7777", "Brokerage", "8000.00",
                tax_status="Qualified")
    # a trust owns an account; Herman is its trustee and a beneficiary elsewhere (not his)
    trust = org.add("Account", Name="Munster Family Trust", IsPersonAccount=False)
    trust_acct = org.account(trust, "Munster Trust Account", "TR-0101", "Brokerage",
                             "500000.00")
    org.role(trust_acct, herman, "Trustee")
    org.role(trust_acct, lily, "Beneficiary")
    # an ended owner role: Lily was joint owner of this one until 2024 (no longer hers)
    ended = org.account(herman, "Old Joint CD", "CD-3030", "CD", "15000.00")
    org.role(ended, lily, "Joint Owner", active=False)
    # an account Herman owns by an active role only (PrimaryOwner blank in the record)
    by_role = org.account(grandpa, "Herman's Annuity (by role)", "AN-5150", "Annuity",
                          "41000.00", roles=False)
    by_role[f"{_F}PrimaryOwner__c"] = None
    org.role(by_role, herman, "Primary Owner")

    # two Addams whose accounts sit at a firm on Salesforce (the demo links one of each CRM)
    wednesday = org.person("Wednesday", "Addams", "wednesday@nevermore.example")
    org.account(wednesday, "Nevermore Savings", "NVM-1313", "Savings", "3000.00")
    org.account(wednesday, "Raven Roth IRA", "RVN-0666", "Roth IRA", "12500.00",
                tax_status="Tax-Free")
    pugsley = org.person("Pugsley", "Addams", "pugsley@addams.example")
    org.account(pugsley, "Dynamite 529 Plan", "529-1010", "529 Plan", "8000.00",
                tax_status="Tax-Free")
    org.account(pugsley, "Pugsley Checking", "CHK-2020", "Checking", "250.00")

    zoe = org.person("Zoë", "D'Arcy-Ñúñez", "zoe.darcy@example.org")
    org.account(zoe, "Crédit Agricole Épargne", "FR-76-3000", "Savings", "18000.00")
    busy = org.person("Busy", "Client", "busy@example.org")
    for i in range(450):
        org.account(busy, f"Busy Brokerage {i:03d}", f"BB-{i:05d}", "Brokerage",
                    f"{1000 + i}.00")
    return org


_FIRST = ["Ada", "Ben", "Cleo", "Dev", "Esme", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai",
          "Lena", "Milo", "Nia", "Otto", "Pia", "Quinn", "Rosa", "Sami", "Theo"]
_LAST = ["Archer", "Brooks", "Castro", "Duval", "Ekberg", "Fischer", "Garcia", "Haddad",
         "Ito", "Jansen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov"]
_COMPANIES = ["Schwab", "Fidelity", "Vanguard", "Pershing", "TD", "Morgan Stanley"]


def generate_data(n: int, seed: int = 1, *, accounts_each: int = 30,
                  standard: bool = False) -> FakeOrg:
    """`n` clients (households of two) with `accounts_each` accounts each, deterministic."""
    rng = random.Random(seed)
    org = FakeOrg(standard=standard)
    people = [org.person(rng.choice(_FIRST), f"{rng.choice(_LAST)}{i}",
                         f"client{i}@example.org") for i in range(n)]
    for i in range(0, n, 2):
        org.household(f"{people[i]['LastName']} Household", people[i:i + 2])
    types = [t for t in ACCOUNT_TYPES if t not in ("Credit Card", "Treasury Management")]
    for i, person in enumerate(people):
        for j in range(accounts_each):
            org.account(person, f"{rng.choice(_COMPANIES)} {rng.choice(types)}",
                        f"G{i:05d}-{j:04d}", rng.choice(types),
                        f"{rng.randint(100, 900000)}.{rng.randint(0, 99):02d}")
    return org
