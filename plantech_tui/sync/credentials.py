"""Where integrations' secrets live (SPEC §7): partner-neutral.

One secret per integration, an opaque string its partner produced at login (Redtail's is the
JSON object of its API key and user key) and alone can read, under a random per-integration reference
(`new_secret_ref()`, a UUID: never a database row id, which repeats across databases). The OS
keyring is used when it is usable; otherwise a 0600 JSON file in the user data dir, and the
caller is told once. No message, repr or exception text here ever contains a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from plantech_tui.domain.errors import PlantechError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "plantech-tui"
CREDENTIALS_FILENAME = "credentials.json"
ENV_VAR = "PLANTECH_CREDENTIALS"
PROBE_TIMEOUT = 2.0
OPERATION_TIMEOUT = 10.0
_PROBE_USERNAME = "plantech-keyring-probe"
_FILE_VERSION = 1

_T = TypeVar("_T")


class CredentialStoreError(PlantechError):
    """The credential store failed; the message names the store and the ref, never a secret."""

    exit_code = 1


def new_secret_ref() -> str:
    """A fresh reference for one integration's secret."""
    return str(uuid.uuid4())


def _check_ref(ref: str) -> None:
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 200:
        raise ValueError("a secret ref is a non-empty string (see new_secret_ref)")


def _check_secret(secret: str) -> None:
    if not isinstance(secret, str) or not secret:
        raise TypeError("a secret is a non-empty string (the partner's own format)")


def _entry(secret: str) -> Any:
    """How the file holds a secret: a JSON object as the object (the layout Redtail's keys
    have always had in it), anything else as the string."""
    try:
        value = json.loads(secret)
    except ValueError:
        return secret
    return value if isinstance(value, dict) else secret


