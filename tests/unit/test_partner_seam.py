"""A second CRM is one module (issue 11, must show): a tiny in-memory partner, defined and
registered only here, is connected, searched, linked and pulled through the command line
with no change outside this module. Its ids are 18-character text, as Salesforce's are.

`MemoPartner` and `memo_partner` are shared with tests/pilot/test_partner_seam.py (the TUI).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from plantech_tui.cli import main
from plantech_tui.domain.errors import ValidationFailed
from plantech_tui.domain.investment_types import INVESTMENT_TYPES
from plantech_tui.domain.mapping import Mapping as TypeMapping
from plantech_tui.partners import registry
from plantech_tui.partners.base import (
    AccountListing,
    Connected,
    DeviceCode,
    InvalidCredentials,
    LoginField,
    Partner,
    PartnerConnection,
    PartnerNotFound,
    SourceAccount,
    SourceContact,
    SourceHousehold,
)

GOMEZ = "003Gm00000AbCdEAAZ"  # 18 characters, as Salesforce ids
MORTICIA = "003Mo00000AbCdEAAZ"
HOUSEHOLD = "001Hh00000AbCdEAAZ"
ROTH = "a0BRt00000AbCdEAAZ"
POLICY = "a0BPo00000AbCdEAAZ"
PASSWORD = "memo-secret-pw"
TOKEN = "memo-token-1"  # rotated at each connection, as a refreshed OAuth token
DEVICE_PROMPT = DeviceCode(url="memo://book/device", code="MEMO1234", partner="Memo", interval=0)

MEMO_MAPPING = TypeMapping(
    investment_types=INVESTMENT_TYPES,
    included_account_types=("Roth",),
    non_qualified_names=(),
    direct=MappingProxyType({"Roth": "Roth IRA"}),
    via_tax_qualified=MappingProxyType({}),
    tax_qualified=MappingProxyType({}),
)


class MemoBook:
    """What the CRM holds; a test changes it between pulls."""

    def __init__(self) -> None:
        self.contacts = {GOMEZ: ("Gomez", "Addams"), MORTICIA: ("Morticia", "Addams")}
        self.accounts: dict[str, list[dict[str, Any]]] = {
            GOMEZ: [{"id": ROTH, "type": "Roth", "balance": "1234.50", "number": "99887766",
                     "company": "Memo Bank"},
                    {"id": POLICY, "type": "Life Policy", "balance": "10.00", "number": "1",
                     "company": "Memo Life"}],
            MORTICIA: [],
        }
        self.requests = 0


BOOK = MemoBook()


class MemoConnection(PartnerConnection):
    label = "Memo"

    def __init__(self, book: MemoBook, mapping: TypeMapping, token: str,
                 save_secret: Any) -> None:
        self.book = book
        self.mapping = mapping
        self.token = token
        self.save_secret = save_secret

    async def start(self) -> list[Any]:
        # a refresh-token partner: each run's token is replaced by a fresh one
        number = int(self.token.rsplit("-", 1)[1]) + 1
        if self.save_secret is not None:
            self.save_secret(f"memo-token-{number}")
        return []

    @property
    def request_count(self) -> int:
        return self.book.requests

    def _person(self, contact_id: str) -> SourceContact:
        self.book.requests += 1
        if contact_id not in self.book.contacts:
            raise PartnerNotFound(f"Memo has no contact {contact_id}")
        first, last = self.book.contacts[contact_id]
        return SourceContact(source_id=contact_id, name=f"{first} {last}", first_name=first,
                             last_name=last)

    async def search_contacts(self, criteria: Mapping[str, str], *, limit: int = 200
                              ) -> tuple[list[SourceContact], bool]:
        name = criteria.get("name", "").casefold()
        household = criteria.get("household", "").casefold()
        found = [self._person(c) for c, (f, la) in sorted(self.book.contacts.items())
                 if name in f"{f} {la}".casefold() and household in "addams household"]
        return found[:limit], len(found) > limit

    async def contact(self, contact_id: str) -> SourceContact:
        return self._person(contact_id)

    async def household(self, contact_id: str) -> SourceHousehold:
        self._person(contact_id)
        return SourceHousehold(source_id=HOUSEHOLD, name="Addams household",
                               member_ids=tuple(sorted(self.book.contacts)))

    async def accounts(self, contact_id: str) -> AccountListing:
        self._person(contact_id)
        out = []
        for a in self.book.accounts.get(contact_id, []):
            default = self.mapping.default_investment_type(a["type"], None, None)
            out.append(SourceAccount(
                source_id=a["id"], number=a["number"], company=a["company"],
                balance=Decimal(a["balance"]), account_type=a["type"],
                investment_type=default.investment_type, review_type=default.review_type,
                type_note=default.reason, included=self.mapping.is_included(a["type"])))
        return AccountListing(out)


class MemoPartner(Partner):
    slug = "memo"
    name = "Memo CRM"
    partner_type = "CRM"
    login_fields = (
        LoginField("base_url", "Server", help="the Memo server"),
        LoginField("username", "User", help="the Memo login"),
        LoginField("password", "Password", secret=True, help="the Memo password"),
    )
    search_fields = (("name", "Name"), ("household", "Household"))  # a criterion of its own

    async def connect(self, values: Mapping[str, str], *, transport: Any = None,
                      prompt: Any = None) -> Connected:
        if not values.get("username"):
            raise ValidationFailed("a Memo user is required", field="username")
        if prompt is not None:  # as Salesforce's device flow asks the user to go elsewhere
            prompt(DEVICE_PROMPT)
        if values.get("password") != PASSWORD:
            raise InvalidCredentials("Memo refused the login")
        return Connected(username=values["username"], base_url=values.get("base_url") or
                         "memo://book", secret=TOKEN)

    def open(self, integration: Any, secret: str, *, mapping: TypeMapping,
             max_in_flight: int = 8, save_secret: Any = None, **options: Any) -> MemoConnection:
        if not secret.startswith("memo-token-"):
            raise InvalidCredentials("Memo refused the stored token")
        return MemoConnection(BOOK, mapping, secret, save_secret)

    def default_mapping(self) -> TypeMapping:
        return MEMO_MAPPING


@pytest.fixture
def memo_partner() -> Iterator[MemoPartner]:
    """The partner registered for one test, and gone after it."""
    global BOOK
    BOOK = MemoBook()
    partner = registry.register(MemoPartner())
    yield partner
    registry.unregister(partner.slug)


def plantech(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db: Path,
             *argv: str, stdin: str | None = None) -> tuple[int, Any, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    rc = main(["--db", str(db), "--user", "alice", *argv])
    out, err = capsys.readouterr()
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, out, err


def source_id(row: dict[str, Any]) -> str:
    return str(row.get("source_account_id") or row.get("redtail_account_id"))


def test_a_partner_registered_in_a_test_is_connected_searched_linked_and_pulled_by_the_cli(
        memo_partner: MemoPartner, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    """The developer adding a second CRM writes one package: an advisor can then connect it
    (`integration add --partner`), search and link its contacts by their text ids, and pull
    their accounts into Pending Data with the partner's own type mapping applied."""
    rc, added, err = plantech(capsys, monkeypatch, db_path, "integration", "add",
                              "--partner", "memo", "--base-url", "memo://book", "--username",
                              "alice", "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert rc == 0, err
    assert added["partner"] == "Memo CRM" and added["username"] == "alice"
    assert str(DEVICE_PROMPT) in err  # what the login asked of the user reached them
    assert PASSWORD.encode() not in db_path.read_bytes()  # the password is never kept
    integration = str(added["id"])

    rc, plan, err = plantech(capsys, monkeypatch, db_path, "plan", "create", "Addams Family",
                             "--clients", "Gomez Addams;Morticia Addams", "--json")
    assert rc == 0, err
    pid = str(plan["id"])

    rc, found, err = plantech(capsys, monkeypatch, db_path, "plan", "search-contacts", pid,
                              "--integration", integration, "--name", "gomez", "--json")
    assert rc == 0, err
    assert [(c["source_contact_id"], c["name"], c["partner"], c["linked"])
            for c in found["contacts"]] == [(GOMEZ, "Gomez Addams", "Memo CRM", False)]
    assert "redtail_contact_id" not in found["contacts"][0]  # not a Redtail row

    rc, linked, err = plantech(capsys, monkeypatch, db_path, "plan", "link-contact", pid,
                               "--integration", integration, "--contact", GOMEZ, "--json")
    assert rc == 0, err
    rc, found, err = plantech(capsys, monkeypatch, db_path, "plan", "search-contacts", pid,
                              "--integration", integration, "--household", "addams", "--json")
    assert rc == 0, err  # the partner's own criterion is a flag of its own
    assert {c["source_contact_id"]: c["linked"] for c in found["contacts"]} == {
        GOMEZ: True, MORTICIA: False}

    rc, synced, err = plantech(capsys, monkeypatch, db_path, "sync", "--plan", pid, "--json")
    assert rc == 0, err
    [report] = synced["plans"]
    assert report["status"] == "ok"
    assert [n["redtail_account_id"] for n in report["new_accounts"]] == [ROTH]
    assert report["new_accounts"][0]["default_investment_type"] == "Roth IRA"
    assert report["skipped"] == [f"Life Policy (Memo {POLICY})"]

    rc, shown, err = plantech(capsys, monkeypatch, db_path, "plan", "show", pid, "--json")
    assert rc == 0, err
    [row] = shown["pending"]
    assert source_id(row) == ROTH
    # its rows name their partner, and carry no Redtail key (issue 11: not Redtail rows)
    assert (row["partner"], row["source_account_id"]) == ("memo", ROTH)
    assert "redtail_account_id" not in row
    assert shown["contacts"] and all(c["partner"] == "memo" and "redtail_contact_id" not in c
                                     for c in shown["contacts"])
    assert (row["description"], row["default_investment_type"], row["balance"]) == (
        "Memo Bank 7766", "Roth IRA", "1234.50")

    # the next pull sees the partner's change: a balance moved at the source
    BOOK.accounts[GOMEZ][0]["balance"] = "2000.00"
    rc, synced, err = plantech(capsys, monkeypatch, db_path, "sync", "--plan", pid, "--json")
    assert rc == 0, err
    assert [(c["redtail_account_id"], c["new"]) for c in synced["plans"][0]["changes"]] == [
        (ROTH, "2000.00")]
    # each pull's rotated token was kept, and the next pull used it
    from plantech_tui.service.workspace import Workspace
    from plantech_tui.sync import credentials

    ws = Workspace.open(db_path, "alice")
    [integ] = ws.list_integrations()
    ws.close()
    assert credentials.credential_store().get(integ.secret_ref) == "memo-token-3"


def test_a_wrong_password_for_the_test_partner_stores_nothing(
        memo_partner: MemoPartner, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, db_path: Path) -> None:
    """An advisor mistyping the partner's password gets its refusal as one error line, and
    no integration is saved."""
    rc, out, err = plantech(capsys, monkeypatch, db_path, "integration", "add", "--partner",
                            "memo", "--base-url", "memo://book", "--username", "alice",
                            "--password-stdin", stdin="wrong\n")
    assert rc == 1
    assert err.splitlines() == [f"plantech: {DEVICE_PROMPT}",
                                "plantech: error: Memo refused the login"]
    rc, listed, _ = plantech(capsys, monkeypatch, db_path, "integration", "list", "--json")
    assert listed == {"integrations": []}


def test_an_unknown_partner_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             db_path: Path) -> None:
    """A typo in --partner names the partners there are, before any password is read."""
    rc, out, err = plantech(capsys, monkeypatch, db_path, "integration", "add", "--partner",
                            "memo", "--base-url", "x", "--username", "u", "--password-stdin",
                            stdin="secret\n")
    assert rc == 2
    assert ("argument --partner: invalid choice: 'memo' (choose from 'redtail', "
            "'salesforce-fsc')") in err


def test_the_registry_finds_a_partner_by_the_name_an_integration_stores(
        memo_partner: MemoPartner) -> None:
    """An integration row says "Memo CRM": its pulls use the partner registered under that
    name; a row naming a partner no longer installed is one clear error, not a crash."""
    from plantech_tui.domain.errors import UsageError

    assert registry.by_name("Memo CRM") is memo_partner
    assert registry.by_name("memo") is memo_partner
    assert registry.by_name("Redtail CRM").slug == "redtail"
    assert registry.get().slug == registry.DEFAULT == "redtail"
    with pytest.raises(UsageError, match="no partner named 'Gone CRM' is installed; known: "
                                         "Redtail CRM, Memo CRM"):
        registry.by_name("Gone CRM")
    registry.unregister("memo")
    assert "memo" not in registry.slugs()
    registry.register(memo_partner)  # the fixture unregisters it again
