"""The fake Redtail server, spoken to with plain httpx (never the product's client).

Expected values are written out literally from REDTAIL_API.md, SPEC §6/§8 and the demo dataset.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from plantech_tui.partners.redtail.fake import (
    DEMO_API_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    FakeData,
    FakeRedtailServer,
    configure_parser,
    create_app,
    generate_data,
    load_dataset,
    load_demo_data,
    run_from_args,
)
from plantech_tui.partners.redtail.fake import app as fake_app
from plantech_tui.partners.redtail.fake.dataset import DatasetError, FakeAccount, FakeUser

BASE = "http://fake/api/public/v1"
ADMIN = "http://fake/__admin"
GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONTACT_FIELDS = {
    "id",
    "type",
    "first_name",
    "middle_name",
    "last_name",
    "nickname",
    "full_name",
    "dob",
    "status_id",
    "category_id",
    "source_id",
    "servicing_advisor_id",
    "created_at",
    "updated_at",
}
ACCOUNT_FIELDS = {
    "id",
    "contact_id",
    "number",
    "company",
    "balance",
    "account_type",
    "account_type_id",
    "taxqualified",
    "taxqualified_type",
    "product",
    "status",
    "deleted",
    "created_at",
    "updated_at",
}
APPENDIX_A = [
    "Brokerage",
    "Individual",
    "Joint",
    "Trust",
    "TOD",
    "IRA",
    "Traditional IRA",
    "Rollover IRA",
    "SEP IRA",
    "SIMPLE IRA",
    "Inherited IRA",
    "Roth IRA",
    "401(k)",
    "Roth 401(k)",
    "403(b)",
    "457(b)",
    "Pension",
    "Profit Sharing",
    "529 Plan",
    "HSA",
    "UTMA/UGMA",
    "Annuity",
    "Fixed Annuity",
    "Variable Annuity",
    "Indexed Annuity",
    "Mutual Fund",
    "Checking",
    "Savings",
    "Money Market",
    "CD",
    "Other",
]
TAX_QUALIFIED_NAMES = [
    "Non-Qualified",
    "IRA",
    "Traditional IRA",
    "Rollover IRA",
    "Roth IRA",
    "SEP IRA",
    "SIMPLE IRA",
    "Inherited IRA",
    "401(k)",
    "Roth 401(k)",
    "403(b)",
    "457(b)",
    "Pension",
    "Profit Sharing",
    "Keogh",
    "529 Plan",
    "HSA",
]
FAULT_NAMES = [
    "unauthorized",
    "locked",
    "gateway_timeout",
    "forbidden",
    "not_found",
    "rate_limit",
    "server_error",
    "server_error_contact",
    "timeout",
    "malformed",
    "lying_pages",
    "ignore_pagesize",
    "slow",
    "huge_page",
    "endless_body",
    "bad_utf8",
]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def basic(username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD, key: str = DEMO_API_KEY):
    return {"Authorization": f"Basic {b64(f'{key}:{username}:{password}')}"}


def userkey(user_key: str, api_key: str = DEMO_API_KEY, scheme: str = "Userkeyauth"):
    return {"Authorization": f"{scheme} {b64(f'{api_key}:{user_key}')}"}


@pytest.fixture
def data() -> FakeData:
    return load_demo_data()


@pytest.fixture
def app(data: FakeData) -> Any:
    return create_app(data)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.get("/authentication", headers=basic())
    assert r.status_code == 200
    return userkey(r.json()["authenticated_user"]["user_key"])


async def set_faults(client: httpx.AsyncClient, spec: str) -> httpx.Response:
    r = await client.post(f"{ADMIN}/faults", json={"faults": spec})
    assert r.status_code == 200, r.text
    return r


async def all_ids(client: httpx.AsyncClient, path: str, auth: dict[str, str], key: str) -> list:
    r = await client.get(path, headers=auth)
    assert r.status_code == 200
    return [item["id"] for item in r.json()[key]]


# -- authentication --------------------------------------------------------------------------


async def test_authentication_returns_a_stable_user_key(client: httpx.AsyncClient) -> None:
    first = await client.get("/authentication", headers=basic())
    second = await client.get("/authentication", headers=basic())
    assert first.status_code == 200
    user = first.json()["authenticated_user"]
    assert GUID.match(user["user_key"])
    assert user["redtail_user_id"] == 280717
    assert user["redtail_database_id"] == 280717
    assert second.json() == first.json()
    # deterministic per dataset: a fresh app over a fresh copy gives the same key
    other = httpx.ASGITransport(app=create_app(load_demo_data()))
    async with httpx.AsyncClient(transport=other, base_url=BASE) as c:
        again = await c.get("/authentication", headers=basic())
    assert again.json()["authenticated_user"]["user_key"] == user["user_key"]


async def test_users_added_by_tests_can_log_in(data: FakeData, client: httpx.AsyncClient) -> None:
    data.add_user(FakeUser("thing", "hand-123"))
    r = await client.get("/authentication", headers=basic("thing", "hand-123"))
    assert r.status_code == 200
    key = r.json()["authenticated_user"]["user_key"]
    assert (
        key
        != (await client.get("/authentication", headers=basic())).json()["authenticated_user"][
            "user_key"
        ]
    )
    assert (await client.get("/contacts", headers=userkey(key))).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        basic(password="wrong"),
        basic(username="nobody"),
        basic(key="not-the-api-key"),
        {"Authorization": f"Basic {b64(f'{DEMO_API_KEY}:{DEMO_USERNAME}')}"},
        {"Authorization": "Basic %%%not-base64"},
        {"Authorization": "Bearer abc"},
    ],
)
async def test_authentication_failures_are_401_with_a_message(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.get("/authentication", headers=headers)
    assert r.status_code == 401
    assert isinstance(r.json()["message"], str) and r.json()["message"]
    assert "user_key" not in r.text


async def test_login_locks_after_three_failures(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        r = await client.get("/authentication", headers=basic(password="wrong"))
        assert r.status_code == 401
        assert "Account Locked" not in r.json()["message"]
    # now even the right password is refused
    r = await client.get("/authentication", headers=basic())
    assert r.status_code == 401
    assert "Account Locked" in r.json()["message"]
    # per username: another user still logs in
    assert (
        await client.get("/authentication", headers=basic("lurch", "you-rang-1313"))
    ).status_code == 200
    state = (await client.get(f"{ADMIN}/state")).json()
    assert state["locked_users"] == ["demo"]
    assert (await client.post(f"{ADMIN}/logins/reset")).status_code == 200
    assert (await client.get("/authentication", headers=basic())).status_code == 200


async def test_a_success_resets_the_failure_count(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        await client.get("/authentication", headers=basic(password="wrong"))
    assert (await client.get("/authentication", headers=basic())).status_code == 200
    for _ in range(2):
        await client.get("/authentication", headers=basic(password="wrong"))
    assert (await client.get("/authentication", headers=basic())).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/authentication", "/contacts", "/contacts/101/accounts", "/no/such/route", "", "/"],
)
async def test_missing_header_is_401_before_routing(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(BASE + path)
    assert r.status_code == 401
    assert r.json() == {"message": "Authorization header missing"}


@pytest.mark.parametrize("scheme", ["Userkeyauth", "UserKeyAuth", "UserkeyAuth", "USERKEYAUTH"])
async def test_every_scheme_spelling_is_accepted(
    client: httpx.AsyncClient, auth: dict[str, str], scheme: str
) -> None:
    key = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":", 1)[1]
    r = await client.get("/contacts/101", headers=userkey(key, scheme=scheme))
    assert r.status_code == 200
    assert r.json()["contact"]["id"] == 101


async def test_bad_userkey_credentials_are_rejected(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    key = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":", 1)[1]
    bad = [
        userkey("00000000-0000-0000-0000-000000000000"),
        userkey(key, api_key="someone-elses-key"),
        basic(),  # Basic is for /authentication only
        {"Authorization": "Userkeyauth !!!"},
        {"Authorization": f"Userkeyauth {b64(key)}"},
        {"Authorization": "Userkeyauth"},
    ]
    for headers in bad:
        r = await client.get("/contacts", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["message"]
        assert "contacts" not in r.json()


async def test_unknown_route_with_credentials_is_404_json(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.get("/no/such/route", headers=auth)
    assert r.status_code == 404
    assert "message" in r.json()
    r = await client.get("http://fake/elsewhere")
    assert r.status_code == 404


# -- envelopes, fields, paging ---------------------------------------------------------------


async def test_contacts_envelope_and_fields(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.get("/contacts", headers=auth)
    body = r.json()
    assert set(body) == {"contacts", "meta"}
    assert body["meta"] == {"total_records": 45, "total_pages": 1}
    assert len(body["contacts"]) == 45
    gomez = body["contacts"][0]
    assert set(gomez) == CONTACT_FIELDS
    assert gomez["id"] == 101
    assert gomez["type"] == "Crm::Contact::Individual"
    assert gomez["full_name"] == "Gomez Addams"
    assert TIMESTAMP.match(gomez["created_at"]) and TIMESTAMP.match(gomez["updated_at"])
    assert re.match(r"^\d{4}-\d\d-\d\d$", gomez["dob"])
    ids = [c["id"] for c in body["contacts"]]
    assert ids == sorted(ids)


async def test_include_header_adds_emails_and_phones(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.get("/contacts/101", headers={**auth, "include": "emails,phones"})
    contact = r.json()["contact"]
    assert [e["address"] for e in contact["emails"]] == [
        "gomez@addams-family.example",
        "g.addams@addams-industries.example",
    ]
    assert contact["phones"][0]["number"] == "555-0101"
    r = await client.get("/contacts/101", headers={**auth, "include": "emails"})
    assert "emails" in r.json()["contact"] and "phones" not in r.json()["contact"]
    r = await client.get("/contacts/101", headers=auth)
    assert "emails" not in r.json()["contact"]


async def test_single_contact_and_account(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get("/contacts/102", headers=auth)
    assert r.json()["contact"]["first_name"] == "Morticia"
    r = await client.get("/contacts/999999", headers=auth)
    assert r.status_code == 404 and r.json()["message"]
    r = await client.get("/accounts/5002", headers=auth)
    assert set(r.json()) == {"account"}
    assert r.json()["account"]["company"] == "Charles Schwab"
    r = await client.get("/accounts/424242", headers=auth)
    assert r.status_code == 404 and r.json()["message"]
    r = await client.get("/contacts/999999/accounts", headers=auth)
    assert r.status_code == 404


async def test_gomez_accounts_cover_the_demo_cases(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.get("/contacts/101/accounts", headers=auth)
    body = r.json()
    assert set(body) == {"accounts", "meta"}
    assert body["meta"] == {"total_records": 9, "total_pages": 1}
    accounts = {a["id"]: a for a in body["accounts"]}
    assert sorted(accounts) == [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008, 5009]
    for account in accounts.values():
        assert ACCOUNT_FIELDS <= set(account)
        assert account["contact_id"] == 101
        assert TIMESTAMP.match(account["updated_at"]) and TIMESTAMP.match(account["created_at"])
        assert account["balance"] is None or isinstance(account["balance"], str)
    k401 = accounts[5001]
    assert (k401["company"], k401["number"][-4:], k401["balance"]) == (
        "Fidelity",
        "4401",
        "250000.0",
    )
    assert k401["account_type"] == "401(k)" and k401["deleted"] is False
    assert accounts[5002]["account_type"] == "Brokerage"
    assert accounts[5003]["account_type"] == "Indexed Annuity"
    assert accounts[5003]["taxqualified"] is True
    assert accounts[5004]["account_type"] == "Whole Life"
    assert accounts[5005]["balance"] is None
    assert accounts[5006]["number"] == "42"
    assert accounts[5007]["company"] is None
    assert accounts[5008]["deleted"] is True
    assert accounts[5009]["number"] == ""
    # the annuity's taxqualified_type resolves to "Roth IRA" through the lookup list
    r = await client.get("/lists/account_tax_qualified_types", headers=auth)
    names = {t["id"]: t["name"] for t in r.json()["account_tax_qualified_types"]}
    assert names[accounts[5003]["taxqualified_type"]] == "Roth IRA"
    r = await client.get("/lists/account_types", headers=auth)
    types = {t["id"]: t["name"] for t in r.json()["account_types"]}
    assert all(types[a["account_type_id"]] == a["account_type"] for a in accounts.values())


async def test_morticias_accounts(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get("/contacts/102/accounts", headers=auth)
    accounts = {a["id"]: a for a in r.json()["accounts"]}
    assert sorted(accounts) == [5002, 5011, 5012, 5013, 5014]
    assert [accounts[i]["account_type"] for i in (5011, 5012, 5013, 5014)] == [
        "Rollover IRA",
        "Roth IRA",
        "Checking",
        "Variable Annuity",
    ]
    assert accounts[5014]["taxqualified"] is False
    assert accounts[5014]["taxqualified_type"] is None


async def test_joint_account_is_listed_under_both_owners(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    gomez = (await client.get("/contacts/101/accounts", headers=auth)).json()["accounts"]
    morticia = (await client.get("/contacts/102/accounts", headers=auth)).json()["accounts"]
    g = next(a for a in gomez if a["id"] == 5002)
    m = next(a for a in morticia if a["id"] == 5002)
    assert g["contact_id"] == 101 and m["contact_id"] == 102
    assert {k: v for k, v in g.items() if k != "contact_id"} == {
        k: v for k, v in m.items() if k != "contact_id"
    }


async def test_pugsley_has_more_than_one_page(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    pages = [
        (await client.get("/contacts/104/accounts", params={"page": n}, headers=auth)).json()
        for n in (1, 2, 3)
    ]
    assert [len(p["accounts"]) for p in pages] == [50, 7, 0]
    assert all(p["meta"] == {"total_records": 57, "total_pages": 2} for p in pages)
    ids = [a["id"] for p in pages for a in p["accounts"]]
    assert ids == list(range(5101, 5158))
    first = pages[0]["accounts"][0]
    assert first["account_type"] == "529 Plan"
    assert {a["account_type"] for p in pages for a in p["accounts"][1:]} <= {"Savings", "CD"}
    # no page parameter is page 1
    r = await client.get("/contacts/104/accounts", headers=auth)
    assert r.json()["accounts"] == pages[0]["accounts"]


@pytest.mark.parametrize(
    ("pagesize", "lengths", "total_pages"),
    [("20", [20, 20, 17], 3), ("57", [57], 1), ("1000", [57], 1), ("junk", [50, 7], 2)],
)
async def test_pagesize_header_is_honoured(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    pagesize: str,
    lengths: list[int],
    total_pages: int,
) -> None:
    got = []
    for page in range(1, len(lengths) + 1):
        r = await client.get(
            "/contacts/104/accounts", params={"page": page}, headers={**auth, "pagesize": pagesize}
        )
        assert r.json()["meta"] == {"total_records": 57, "total_pages": total_pages}
        got.append(len(r.json()["accounts"]))
    assert got == lengths


async def test_pagesize_is_capped_at_200() -> None:
    big = generate_data(1, seed=5, accounts_per_contact=2)
    for n in range(300):
        big.add_account(fake_account(200_000 + n, 1001))
    transport = httpx.ASGITransport(app=create_app(big))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.get("/authentication", headers=basic())
        headers = {**userkey(r.json()["authenticated_user"]["user_key"]), "pagesize": "1000"}
        r = await c.get("/contacts/1001/accounts", headers=headers)
    assert len(r.json()["accounts"]) == 200
    assert r.json()["meta"]["total_pages"] == 2


def fake_account(account_id: int, contact_id: int) -> FakeAccount:
    return FakeAccount(account_id, [contact_id], company="Chase", balance="1.0", account_type="CD")


async def test_ignore_pagesize_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "ignore_pagesize")
    r = await client.get("/contacts/104/accounts", headers={**auth, "pagesize": "20"})
    assert len(r.json()["accounts"]) == 50
    assert r.json()["meta"] == {"total_records": 57, "total_pages": 2}


async def test_bad_page_parameter(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get("/contacts/104/accounts", params={"page": "two"}, headers=auth)
    assert r.status_code == 400 and r.json()["message"]


# -- search, family, lookup lists ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "addams"}, [101, 102, 103, 104, 105]),
        ({"name": "Gomez Addams"}, [101]),
        ({"name": "addams gomez"}, [101]),
        ({"name": "tish"}, [102]),
        ({"name": "zoë"}, [203]),
        ({"name": "Zoe"}, [203]),
        ({"name": "ÅNGSTRÖM"}, [203]),
        ({"name": "o'brien"}, [201, 202]),
        ({"name": "d'angelo"}, [206]),
        ({"first_name": "morticia"}, [102]),
        ({"first_name": "gomez", "last_name": "addams"}, [101]),
        ({"first_name": "gomez", "last_name": "o'brien"}, []),
        ({"last_name": "NÚÑEZ"}, [204, 205]),
        ({"email": "wednesday@"}, [103]),
        ({"email": "ADDAMS-INDUSTRIES"}, [101]),
        ({"account_number": "4401"}, [101]),
        ({"account_number": "8842-1937"}, [101, 102]),
        ({"account_number": "88421937"}, [101, 102]),
        ({"name": "no such person"}, []),
    ],
)
async def test_search(
    client: httpx.AsyncClient, auth: dict[str, str], params: dict[str, str], expected: list[int]
) -> None:
    r = await client.get("/contacts/search", params=params, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert [c["id"] for c in body["contacts"]] == expected
    assert body["meta"]["total_records"] == len(expected)


async def test_search_pages_like_every_listing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "pagesize": "2"}
    r1 = await client.get("/contacts/search", params={"name": "addams"}, headers=headers)
    r3 = await client.get("/contacts/search", params={"name": "addams", "page": 3}, headers=headers)
    assert r1.json()["meta"] == {"total_records": 5, "total_pages": 3}
    assert [c["id"] for c in r1.json()["contacts"]] == [101, 102]
    assert [c["id"] for c in r3.json()["contacts"]] == [105]


async def test_family(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for member in (101, 104):
        r = await client.get(f"/contacts/{member}/family", headers=auth)
        family = r.json()["contact_family"]
        assert (family["id"], family["name"]) == (9001, "Addams Family")
        members = {m["contact_id"]: m for m in family["members"]}
        assert sorted(members) == [101, 102, 103, 104]
        assert [c for c, m in members.items() if m["hoh"]] == [101]
        assert members[102]["first_name"] == "Morticia"
        assert members[102]["last_name"] == "Addams"
    r = await client.get("/contacts/105/family", headers=auth)  # Uncle Fester: no family
    assert r.status_code == 200 and r.json() == {"contact_family": None}
    r = await client.get("/contacts/999999/family", headers=auth)
    assert r.status_code == 404


async def test_lookup_lists(
    client: httpx.AsyncClient, auth: dict[str, str], data: FakeData
) -> None:
    r = await client.get("/lists/account_types", headers=auth)
    body = r.json()
    assert set(body) == {"account_types", "meta"}
    names = [t["name"] for t in body["account_types"]]
    assert body["meta"]["total_records"] == len(names)
    assert set(APPENDIX_A) <= set(names)
    assert {"Whole Life", "Term Life", "Disability", "Loan", "Property & Casualty"} <= set(names)
    assert {a.account_type for a in data.accounts.values()} <= set(names)
    r = await client.get("/lists/account_tax_qualified_types", headers=auth)
    body = r.json()
    assert set(body) == {"account_tax_qualified_types", "meta"}
    tq = [t["name"] for t in body["account_tax_qualified_types"]]
    assert set(TAX_QUALIFIED_NAMES) <= set(tq)
    assert set(tq) - set(TAX_QUALIFIED_NAMES)  # and something unusual
    assert all(isinstance(t["id"], int) for t in body["account_tax_qualified_types"])


def test_demo_dataset_has_realistic_variety(data: FakeData) -> None:
    names = [c.name for c in data.contacts.values()]
    assert len(data.contacts) >= 40
    assert "Zoë Ångström" in names and "José Luis Núñez" in names
    assert "Patrick O'Brien" in names
    assert any("D'Angelo" in n for n in names)
    assert all(c.emails for c in data.contacts.values())
    accounts = list(data.accounts.values())
    used = {a.account_type for a in accounts}
    assert set(APPENDIX_A) <= used
    assert {"Term Life", "Disability", "Loan", "Property & Casualty", "Whole Life"} <= used
    balances = [a.balance for a in accounts]
    assert "-1520.33" in balances
    assert sum(b is None for b in balances) >= 3
    assert any(b and len(b.replace("-", "").replace(".", "")) > 15 for b in balances)
    assert all(b is None or Decimal(b).is_finite() for b in balances)
    assert any(a.company is None for a in accounts if a.owners[0] >= 200)
    assert any(0 < len(a.number) < 4 for a in accounts if a.owners[0] >= 200)
    assert any(len(set(a.owners)) > 1 for a in accounts if a.owners[0] >= 200)
    assert sum(a.deleted for a in accounts) >= 1


# -- faults ----------------------------------------------------------------------------------


async def test_unauthorized_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "unauthorized")
    r = await client.get("/contacts/101/accounts", headers=auth)
    assert (r.status_code, r.json()) == (401, {"message": "Invalid user key"})
    assert (await client.get("/authentication", headers=basic())).status_code == 200


async def test_locked_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "locked")
    r = await client.get("/authentication", headers=basic())
    assert (r.status_code, r.json()) == (
        401,
        {"message": "Account Locked. Too many failed login attempts"},
    )
    assert (await client.get("/contacts", headers=auth)).status_code == 200


async def test_gateway_timeout_fault_expires_after_n(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "gateway_timeout:2")
    for _ in range(2):
        r = await client.get("/contacts", headers=auth)
        assert (r.status_code, r.json()) == (401, {"message": "Gateway Time-out"})
    assert (await client.get("/contacts", headers=auth)).status_code == 200


async def test_counting_faults_default_to_one(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "gateway_timeout")
    assert (await client.get("/contacts", headers=auth)).status_code == 401
    assert (await client.get("/contacts", headers=auth)).status_code == 200


async def test_rate_limit_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "rate_limit:2")
    for _ in range(2):
        r = await client.get("/contacts/101/accounts", headers=auth)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"
        assert r.json() == {"message": "Rate limit exceeded"}
    assert (await client.get("/contacts/101/accounts", headers=auth)).status_code == 200


async def test_server_error_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "server_error:2")
    for _ in range(2):
        r = await client.get("/contacts", headers=auth)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("text/html")
        assert "<html>" in r.text
    assert (await client.get("/contacts", headers=auth)).status_code == 200


async def test_counting_faults_take_turns_and_skip_authentication(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "rate_limit:1,server_error:1")
    assert (await client.get("/authentication", headers=basic())).status_code == 200
    statuses = [(await client.get("/contacts", headers=auth)).status_code for _ in range(3)]
    assert statuses == [429, 500, 200]


async def test_counting_restarts_when_faults_are_set_again(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "rate_limit")
    assert (await client.get("/contacts", headers=auth)).status_code == 429
    assert (await client.get("/contacts", headers=auth)).status_code == 200
    await set_faults(client, "rate_limit")
    assert (await client.get("/contacts", headers=auth)).status_code == 429
    await set_faults(client, "")
    assert (await client.get("/contacts", headers=auth)).status_code == 200


async def test_forbidden_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "forbidden:101")
    r = await client.get("/contacts/101/accounts", headers=auth)
    assert (r.status_code, r.json()) == (403, {"message": "User Forbidden from accessing accounts"})
    assert (await client.get("/contacts/102/accounts", headers=auth)).status_code == 200
    assert (await client.get("/contacts/101", headers=auth)).status_code == 200


async def test_not_found_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "not_found:101")
    for path in ("/contacts/101", "/contacts/101/accounts", "/contacts/101/family"):
        r = await client.get(path, headers=auth)
        assert (r.status_code, r.json()) == (404, {"message": "Contact not found"}), path
    assert (await client.get("/contacts/102/accounts", headers=auth)).status_code == 200


async def test_server_error_contact_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "server_error_contact:102")
    for _ in range(3):
        r = await client.get("/contacts/102/accounts", headers=auth)
        assert (r.status_code, r.json()) == (500, {"message": "Internal Server Error"})
    assert (await client.get("/contacts/101/accounts", headers=auth)).status_code == 200


async def test_timeout_fault_hangs(
    client: httpx.AsyncClient, auth: dict[str, str], app: Any
) -> None:
    await set_faults(client, "timeout:101")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get("/contacts/101/accounts", headers=auth), 0.3)
    assert (await client.get("/contacts/102/accounts", headers=auth)).status_code == 200
    app.state.fake.hang_seconds = 0.01  # a short hang, then the normal answer
    r = await client.get("/contacts/101/accounts", headers=auth)
    assert r.status_code == 200 and r.json()["meta"]["total_records"] == 9


async def test_malformed_fault_for_one_contact(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "malformed:101")
    r = await client.get("/contacts/101/accounts", headers=auth)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert (await client.get("/contacts/102/accounts", headers=auth)).json()["accounts"]


async def test_malformed_fault_for_every_route(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await set_faults(client, "malformed")
    for path in ("/contacts", "/contacts/102", "/lists/account_types", "/contacts/104/accounts"):
        r = await client.get(path, headers=auth)
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)
    assert (await client.get("/authentication", headers=basic())).json()["authenticated_user"]


async def test_lying_pages_fault(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await set_faults(client, "lying_pages")
    pages = {}
    for n in (1, 2, 3, 500):
        r = await client.get("/contacts/104/accounts", params={"page": n}, headers=auth)
        assert r.json()["meta"]["total_pages"] == 9999
        assert r.json()["meta"]["total_records"] > 57
        pages[n] = [a["id"] for a in r.json()["accounts"]]
    assert len(pages[1]) == 50 and len(pages[2]) == 7
    assert pages[3] == pages[2] and pages[500] == pages[2]
    r = await client.get("/contacts", params={"page": 2}, headers=auth)
    assert r.json()["meta"]["total_pages"] == 9999
    assert r.json()["contacts"]  # repeats the last real page


async def test_slow_fault_only_delays_account_listings(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(fake_app, "_sleep", record)
    await set_faults(client, "slow:250")
    await client.get("/contacts/101", headers=auth)
    await client.get("/contacts/101/family", headers=auth)
    assert slept == []
    await client.get("/contacts/101/accounts", headers=auth)
    assert slept == [0.25]


async def test_latency_is_real_sleep(auth: dict[str, str], data: FakeData) -> None:
    transport = httpx.ASGITransport(app=create_app(data, latency_ms=120))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        start = time.monotonic()
        r = await c.get("/contacts/101", headers=auth)
        elapsed = time.monotonic() - start
    assert r.status_code == 200
    assert elapsed >= 0.12


async def test_faults_given_to_create_app(data: FakeData) -> None:
    transport = httpx.ASGITransport(app=create_app(data, faults=["forbidden:101", "rate_limit"]))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.get("/authentication", headers=basic())
        headers = userkey(r.json()["authenticated_user"]["user_key"])
        assert (await c.get("/contacts/101/accounts", headers=headers)).status_code == 429
        assert (await c.get("/contacts/101/accounts", headers=headers)).status_code == 403


@pytest.mark.parametrize("spec", ["bogus", "forbidden", "rate_limit:x", "locked:3", "slow:-1"])
async def test_bad_fault_specs_are_refused(client: httpx.AsyncClient, spec: str) -> None:
    r = await client.post(f"{ADMIN}/faults", json={"faults": spec})
    assert r.status_code == 400 and r.json()["message"]
    with pytest.raises(ValueError):
        create_app(load_demo_data(), faults=spec)


async def test_request_log_counts_requests(
    client: httpx.AsyncClient, auth: dict[str, str], app: Any
) -> None:
    app.state.request_log.clear()
    await client.get("/contacts/104/accounts", params={"page": 2}, headers=auth)
    await client.get("/contacts/101", headers=auth)
    await client.get(f"{ADMIN}/state")
    assert app.state.request_log == [("GET", "/contacts/104/accounts"), ("GET", "/contacts/101")]
    state = (await client.get(f"{ADMIN}/state")).json()
    assert state["requests_by_route"]["GET /contacts/{id}/accounts"] == 1


# -- admin -----------------------------------------------------------------------------------


async def listing(client: httpx.AsyncClient, auth: dict[str, str], cid: int) -> dict[int, dict]:
    r = await client.get(f"/contacts/{cid}/accounts", headers={**auth, "pagesize": "200"})
    return {a["id"]: a for a in r.json()["accounts"]}


async def test_admin_balance_changes_listing_and_updated_at(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    before = (await listing(client, auth, 101))[5001]
    r = await client.post(f"{ADMIN}/accounts/5001/balance", json={"balance": "262500.10"})
    assert r.status_code == 200
    after = (await listing(client, auth, 101))[5001]
    assert after["balance"] == "262500.10"
    assert TIMESTAMP.match(after["updated_at"]) and after["updated_at"] > before["updated_at"]
    await client.post(f"{ADMIN}/accounts/5001/balance", json={"balance": None})
    again = (await listing(client, auth, 101))[5001]
    assert again["balance"] is None and again["updated_at"] > after["updated_at"]
    r = await client.post(f"{ADMIN}/accounts/5001/balance", json={"balance": "lots"})
    assert r.status_code == 400
    r = await client.post(f"{ADMIN}/accounts/424242/balance", json={"balance": "1"})
    assert r.status_code == 404


async def test_admin_create_joint_account_and_delete_it(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    r = await client.post(
        f"{ADMIN}/accounts",
        json={
            "contact_ids": [101, 102],
            "company": "Vanguard",
            "number": "VG-1234",
            "balance": "5000.00",
            "account_type": "Joint",
        },
    )
    assert r.status_code == 201
    new_id = r.json()["account"]["id"]
    gomez, morticia = await listing(client, auth, 101), await listing(client, auth, 102)
    assert gomez[new_id]["contact_id"] == 101 and morticia[new_id]["contact_id"] == 102
    assert gomez[new_id]["account_type_id"] is not None
    assert TIMESTAMP.match(gomez[new_id]["updated_at"])
    r = await client.delete(f"{ADMIN}/accounts/{new_id}")
    assert r.status_code == 200
    assert new_id not in await listing(client, auth, 101)
    assert new_id not in await listing(client, auth, 102)
    assert (await client.get(f"/accounts/{new_id}", headers=auth)).status_code == 404
    r = await client.post(f"{ADMIN}/accounts", json={"contact_ids": [999999]})
    assert r.status_code == 400


async def test_admin_second_owner_and_deleted_flag(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert 5011 not in await listing(client, auth, 101)
    r = await client.post(f"{ADMIN}/accounts/5011/owners", json={"contact_ids": [102, 101]})
    assert r.status_code == 200
    assert (await listing(client, auth, 101))[5011]["contact_id"] == 101
    before = (await listing(client, auth, 102))[5012]
    await client.post(f"{ADMIN}/accounts/5012/deleted", json={"deleted": True})
    after = (await listing(client, auth, 102))[5012]
    assert after["deleted"] is True and after["updated_at"] > before["updated_at"]
    await client.post(f"{ADMIN}/accounts/5012", json={"company": "Vanguard Group"})
    assert (await listing(client, auth, 102))[5012]["company"] == "Vanguard Group"


async def test_tests_may_mutate_data_directly(
    client: httpx.AsyncClient, auth: dict[str, str], data: FakeData
) -> None:
    data.accounts[5001].balance = "1.5"
    del data.accounts[5006]
    data.accounts[5013].owners = (102, 103)
    data.accounts[5003] = FakeAccount(5003, [101, 103], company="Athene", balance="9.0")
    assert (await listing(client, auth, 101))[5001]["balance"] == "1.5"
    assert 5006 not in await listing(client, auth, 101)
    assert 5013 in await listing(client, auth, 103)
    assert (await listing(client, auth, 101))[5003]["company"] == "Athene"
    assert (await listing(client, auth, 103))[5003]["balance"] == "9.0"


async def test_admin_state_and_faults(client: httpx.AsyncClient) -> None:
    state = (await client.get(f"{ADMIN}/state")).json()
    assert state["contacts"] == 45
    assert state["accounts"] == 212
    assert state["faults"] == []
    await set_faults(client, "rate_limit:3,forbidden:101")
    faults = (await client.get(f"{ADMIN}/faults")).json()["faults"]
    assert [f["name"] for f in faults] == ["rate_limit", "forbidden"]
    assert faults[0]["remaining"] == 3


async def test_demo_presenter_routes(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    before = await listing(client, auth, 101)
    r = await client.post(f"{ADMIN}/demo/move-balance")
    moved = r.json()
    account_id = moved["account"]["id"]
    assert account_id == 5001  # the first move is the 401(k) that matches "Gomez 401(k)"
    old, new = Decimal(moved["old_balance"]), Decimal(moved["new_balance"])
    assert Decimal("0.009") <= abs(new - old) / old <= Decimal("0.051")
    after = await listing(client, auth, 101)
    assert after[5001]["balance"] == moved["new_balance"]
    assert after[5001]["updated_at"] > before[5001]["updated_at"]
    second = (await client.post(f"{ADMIN}/demo/move-balance")).json()
    assert 101 in second["account"]["contact_ids"] or 102 in second["account"]["contact_ids"]

    r = await client.post(f"{ADMIN}/demo/add-account")
    assert r.status_code == 201
    added = r.json()["account"]
    assert added["contact_ids"] == [101] and added["company"] and added["balance"]
    assert added["id"] in await listing(client, auth, 101)

    r = await client.post(f"{ADMIN}/demo/remove-account")
    assert r.json()["removed"]["id"] == added["id"]
    assert added["id"] not in await listing(client, auth, 101)
    r = await client.post(f"{ADMIN}/demo/remove-account")
    removed = r.json()["removed"]["id"]
    assert removed in before and removed not in (5001, 5002)
    assert removed not in await listing(client, auth, 101)


async def test_demo_moves_are_deterministic() -> None:
    results = []
    for _ in range(2):
        transport = httpx.ASGITransport(app=create_app(load_demo_data()))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            moves = [(await c.post(f"{ADMIN}/demo/move-balance")).json() for _ in range(4)]
        results.append([(m["account"]["id"], m["new_balance"]) for m in moves])
    assert results[0] == results[1]


@pytest.mark.parametrize("host", ["10.0.0.5", "192.168.1.20", "example.org"])
async def test_admin_refuses_non_loopback_clients(app: Any, data: FakeData, host: str) -> None:
    transport = httpx.ASGITransport(app=app, client=(host, 123))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.post(f"{ADMIN}/accounts/5001/balance", json={"balance": "1.0"})
        assert r.status_code == 403
        assert (await c.get(f"{ADMIN}/state")).status_code == 403
        assert (await c.post(f"{ADMIN}/faults", json={"faults": "unauthorized"})).status_code == 403
        # the Redtail routes themselves are unaffected
        assert (await c.get("/authentication", headers=basic())).status_code == 200
    assert data.accounts[5001].balance == "250000.0"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "127.0.0.9"])
async def test_admin_accepts_loopback_clients(app: Any, host: str) -> None:
    transport = httpx.ASGITransport(app=app, client=(host, 123))
    async with httpx.AsyncClient(transport=transport) as c:
        assert (await c.get(f"{ADMIN}/state")).status_code == 200


# -- datasets --------------------------------------------------------------------------------


def test_generate_data_is_deterministic() -> None:
    a, b, c = generate_data(40, seed=7), generate_data(40, seed=7), generate_data(40, seed=8)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    assert len(a.contacts) == 40
    assert 20 * 40 <= len(a.accounts) <= 40 * 40


def test_generate_data_variety() -> None:
    data = generate_data(200, seed=3, accounts_per_contact=10)
    accounts = list(data.accounts.values())
    excluded = [a for a in accounts if a.account_type not in APPENDIX_A]
    assert 0.05 < len(excluded) / len(accounts) < 0.2
    assert any(a.balance is None for a in accounts)
    joint = [a for a in accounts if len(a.owners) == 2]
    assert joint
    owner_a, owner_b = joint[0].owners
    assert joint[0] in data.accounts_of(owner_a) and joint[0] in data.accounts_of(owner_b)
    names = {t["name"] for t in data.account_types}
    assert {a.account_type for a in accounts} <= names
    assert data.user(DEMO_USERNAME) is not None


def test_generate_100k_accounts_quickly() -> None:
    start = time.monotonic()
    data = generate_data(3334, seed=1)
    elapsed = time.monotonic() - start
    assert len(data.accounts) >= 95_000
    assert elapsed < 10, elapsed


def test_dataset_round_trip(tmp_path: Path) -> None:
    for original in (load_demo_data(), generate_data(10, seed=2)):
        path = tmp_path / "data.json"
        original.save(path)
        assert load_dataset(path).to_json() == original.to_json()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": "something-else"}',
        '{"contacts": [{"id": 1}], "accounts": [{"id": 2, "contact_ids": [3]}]}',
        '{"contacts": [{"id": 1}], "accounts": [{"id": 2, "contact_ids": [1], "balance": "x"}]}',
    ],
)
def test_bad_dataset_files_give_one_line_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    assert "\n" not in str(info.value)
    with pytest.raises(DatasetError):
        load_dataset(tmp_path / "missing.json")


def test_the_package_imports_nothing_heavy_or_forbidden() -> None:
    code = (
        "import sys\n"
        "from plantech_tui.partners.redtail.fake import configure_parser, DEMO_API_KEY\n"
        "light = [m for m in ('starlette', 'uvicorn', 'httpx') if m in sys.modules]\n"
        "import plantech_tui.partners.redtail.fake.app, plantech_tui.partners.redtail.fake.server\n"
        "from plantech_tui.partners.redtail.fake import FakeRedtailServer, create_app\n"
        "bad = [m for m in sys.modules if m.startswith(('textual', 'plantech_tui.partners.redtail.client'))]\n"
        "print(light, bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[] []"


# -- real loopback HTTP ----------------------------------------------------------------------


def test_server_over_real_http() -> None:
    with FakeRedtailServer(load_demo_data()) as srv:
        assert re.match(r"^http://127\.0\.0\.1:\d+/api/public/v1$", srv.base_url)
        assert srv.admin_url.endswith("/__admin")
        with httpx.Client(base_url=srv.base_url, timeout=5) as c:
            r = c.get("/authentication", headers=basic())
            headers = userkey(r.json()["authenticated_user"]["user_key"])
            r = c.get("/contacts/104/accounts", params={"page": 2}, headers=headers)
            assert len(r.json()["accounts"]) == 7
            assert c.get("/contacts").json() == {"message": "Authorization header missing"}
            srv.data.accounts[5001].balance = "1.25"
            assert c.get("/accounts/5001", headers=headers).json()["account"]["balance"] == "1.25"
            c.post(f"{srv.admin_url}/accounts/5001/balance", json={"balance": "2.5"})
            assert srv.data.accounts[5001].balance == "2.5"
            srv.set_faults("rate_limit")
            r = c.get("/contacts", headers=headers)
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            assert ("GET", "/contacts") in srv.request_log
        port = srv.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/public/v1/contacts", timeout=2)


def test_server_stops_cleanly_with_a_hanging_request() -> None:
    with FakeRedtailServer(load_demo_data(), faults="timeout:101") as srv:
        with httpx.Client(base_url=srv.base_url, timeout=0.3) as c:
            r = c.get("/authentication", headers=basic())
            headers = userkey(r.json()["authenticated_user"]["user_key"])
            with pytest.raises(httpx.ReadTimeout):
                c.get("/contacts/101/accounts", headers=headers)
        start = time.monotonic()
    assert time.monotonic() - start < 8


def test_two_servers_get_different_ports() -> None:
    with FakeRedtailServer() as one, FakeRedtailServer(generate_data(3, seed=1)) as two:
        assert one.port != two.port
        assert httpx.get(f"{two.base_url}/contacts", timeout=5).status_code == 401


# -- command line ----------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="plantech fake-redtail")
    configure_parser(parser)
    return parser.parse_args(argv)


def test_help_lists_every_fault() -> None:
    parser = argparse.ArgumentParser(prog="plantech fake-redtail")
    configure_parser(parser)
    text = " ".join(parser.format_help().split())
    for option in ("--port", "--dataset", "--generate", "--seed", "--latency-ms", "--faults"):
        assert option in text
    for name in FAULT_NAMES:
        assert name in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "abc"],
        ["--port", "70000"],
        ["--latency-ms", "-5"],
        ["--faults", "bogus"],
        ["--faults", "forbidden"],
        ["--generate", "many"],
        ["--dataset", "/nonexistent/file.json"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_from_args(parse(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantech: error:")


class LineReader:
    """Reads a pipe in a thread, so that waiting for a line can have a deadline."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line)

    def get(self, timeout: float = 30) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the fake printed nothing in time") from None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_from_args_in_a_subprocess(sig: signal.Signals, tmp_path: Path) -> None:
    dataset = tmp_path / "small.json"
    generate_data(3, seed=4).save(dataset)
    proc = subprocess.Popen(
        [sys.executable, "-m", "plantech_tui.partners.redtail.fake", "--port", "0", "--dataset", str(dataset)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout = LineReader(proc.stdout)
        base_url = stdout.get().rstrip("\n")
        assert re.match(r"^http://127\.0\.0\.1:\d+/api/public/v1$", base_url)
        assert not base_url.endswith(":0/api/public/v1")
        rest = [stdout.get().strip() for _ in range(3)]
        assert rest == [
            f"api key: {DEMO_API_KEY}",
            f"username: {DEMO_USERNAME}",
            f"password: {DEMO_PASSWORD}",
        ]
        r = httpx.get(f"{base_url}/authentication", headers=basic(), timeout=5)
        assert r.status_code == 200
        headers = userkey(r.json()["authenticated_user"]["user_key"])
        assert httpx.get(f"{base_url}/contacts", headers=headers, timeout=5).json()["meta"] == {
            "total_records": 3,
            "total_pages": 1,
        }
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
