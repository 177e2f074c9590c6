"""The service forgets a removed integration's secret, so every front end (the CLI too) does."""

from __future__ import annotations

from pathlib import Path

from plantech_tui.service.workspace import Workspace
from plantech_tui.sync import credentials


def test_removing_an_integration_forgets_its_secret(db_path: Path) -> None:
    """An advisor removes an integration (from a script, not the TUI): its Redtail key must not
    stay behind in the keyring, where a later reader of the machine would find it."""
    ws = Workspace.open(db_path, "advisor")
    store = credentials.credential_store()
    integ, created = ws.save_integration(environment="sandbox", base_url="https://r.example",
                                         username="adv", secret_ref_factory=credentials.new_secret_ref)
    assert created
    store.set(integ.secret_ref, "user-key-123")
    other, _ = ws.save_integration(environment="sandbox", base_url="https://r.example",
                                   username="other", secret_ref_factory=credentials.new_secret_ref)
    store.set(other.secret_ref, "user-key-456")
    removed = ws.remove_integration(integ.id)
    assert removed.id == integ.id
    assert store.get(integ.secret_ref) is None
    assert store.get(other.secret_ref) == "user-key-456"  # only the removed one's
    assert [i.id for i in ws.list_integrations()] == [other.id]


def test_a_front_end_may_forget_the_secret_later(db_path: Path) -> None:
    """The TUI removes first and forgets off its UI thread (a slow D-Bus keyring must not
    freeze it): until it asks, the key stays; then it goes."""
    ws = Workspace.open(db_path, "advisor")
    store = credentials.credential_store()
    integ, _ = ws.save_integration(environment="sandbox", base_url="https://r.example",
                                   username="adv", secret_ref_factory=credentials.new_secret_ref)
    store.set(integ.secret_ref, "user-key-123")
    ws.remove_integration(integ.id, forget_secret=False)
    assert store.get(integ.secret_ref) == "user-key-123"
    ws.forget_integration_secret(integ.secret_ref)
    assert store.get(integ.secret_ref) is None
