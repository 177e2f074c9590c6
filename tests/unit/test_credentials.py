"""SPEC §7: credentials in the OS keyring, or a 0600 file when there is no usable keyring."""

from __future__ import annotations

import builtins
import json
import os
import stat
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked

from plantech_tui.domain.errors import PlantechError
from plantech_tui.partners.redtail.partner import Credentials
from plantech_tui.sync.credentials import (
    CredentialStore,
    CredentialStoreError,
    new_secret_ref,
    open_credential_store,
)
from tests.keyring_memory import MemoryKeyring

API_KEY = "api-KEY-0f3b2c9d-SECRET"
USER_KEY = "user-KEY-7a1e44c0-SECRET"
KEYS = Credentials(api_key=API_KEY, user_key=USER_KEY)
CREDS = KEYS.to_secret()  # the store keeps the partner's opaque secret: Redtail's keys as JSON
SECRETS = (API_KEY, USER_KEY)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture(autouse=True)
def keyring_backend() -> Iterator[MemoryKeyring]:
    """Every test starts on a fresh in-memory keyring; the previous backend is restored."""
    previous = keyring.get_keyring()
    MemoryKeyring._store.clear()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)
    MemoryKeyring._store.clear()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


class Notices:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the keyring -------------------------------------------------------------------------------


def test_round_trip_in_keyring(data_dir: Path, keyring_backend: MemoryKeyring) -> None:
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    assert not store.using_fallback
    assert "MemoryKeyring" in store.backend_name
    assert notices.messages == []
    assert not (data_dir / "credentials.json").exists()

    ref = new_secret_ref()
    assert store.get(ref) is None
    store.set(ref, CREDS)
    assert store.get(ref) == CREDS
    # one secret under service plantech-tui and the ref, holding both keys
    assert list(MemoryKeyring._store) == [("plantech-tui", ref)]
    stored = json.loads(MemoryKeyring._store[("plantech-tui", ref)])
    assert stored == {"api_key": API_KEY, "user_key": USER_KEY}


def test_new_secret_ref_is_a_random_uuid() -> None:
    a, b = new_secret_ref(), new_secret_ref()
    assert a != b
    assert uuid.UUID(a).version == 4


def test_two_refs_are_independent_and_delete(data_dir: Path) -> None:
    store = open_credential_store(data_dir)
    ref_a, ref_b = new_secret_ref(), new_secret_ref()
    other = Credentials(api_key="other-api", user_key="other-user").to_secret()
    store.set(ref_a, CREDS)
    store.set(ref_b, other)
    assert store.get(ref_a) == CREDS
    assert store.get(ref_b) == other
    store.delete(ref_a)
    assert store.get(ref_a) is None
    assert store.get(ref_b) == other
    store.delete(ref_a)  # deleting again is a no-op


def test_set_replaces(data_dir: Path) -> None:
    store = open_credential_store(data_dir)
    ref = new_secret_ref()
    store.set(ref, Credentials(api_key="old", user_key="old").to_secret())
    store.set(ref, CREDS)
    assert store.get(ref) == CREDS


# --- falling back to the file ------------------------------------------------------------------


