"""Local link and unlink of a plan's partner contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.errors import (
    NotFound,
    ValidationFailed,
)
from ..domain.models import (
    PlanContact,
    legacy_id,
)
from ..domain.permissions import Action, require
from ..store import contacts as C
from ..store import rows as R
from ..store import staged as S
from .integrations import Integrations


class Contacts(Integrations):
    """A plan's linked contacts."""

    def contacts(self, plan_id: int) -> list[PlanContact]:
        require(self.user, Action.PLAN_INTEGRATION)
        db = self.store.db
        self._plan_row(db, plan_id)
        return self._partnered(db, [R.contact_from(r) for r in C.of_plan(db, plan_id)])

    @staticmethod
    def _guess_party(plan: Mapping[str, Any], name: str, first_name: str) -> str:
        """The contact's place in the plan from its name: the plan's client or co-client
        (whole name, else first name), else "other" (a household member who is neither, e.g.
        a child: their accounts do not make an account Joint)."""
        full = name.casefold().split()
        first = first_name.casefold().strip() or (full[0] if full else "")
        people = [("client", (plan["client"] or "").casefold().split()),
                  ("co_client", (plan["co_client"] or "").casefold().split())]
        for party, words in people:
            if words and full == words:
                return party
        for party, words in people:
            if words and first and first == words[0]:
                return party
        return "other"

    def link_contact(self, plan_id: int, integration_id: int, contact_id: str | int,
                     name: str, first_name: str = "", party: str | None = None) -> PlanContact:
        """Record a partner's contact as linked to the plan (the caller fetched it). No-op when
        already linked. Relinking a contact revives its source-unlinked accounts. The id is
        the partner's, opaque text (a Redtail number is taken as its text)."""
        require(self.user, Action.LINK_CONTACT)
        source_id = str(contact_id)
        with self.store.write() as db:
            plan = self._plan_row(db, plan_id)
            self.integration(integration_id)
            row = C.find(db, plan_id, integration_id, source_id)
            if row is None:
                if party not in (None, "client", "co_client", "other"):
                    raise ValidationFailed("party must be client, co_client or other",
                                           field="party")
                new_id = C.insert(db, plan_id, integration_id, source_id, name,
                                  party or self._guess_party(plan, name, first_name))
                row = R.get_row(db, "plan_contacts", new_id)
                assert row is not None
                self._audit(db, plan_id, "link contact", "contact", legacy_id(source_id), None, row)
                revived = S.listed_under(db, plan_id, integration_id, source_id,
                                         "source_unlinked")
                for s in revived:
                    state = s["prior_link_state"] or "active"
                    R.update_row(db, "staged_accounts", s["id"],
                                 {"link_state": state, "prior_link_state": None})
                    self._audit(db, plan_id, "link revived", "account", s["linked_account_id"],
                                {"link_state": "source_unlinked"}, {"link_state": state})
        return self._partnered(self.store.db, [R.contact_from(row)])[0]

    def unlink_contact(self, plan_id: int, integration_id: int, contact_id: str | int) -> None:
        """Remove a contact link: its pending/ignored rows no other linked contact reaches are
        deleted (audited); its linked accounts become source-unlinked (kept, not updated)."""
        require(self.user, Action.LINK_CONTACT)
        source_id = str(contact_id)
        with self.store.write() as db:
            self._plan_row(db, plan_id)
            row = C.find(db, plan_id, integration_id, source_id)
            if row is None:
                raise NotFound(f"contact {source_id} is not linked to plan {plan_id}")
            C.delete(db, row["id"])
            self._audit(db, plan_id, "unlink contact", "contact", legacy_id(source_id), row, None)
            others = C.ids_of(db, plan_id, integration_id)
            staged = S.listed_under(db, plan_id, integration_id, source_id)
            listing = R.staged_contacts(db, [s["id"] for s in staged])
            for s in staged:
                reached = set(listing.get(s["id"], [])) & others
                if reached:
                    continue
                if s["state"] == "linked":
                    if s["link_state"] != "source_unlinked":
                        R.update_row(db, "staged_accounts", s["id"],
                                     {"link_state": "source_unlinked",
                                      "prior_link_state": s["link_state"]})
                        self._audit(db, plan_id, "source unlinked", "account",
                                    s["linked_account_id"], {"link_state": s["link_state"]},
                                    {"link_state": "source_unlinked"})
                else:
                    S.delete(db, s["id"])
                    self._audit(db, plan_id, "staged removed", "staged", s["id"], s, None,
                                detail=f"contact {source_id} unlinked")

