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
from ..store import rows as R
from ..store.db import now_utc
from .accounts import Accounts


class Integrations(Accounts):
    """An advisor's integrations."""

    # ------------------------------------------------------------------ integrations & contacts

    def list_integrations(self) -> list[Integration]:
        require(self.user, Action.ADVISOR_INTEGRATION)
        return [R.integration_from(r) for r in R.dict_rows(
            self.store.db, "SELECT * FROM integrations WHERE owner_user_id = ? ORDER BY id",
            [self.user.id])]

    def integration(self, integration_id: int) -> Integration:
        """An integration of the current advisor (or, for a pull, of a visible plan's owner)."""
        row = R.one(self.store.db, "SELECT * FROM integrations WHERE id = ?", [integration_id])
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
            row = R.one(db, "SELECT * FROM integrations WHERE owner_user_id = ? AND partner = ? "
                        "AND base_url = ? AND username = ? COLLATE NOCASE",
                        [self.user.id, partner, base_url, username])
            if row is not None:
                db.execute("UPDATE integrations SET status = 'connected', status_message = NULL, "
                           "environment = ? WHERE id = ?", [environment, row["id"]])
                after = R.get_row(db, "integrations", row["id"])
                self._audit(db, None, "integration reconnect", "integration", row["id"],
                            {"status": row["status"]}, {"status": "connected"})
                assert after is not None
                return R.integration_from(after), False
            cur = db.execute(
                "INSERT INTO integrations (owner_user_id, partner, environment, base_url, username,"
                " secret_ref, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'connected', ?)",
                [self.user.id, partner, environment, base_url, username, secret_ref_factory(),
                 now_utc()])
            after = R.get_row(db, "integrations", int(cur.lastrowid or 0))
            assert after is not None
            self._audit(db, None, "integration add", "integration", after["id"], None,
                        {k: after[k] for k in ("base_url", "username", "environment")})
        return R.integration_from(after), True

    def set_integration_status(self, integration_id: int, status: str,
                               message: str | None = None) -> None:
        """Mark an integration (e.g. 'needs re-authentication' after a 401); no role check:
        any user's pull may learn that the stored key stopped working."""
        with self.store.write() as db:
            db.execute("UPDATE integrations SET status = ?, status_message = ? WHERE id = ?",
                       [status, message, integration_id])

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
            linked = R.dict_rows(db, "SELECT * FROM staged_accounts WHERE integration_id = ? "
                                 "AND state = 'linked'", [integration_id])
            for link in linked:
                self._unlink(db, link)
                if not keep_accounts:
                    db.execute("DELETE FROM plan_accounts WHERE id = ?", [link["linked_account_id"]])
            db.execute("DELETE FROM integrations WHERE id = ?", [integration_id])
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

