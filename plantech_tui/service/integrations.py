"""Use cases of an advisor's integrations: list, save, status, remove (and forget its secret)."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.errors import (
    NotFound,
    PlantechError,
)
from ..domain.models import (
    PARTNER,
    Integration,
)
from ..domain.permissions import Action, require
from ..store import accounts as A
from ..store import integrations as I
from ..store import rows as R
from ..store import staged as S
from .accounts import Accounts


class Integrations(Accounts):
    """An advisor's integrations."""

    # ------------------------------------------------------------------ integrations & contacts

    def list_integrations(self) -> list[Integration]:
        require(self.user, Action.ADVISOR_INTEGRATION)
        return [R.integration_from(r) for r in I.of_owner(self.store.db, self.user.id)]

    def partners_in_sight(self) -> list[str]:
        """The partners of the user's own integrations and of those their plans link through
        (any role: a client sees "Redtail link" only when the plan's links are Redtail's)."""
        return I.partners_in_sight(self.store.db, self.user.id)

    def integration(self, integration_id: int) -> Integration:
        """An integration of the current advisor (or, for a pull, of a visible plan's owner)."""
        row = I.by_id(self.store.db, integration_id)
        if row is None or (row["owner_user_id"] != self.user.id):
            raise NotFound(f"integration {integration_id} not found")
        return R.integration_from(row)

    def save_integration(self, *, environment: str, base_url: str, username: str,
                         secret_ref_factory: Callable[[], str], partner: str = PARTNER,
                         ) -> tuple[Integration, bool]:
        """Create the integration, or re-key the existing one for the same URL and username.

        Returns (integration, created). The caller stores the secret under `secret_ref`.
        """
        require(self.user, Action.ADVISOR_INTEGRATION)
        with self.store.write() as db:
            row = I.find(db, self.user.id, partner, base_url, username)
            if row is not None:
                I.reconnect(db, row["id"], environment)
                after = R.get_row(db, "integrations", row["id"])
                self._audit(db, None, "integration reconnect", "integration", row["id"],
                            {"status": row["status"]}, {"status": "connected"})
                assert after is not None
                return R.integration_from(after), False
            new_id = I.insert(db, owner_user_id=self.user.id, partner=partner,
                              environment=environment, base_url=base_url, username=username,
                              secret_ref=secret_ref_factory())
            after = R.get_row(db, "integrations", new_id)
            assert after is not None
            self._audit(db, None, "integration add", "integration", after["id"], None,
                        {k: after[k] for k in ("base_url", "username", "environment")})
        return R.integration_from(after), True

    def set_integration_status(self, integration_id: int, status: str,
                               message: str | None = None) -> None:
        """Mark an integration (e.g. 'needs re-authentication' after a 401); no role check:
        any user's pull may learn that the stored key stopped working."""
        with self.store.write() as db:
            I.set_status(db, integration_id, status, message)

    def remove_integration(self, integration_id: int, *, keep_accounts: bool = True,
                           forget_secret: bool = True) -> Integration:
        """Remove an integration. Its linked accounts are kept as manual accounts
        (keep_accounts) or deleted; its pending and ignored rows go; its secret leaves the
        credential store (forget_secret; a front end that must not wait on a slow keyring
        passes False and calls `forget_integration_secret` off its UI thread). Returns the
        integration as it was."""
        require(self.user, Action.ADVISOR_INTEGRATION)
        with self.store.write() as db:
            integ = self.integration(integration_id)
            linked = S.linked_through(db, integration_id)
            for link in linked:
                self._unlink(db, link)
                if not keep_accounts:
                    A.delete(db, link["linked_account_id"])
            I.delete(db, integration_id)
            self._audit(db, None, "integration remove", "integration", integration_id,
                        {"base_url": integ.base_url, "username": integ.username}, None,
                        detail=f"{len(linked)} linked account(s) "
                        f"{'kept as manual' if keep_accounts else 'deleted'}")
        if forget_secret:
            self.forget_integration_secret(integ.secret_ref)
        return integ

    @staticmethod
    def forget_integration_secret(secret_ref: str) -> None:
        """A removed integration's key leaves the credential store too (best effort: the
        integration is already gone; an unreachable keyring keeps a key nothing refers to)."""
        from ..sync.credentials import credential_store

        try:
            credential_store().delete(secret_ref)
        except PlantechError:
            pass