@posix_only
def test_fail_backend_falls_back_to_0600_file(data_dir: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    path = data_dir / "credentials.json"
    assert store.using_fallback
    assert path.exists()
    assert mode_of(path) == 0o600
    assert len(notices.messages) == 1
    notice = notices.messages[0]
    assert "\n" not in notice
    assert "fail backend" in notice
    assert str(path) in notice
    assert "0600" in notice

    ref = new_secret_ref()
    store.set(ref, CREDS)
    assert store.get(ref) == CREDS
    assert mode_of(path) == 0o600  # still 0600 after the atomic replace
    assert len(notices.messages) == 1
    leftovers = [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


class RaisingKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("dbus said no")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("dbus said no")

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("dbus said no")


class LockedKeyring(RaisingKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")


class HangingKeyring(RaisingKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(10)
        return None


def test_raising_backend_falls_back(data_dir: Path) -> None:
    keyring.set_keyring(RaisingKeyring())
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    assert store.using_fallback
    assert len(notices.messages) == 1
    assert "RuntimeError" in notices.messages[0]
    ref = new_secret_ref()
    store.set(ref, CREDS)
    assert store.get(ref) == CREDS


def test_locked_keyring_falls_back(data_dir: Path) -> None:
    keyring.set_keyring(LockedKeyring())
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    assert store.using_fallback
    assert "locked" in notices.messages[0]


def test_hanging_backend_falls_back_within_the_probe_timeout(data_dir: Path) -> None:
    keyring.set_keyring(HangingKeyring())
    notices = Notices()
    started = time.monotonic()
    store = open_credential_store(data_dir, notify=notices)
    elapsed = time.monotonic() - started
    assert store.using_fallback
    assert elapsed < 5  # the probe gives up after ~2 s, not after the backend's 10 s
    assert len(notices.messages) == 1
    assert "2 s" in notices.messages[0]


@posix_only
def test_env_forces_file(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTECH_CREDENTIALS", "file")
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    assert store.using_fallback
    assert len(notices.messages) == 1
    assert "PLANTECH_CREDENTIALS=file" in notices.messages[0]
    ref = new_secret_ref()
    store.set(ref, CREDS)
    assert MemoryKeyring._store == {}  # the keyring was not used
    assert mode_of(data_dir / "credentials.json") == 0o600


def test_force_file_argument(data_dir: Path) -> None:
    store = open_credential_store(data_dir, force_file=True)
    assert store.using_fallback
    store.set(new_secret_ref(), CREDS)
    assert MemoryKeyring._store == {}


class EncryptedKeyring(KeyringBackend):
    """Looks like keyrings.alt's encrypted file backend, which asks for a master password."""

    priority = 1  # type: ignore[assignment]
    calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        type(self).calls += 1
        return input("Please enter password for encrypted keyring: ")

    def set_password(self, service: str, username: str, password: str) -> None:
        type(self).calls += 1
        input("Please set a password for your new keyring: ")

    def delete_password(self, service: str, username: str) -> None:
        type(self).calls += 1


EncryptedKeyring.__module__ = "keyrings.alt.file"


def test_prompting_backend_is_refused_without_touching_stdin(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompted: list[str] = []

    def no_input(prompt: object = "") -> str:
        prompted.append(str(prompt))
        raise AssertionError("stdin was read")

    monkeypatch.setattr(builtins, "input", no_input)
    EncryptedKeyring.calls = 0
    keyring.set_keyring(EncryptedKeyring())
    notices = Notices()
    store = open_credential_store(data_dir, notify=notices)
    assert store.using_fallback
    assert prompted == []
    assert EncryptedKeyring.calls == 0
    assert "prompt" in notices.messages[0]


# --- the file store ----------------------------------------------------------------------------


def test_file_store_survives_reopen(data_dir: Path) -> None:
    ref_a, ref_b = new_secret_ref(), new_secret_ref()
    store = open_credential_store(data_dir, force_file=True)
    store.set(ref_a, CREDS)
    store.set(ref_b, Credentials(api_key="b-api", user_key="b-user").to_secret())
    store.delete(ref_b)

    again = open_credential_store(data_dir, force_file=True)
    assert again.get(ref_a) == CREDS
    assert again.get(ref_b) is None


@posix_only
def test_file_store_fixes_open_permissions(data_dir: Path) -> None:
    store = open_credential_store(data_dir, force_file=True)
    ref = new_secret_ref()
    store.set(ref, CREDS)
    path = data_dir / "credentials.json"
    os.chmod(path, 0o644)
    notices = Notices()
    again = open_credential_store(data_dir, force_file=True, notify=notices)
    assert mode_of(path) == 0o600
    assert again.get(ref) == CREDS
    assert len(notices.messages) == 1
    assert "0600" in notices.messages[0]


def test_corrupt_file_is_an_error_without_secrets(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    path = data_dir / "credentials.json"
    path.write_text(f'{{"secrets": {{"x": "{API_KEY}" ', encoding="utf-8")
    store = open_credential_store(data_dir, force_file=True)
    with pytest.raises(CredentialStoreError) as info:
        store.get("x")
    assert str(path) in str(info.value)
    assert_no_secret(str(info.value))
    assert info.value.exit_code == 1
    assert isinstance(info.value, PlantechError)


# --- errors after opening ------------------------------------------------------------------------


class FlakyKeyring(MemoryKeyring):
    """Answers the probe, then fails on use: errors echo the password to tempt a leak."""

    broken = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.broken:
            raise RuntimeError(f"backend exploded near {API_KEY}")
        return super().get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.broken:
            raise RuntimeError(f"cannot store {password}")
        super().set_password(service, username, password)


def test_backend_error_after_open_raises_store_error_without_secrets(data_dir: Path) -> None:
    backend = FlakyKeyring()
    keyring.set_keyring(backend)
    store = open_credential_store(data_dir)
    assert not store.using_fallback
    ref = new_secret_ref()
    store.set(ref, CREDS)
    backend.broken = True
    for action in (lambda: store.get(ref), lambda: store.set(ref, CREDS)):
        with pytest.raises(CredentialStoreError) as info:
            action()
        err = info.value
        assert err.exit_code == 1
        assert ref in str(err)
        assert_no_secret(str(err))
        assert_no_secret(repr(err))
        assert err.__cause__ is None and err.__suppress_context__


def test_malformed_keyring_secret_is_an_error(data_dir: Path) -> None:
    """The store keeps opaque secrets; Redtail reading one that is not its keys refuses it
    without echoing it."""
    from plantech_tui.domain.models import Integration
    from plantech_tui.partners.base import InvalidCredentials
    from plantech_tui.partners.redtail.partner import RedtailPartner

    store = open_credential_store(data_dir)
    ref = new_secret_ref()
    MemoryKeyring._store[("plantech-tui", ref)] = f"not json {API_KEY}"
    secret = store.get(ref)
    assert secret is not None
    integration = Integration(id=1, owner_user_id=1, environment="Custom",
                              base_url="http://127.0.0.1/api", username="u", secret_ref=ref,
                              status="connected", created_at="now")
    with pytest.raises(InvalidCredentials) as info:
        RedtailPartner().client(integration, secret)
    assert_no_secret(str(info.value))
    assert_no_secret(repr(info.value))


# --- nothing prints a secret ----------------------------------------------------------------------


def test_credentials_never_show_their_keys() -> None:
    for text in (repr(KEYS), str(KEYS), f"{KEYS}", f"{KEYS!r}", repr([KEYS])):
        assert_no_secret(text)
    assert repr(KEYS) == "Credentials(api_key=***, user_key=***)"


@pytest.mark.parametrize("force_file", [False, True])
def test_store_repr_never_shows_secrets(data_dir: Path, force_file: bool) -> None:
    store: CredentialStore = open_credential_store(data_dir, force_file=force_file)
    store.set(new_secret_ref(), CREDS)
    for text in (repr(store), str(store), store.backend_name, str(store.fallback_reason)):
        assert_no_secret(text)


# --- one store per process, from any thread ---------------------------------------------------


class GatedKeyring(MemoryKeyring):
    """A keyring whose probe holds until the test lets it go, counting the probes."""

    def __init__(self) -> None:
        super().__init__()
        self.probes = 0
        self.probing = threading.Event()
        self.go_on = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.probes += 1
        self.probing.set()
        self.go_on.wait(10)
        return super().get_password(service, username)


def _waiting_in(thread: threading.Thread, function: str) -> bool:
    """The thread's innermost Python frame is `function` (blocked there on a lock)."""
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and frame.f_code.co_name == function


def test_two_threads_asking_at_once_share_one_probe(keyring_backend: MemoryKeyring) -> None:
    """The TUI warms the store up in a thread while a pull may ask for it on the UI thread:
    the second caller waits for the first probe instead of probing (and noticing) again."""
    from plantech_tui.sync import credentials

    gated = GatedKeyring()
    keyring.set_keyring(gated)
    credentials.reset_credential_store()
    got: dict[str, CredentialStore] = {}
    first = threading.Thread(target=lambda: got.update(first=credentials.credential_store()))
    second = threading.Thread(target=lambda: got.update(second=credentials.credential_store()))
    first.start()
    assert gated.probing.wait(10), "the first caller never probed the keyring"
    second.start()
    while not (_waiting_in(second, "credential_store") or gated.probes > 1):
        assert second.is_alive(), "the second caller returned while the first still probed"
        time.sleep(0.001)  # polling a condition, not waiting for time to pass
    gated.go_on.set()
    first.join(10)
    second.join(10)
    assert gated.probes == 1
    assert got["first"] is got["second"]
    assert not got["first"].using_fallback
    credentials.reset_credential_store()


def test_the_fallback_notice_goes_where_the_front_end_says(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A full-screen front end claims the one-time notice: nothing is printed to stderr (it
    would land in the middle of the TUI), and releasing the claim restores stderr."""
    from plantech_tui import notices
    from plantech_tui.sync import credentials

    keyring.set_keyring(fail.Keyring())
    said = Notices()
    credentials.reset_credential_store()
    notices.claim(said)
    try:
        assert credentials.credential_store().using_fallback
    finally:
        notices.claim(None)
    assert len(said.messages) == 1 and "credentials.json" in said.messages[0]
    assert capsys.readouterr().err == ""

    # without a claim (the CLI), a first-time fallback says so on stderr, once
    (Path(said.messages[0].split(" in ", 1)[1].split(" (mode")[0])).unlink()
    credentials.reset_credential_store()
    credentials.credential_store()
    credentials.credential_store()
    err = capsys.readouterr().err
    assert err.count("storing credentials in") == 1 and err.startswith("plantech: ")
    credentials.reset_credential_store()