def entry_secret(entry: Any) -> str | None:
    """The secret a file entry holds (`_entry` reversed), or None when it is neither."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return json.dumps(entry)
    return None


class CredentialStore(ABC):
    """Get, set and delete one integration's credentials by its secret ref."""

    @property
    @abstractmethod
    def backend_name(self) -> str: ...

    @property
    @abstractmethod
    def using_fallback(self) -> bool:
        """True when the credentials are in the file store rather than the OS keyring."""

    @property
    def fallback_reason(self) -> str | None:
        """Why the file store is used (None for the keyring)."""
        return None

    @abstractmethod
    def get(self, ref: str) -> str | None:
        """The secret stored under `ref`, or None."""

    @abstractmethod
    def set(self, ref: str, secret: str) -> None: ...

    @abstractmethod
    def delete(self, ref: str) -> None:
        """Forget `ref`'s credentials; a ref with none is a no-op."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.backend_name}>"

    __str__ = __repr__


# --- the OS keyring ----------------------------------------------------------------------------


class _TimedOut(Exception):
    pass


def _run_with_timeout(fn: Callable[[], _T], timeout: float) -> _T:
    """Run `fn` in a daemon thread; _TimedOut if it has not returned after `timeout` s.

    A hung backend (a locked keyring waiting on a GUI prompt, a dead D-Bus) is abandoned, not
    killed: the daemon thread cannot keep the process alive.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="plantech-keyring", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise _TimedOut
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _backend_label(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _prompts_for_password(backend: object) -> bool:
    """keyrings.alt's encrypted backends ask for a master password (on the terminal)."""
    for cls in type(backend).__mro__:
        module = cls.__module__ or ""
        if "keyrings.alt" in module and "encrypted" in f"{module}.{cls.__name__}".lower():
            return True
    return False


def _unusable(backend: KeyringBackend) -> str | None:
    """Why `backend` cannot hold our secrets, judged without calling it; None if it may."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring):
        return "fail backend"
    if isinstance(backend, null.Keyring):
        return "null backend, which stores nothing"
    if _prompts_for_password(backend):
        return f"{_backend_label(backend)} would prompt for a password"
    if isinstance(backend, chainer.ChainerBackend):
        members = list(backend.backends)
        if not members:
            return "no keyring backend available"
        for member in members:
            if _prompts_for_password(member):
                return f"{_backend_label(member)} would prompt for a password"
    return None


def _probe_keyring(timeout: float) -> tuple[KeyringBackend | None, str | None]:
    """The keyring backend if usable, else (None, why)."""

    def probe() -> tuple[KeyringBackend, str | None]:
        import keyring

        backend = keyring.get_keyring()
        problem = _unusable(backend)
        if problem is None:
            backend.get_password(SERVICE, _PROBE_USERNAME)
        return backend, problem

    from keyring.errors import KeyringLocked

    try:
        backend, problem = _run_with_timeout(probe, timeout)
    except _TimedOut:
        return None, f"no answer within {timeout:g} s"
    except KeyringLocked:
        return None, "the keyring is locked"
    except Exception as exc:
        return None, f"{type(exc).__name__} from the keyring"
    if problem is not None:
        return None, problem
    return backend, None


class KeyringCredentialStore(CredentialStore):
    """Credentials in the OS keyring, service `plantech-tui`, username = the secret ref."""

    def __init__(self, backend: KeyringBackend, *, timeout: float = OPERATION_TIMEOUT) -> None:
        self._backend = backend
        self._timeout = timeout

    @property
    def backend_name(self) -> str:
        return _backend_label(self._backend)

    @property
    def using_fallback(self) -> bool:
        return False

    def _call(self, fn: Callable[[], _T], doing: str, ref: str) -> _T:
        from keyring.errors import KeyringLocked

        try:
            return _run_with_timeout(fn, self._timeout)
        except _TimedOut:
            why = f"no answer within {self._timeout:g} s"
        except KeyringLocked:
            why = "the keyring is locked"
        except Exception as exc:
            why = type(exc).__name__
        raise CredentialStoreError(
            f"OS keyring ({self.backend_name}) could not {doing} credentials {ref}: {why}"
        ) from None

    def get(self, ref: str) -> str | None:
        _check_ref(ref)
        secret = self._call(lambda: self._backend.get_password(SERVICE, ref), "read", ref)
        if secret is not None and not isinstance(secret, str):
            raise CredentialStoreError(
                f"OS keyring ({self.backend_name}): credentials {ref} are unreadable")
        return secret

    def set(self, ref: str, secret: str) -> None:
        _check_ref(ref)
        _check_secret(secret)
        self._call(lambda: self._backend.set_password(SERVICE, ref, secret), "store", ref)

    def delete(self, ref: str) -> None:
        from keyring.errors import PasswordDeleteError

        _check_ref(ref)

        def delete() -> None:
            try:
                self._backend.delete_password(SERVICE, ref)
            except PasswordDeleteError:
                pass  # nothing stored under this ref: already deleted

        self._call(delete, "delete", ref)


# --- the file fallback -------------------------------------------------------------------------


if sys.platform == "win32":

    @contextlib.contextmanager
    def _exclusive(lock_path: Path) -> Iterator[None]:
        yield

else:
    import fcntl

    @contextlib.contextmanager
    def _exclusive(lock_path: Path) -> Iterator[None]:
        """Serialise read-modify-write of the file across processes."""
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


class FileCredentialStore(CredentialStore):
    """Credentials in a JSON file readable by its owner only (mode 0600), replaced atomically."""

    def __init__(self, path: Path, *, reason: str | None = None) -> None:
        self.path = Path(path)
        self._reason = reason
        self._lock_path = self.path.with_name(f".{self.path.name}.lock")
        self.fixed_permissions = False
        self._prepare()

    @property
    def backend_name(self) -> str:
        return f"file {self.path}"

    @property
    def using_fallback(self) -> bool:
        return True

    @property
    def fallback_reason(self) -> str | None:
        return self._reason

    def _fail(self, doing: str, exc: OSError | None = None) -> CredentialStoreError:
        why = f": {exc.strerror or type(exc).__name__}" if exc is not None else ""
        return CredentialStoreError(f"credential file {self.path}: cannot {doing}{why}")

    def _prepare(self) -> None:
        try:
            from ..paths import make_private_dir

            make_private_dir(self.path.parent)
        except OSError as exc:
            raise self._fail("create its directory", exc) from None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            self._check_existing()
            return
        except OSError as exc:
            raise self._fail("create it", exc) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": _FILE_VERSION, "secrets": {}}, out)
                out.write("\n")
        except OSError as exc:
            raise self._fail("write it", exc) from None

    def _check_existing(self) -> None:
        try:
            info = os.lstat(self.path)
        except OSError as exc:
            raise self._fail("inspect it", exc) from None
        if not stat.S_ISREG(info.st_mode):
            raise CredentialStoreError(f"credential file {self.path} is not a regular file")
        if sys.platform != "win32" and stat.S_IMODE(info.st_mode) & 0o077:
            try:
                os.chmod(self.path, 0o600)
            except OSError as exc:
                raise self._fail("restrict its permissions to 0600", exc) from None
            self.fixed_permissions = True

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise self._fail("read it", exc if isinstance(exc, OSError) else None) from None
        try:
            doc = json.loads(text)
        except ValueError:
            raise CredentialStoreError(f"credential file {self.path} is not valid JSON") from None
        secrets = doc.get("secrets") if isinstance(doc, dict) else None
        if not isinstance(secrets, dict):
            raise CredentialStoreError(f"credential file {self.path} has an unexpected layout")
        return secrets

    def _save(self, secrets: dict[str, Any]) -> None:
        data = json.dumps({"version": _FILE_VERSION, "secrets": secrets}, indent=1) + "\n"
        tmp: str | None = None
        try:
            # mkstemp creates the file 0600; fchmod again in case of an unusual platform default
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            raise self._fail("write it", exc) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def get(self, ref: str) -> str | None:
        _check_ref(ref)
        entry = self._load().get(ref)
        if entry is None:
            return None
        secret = entry_secret(entry)
        if secret is None:
            raise CredentialStoreError(
                f"credential file {self.path}: credentials {ref} are unreadable")
        return secret

    def set(self, ref: str, secret: str) -> None:
        _check_ref(ref)
        _check_secret(secret)
        try:
            lock = _exclusive(self._lock_path)
            with lock:
                secrets = self._load()
                secrets[ref] = _entry(secret)
                self._save(secrets)
        except OSError as exc:
            raise self._fail("lock it", exc) from None

    def delete(self, ref: str) -> None:
        _check_ref(ref)
        try:
            with _exclusive(self._lock_path):
                secrets = self._load()
                if secrets.pop(ref, None) is not None:
                    self._save(secrets)
        except OSError as exc:
            raise self._fail("lock it", exc) from None


# --- choosing ----------------------------------------------------------------------------------


def open_credential_store(
    data_dir: Path,
    *,
    notify: Callable[[str], None] | None = None,
    force_file: bool = False,
) -> CredentialStore:
    """The OS keyring if usable, else `data_dir/credentials.json` (and one notice saying so).

    Unusable: the `fail` or `null` backend, a backend that would prompt for a password
    (keyrings.alt's encrypted ones: never probed, so never prompting), a locked keyring, any
    error, or no answer within 2 s. `PLANTECH_CREDENTIALS=file` or `force_file` skip the keyring.
    Call it once per process and keep the store: each call probes and notifies again.
    """
    path = Path(data_dir) / CREDENTIALS_FILENAME
    if force_file:
        reason = "file store requested"
    elif os.environ.get(ENV_VAR, "").strip().lower() == "file":
        reason = f"{ENV_VAR}=file"
    else:
        backend, problem = _probe_keyring(PROBE_TIMEOUT)
        if backend is not None:
            return KeyringCredentialStore(backend)
        reason = f"no usable OS keyring ({problem})"
    store = FileCredentialStore(path, reason=reason)
    if notify is not None:
        notice = f"{reason}; storing credentials in {path} (mode 0600)"
        if store.fixed_permissions:
            notice += "; its permissions were too open and are now 0600"
        notify(notice)
    return store


# --- the process's store -----------------------------------------------------------------------

_store: CredentialStore | None = None
_store_lock = threading.Lock()  # one probe per process, whichever thread asks first


def credential_store(notify: Callable[[str], None] | None = None) -> CredentialStore:
    """The process's credential store (OS keyring, or the 0600 file fallback). Thread-safe:
    a second caller waits for the first one's probe instead of probing again."""
    global _store
    if _store is not None:
        return _store
    with _store_lock:
        if _store is None:
            from .. import notices
            from ..paths import data_dir

            # say so once: when the fallback file is about to be created, not on every command
            first_time = not (data_dir() / CREDENTIALS_FILENAME).exists()
            _store = open_credential_store(
                data_dir(), notify=(notify or notices.notice) if first_time else None)
        return _store


async def credential_store_async() -> CredentialStore:
    """The store, opened in a thread when it is not open yet: opening may wait out a keyring
    probe (up to 2 s, or another thread's probe), which must not hold an event loop (the
    TUI's is its UI thread)."""
    if _store is not None:
        return _store
    import asyncio

    return await asyncio.to_thread(credential_store)


def reset_credential_store() -> None:
    global _store
    with _store_lock:
        _store = None
