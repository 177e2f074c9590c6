"""`plantech doctor`: check this machine's set-up and say what to fix.

Checks: the database (exists or can be created; readable, intact, writable, private), who
runs it (the user of --user / PLANTECH_USER / the login name, resolved as every command does),
the config and mapping files, and the terminal. For an advisor (or the would-be first advisor
of a new database) also the credential store (OS keyring or the 0600 file) and each of *their
own* Redtail integrations (reachable; stored key accepted). Clients, professionals and unknown
names get no integration information and cause no Redtail call. Exit 0 when nothing failed,
1 otherwise; warnings do not fail.

It creates nothing: no database (an existing one is read without creating it, and locked once
by a BEGIN IMMEDIATE that is rolled back; another account's is only read), no user, no
credential file, no config.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import dbcheck

if TYPE_CHECKING:
    pass

REDTAIL_TIMEOUT = 5.0


@dataclass
class Who:
    """The user doctor runs as, as the database knows it (read only: never created)."""

    name: str
    role: str | None  # None: not in the database
    user_id: int | None = None
    first: bool = False  # the database has no user yet: this one would become its advisor

    @property
    def advisor(self) -> bool:
        return self.role == "advisor" or self.first


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _private(path: Path, want: int, what: str, mask: int) -> Check | None:
    """A warning when `path`'s mode has any bit of `mask` (others may read or replace it)."""
    mode = _mode(path)
    if mode & mask:
        return Check(what, "warn", f"{path} has mode {mode:o}: other users can "
                     f"{'replace files in' if path.is_dir() else 'read'} it",
                     f"chmod {want:o} {path}")
    return None


# ------------------------------------------------------------------ database


def _nearest_existing(path: Path) -> Path:
    for candidate in [path.parent, *path.parent.parents]:
        if os.path.lexists(candidate):
            return candidate
    return Path("/")


def _who(conn: sqlite3.Connection, name: str) -> Who:
    """`name` as `resolve_user` finds it (case-insensitive), without its side effect."""
    try:
        found = dbcheck.user_named(conn, name)
        if found is not None:
            return Who(name, found[1], found[0])
        anyone = dbcheck.has_users(conn)
    except sqlite3.Error:  # no users table yet (a database never migrated)
        anyone = False
    return Who(name, None, first=not anyone)


def check_user(who: Who | None) -> Check | None:
    """One line saying who doctor checked for; nothing when the database could not be read."""
    if who is None:
        return None
    if who.first:
        return Check("user", "ok", f"{who.name}: no users yet, the first command makes "
                     f"{who.name} the database's advisor")
    if who.role is None:
        return Check("user", "warn", f"unknown user {who.name!r}: only the database and the "
                     "terminal are checked (an advisor adds users: plantech users add NAME "
                     "--role …)")
    if who.role != "advisor":
        return Check("user", "ok", f"{who.name} ({who.role}): Redtail integrations and the "
                     "credential store are checked for advisors only")
    return Check("user", "ok", f"{who.name} (advisor): checking your own integrations")


def check_database(path: Path, user_name: str
                   ) -> tuple[list[Check], Who | None, list[dict[str, Any]]]:
    """The database file, without creating it. Returns the checks, who `user_name` is there
    (None when the file could not be read) and that user's own integrations (an advisor's;
    nobody else's are ever read)."""
    from .store.schema import MIGRATIONS

    target = len(MIGRATIONS)
    fix_path = "choose another path with --db or PLANTECH_DB, or create the directory"
    if not path.exists():
        if os.path.lexists(path):
            return [Check("database", "fail", f"{path} is a broken symbolic link",
                          "point it at the database, or remove it")], None, []
        base = _nearest_existing(path)
        if not base.is_dir():
            return [Check("database", "fail", f"cannot create {path}: {base} is not a directory",
                          fix_path)], None, []
        if not os.access(base, os.W_OK | os.X_OK):
            return [Check("database", "fail", f"cannot create {path}: {base} is not writable "
                          "by this user", fix_path)], None, []
        return [Check("database", "ok", f"{path} does not exist yet; the first command that "
                      "needs it creates it (mode 0600)")], Who(user_name, None, first=True), []
    if not path.is_file():
        return [Check("database", "fail", f"{path} is not a regular file", fix_path)], None, []
    checks: list[Check] = []
    integrations: list[dict[str, Any]] = []
    who = Who(user_name, None)
    # Another account's database (root checking the service's, say) is only read, as an
    # immutable file: opening it for writing could leave -wal/-shm files that account cannot
    # open. Immutable reads skip the -wal: the last commits may be missing from this check.
    # Our own is read through a read-only connection; the write-lock probe below closes while
    # that one is open, so doctor never checkpoints or removes the -wal of a live database.
    foreign = hasattr(os, "getuid") and path.stat().st_uid != os.getuid()
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro{'&immutable=1' if foreign else ''}", uri=True,
                               timeout=2)
    except sqlite3.Error as exc:
        return [Check("database", "fail", f"cannot open {path}: {exc}",
                      "check its owner and permissions (run as the account that owns it)")], None, []
    try:
        try:
            ok = dbcheck.quick_check(conn)
            version = dbcheck.schema_version(conn)
        except sqlite3.DatabaseError as exc:
            return [Check("database", "fail", f"{path}: integrity check failed: {exc}",
                          "restore the last backup (plantech docs deploy, §8)")], None, []
        if ok != "ok":
            return [Check("database", "fail", f"{path}: integrity check says {ok}",
                          "restore the last backup (plantech docs deploy, §8)")], None, []
        if version > target:
            return [Check("database", "fail", f"{path} has schema {version}, newer than this "
                          f"plantech ({target})", "upgrade plantech")], None, []
        try:  # a write lock, rolled back: proves the file, its directory and the lock work
            if not foreign:
                probe = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=2,
                                        isolation_level=None)
                try:
                    dbcheck.probe_write_lock(probe)
                finally:
                    probe.close()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                checks.append(Check("database", "warn", f"{path} is busy: another process "
                                    "held its write lock for over 2 s", "try again; if it "
                                    "stays busy, look for a hung plantech process"))
            else:
                return [Check("database", "fail", f"{path} is not writable: {text}",
                              "run as the account that owns it, or fix the permissions of the "
                              "file and its directory")], None, []
        who = _who(conn, user_name)
        if who.role == "advisor":
            try:
                integrations = dbcheck.integrations_of(conn, who.user_id)
            except sqlite3.Error:
                integrations = []
    finally:
        conn.close()
    if not checks:
        migrate = f" (will be migrated from schema {version})" if version < target else ""
        checks.append(Check("database", "ok", f"{path} (schema {version}{migrate}, "
                            f"mode {_mode(path):o})"))
    if foreign:
        checks.append(Check("database owner", "warn", f"{path} belongs to another user: "
                            "checked read-only, without its latest commits or the write lock",
                            "run plantech (and doctor) as the account that owns it "
                            "(plantech docs deploy: plantech-admin doctor)"))
    # the file must be private; its directory must at least not be writable by others
    for item, want, mask in ((path, 0o600, 0o077), (path.parent, 0o700, 0o022)):
        problem = _private(item, want, "database permissions", mask)
        if problem:
            checks.append(problem)
    return checks, who, integrations


# ------------------------------------------------------------------ files


def check_config() -> Check:
    from .config import config_path, load_config
    from .domain.errors import PlantechError

    try:
        load_config()
    except PlantechError as exc:
        return Check("config", "fail", exc.message, "fix the file (at that line), or remove it")
    path = config_path()
    return Check("config", "ok", f"{path}{'' if path.exists() else ' (not present: defaults)'}")


def check_mappings(integrations: list[dict[str, Any]]) -> list[Check]:
    """Redtail's mapping always (the check named "mapping"), and that of every other partner
    an integration uses or whose override file exists ("mapping salesforce-fsc")."""
    from .domain.errors import PlantechError
    from .partners import registry
    from .paths import config_dir

    used = set()
    for integ in integrations:
        try:
            used.add(registry.by_name(integ.get("partner")).slug)
        except PlantechError:  # a partner this version does not know: its probe says so
            pass
    checks = [_mapping_check(None)]
    for slug in registry.slugs():
        partner = registry.get(slug)
        override = config_dir() / (partner.mapping_file or "")
        if slug != registry.DEFAULT and (
                slug in used or (partner.mapping_file and override.exists())):
            checks.append(_mapping_check(slug))
    return checks


def _mapping_check(slug: str | None) -> Check:
    from .domain.errors import PlantechError
    from .partners import registry
    from .paths import config_dir

    partner = registry.get(slug)
    name = "mapping" if slug is None else f"mapping {partner.slug}"
    try:
        mapping = partner.load_mapping(config_dir())
    except PlantechError as exc:
        return Check(name, "fail", exc.message, "fix the file at that line, or remove it "
                     "to use the built-in table")
    override = config_dir() / (partner.mapping_file or "")
    source = (f"built-in table + {override}" if partner.mapping_file and override.exists()
              else "built-in table")
    return Check(name, "ok", f"{source}: {len(mapping.investment_types)} investment types, "
                 f"{len(mapping.included_account_types)} included {partner.label} types")


# ------------------------------------------------------------------ credentials


def _credential_file() -> Path:
    from .paths import data_dir
    from .sync.credentials import CREDENTIALS_FILENAME

    return data_dir() / CREDENTIALS_FILENAME


def _file_store_state(path: Path) -> tuple[str, str, str]:
    """(status, detail, fix) of the credential file, without creating it."""
    if not path.exists():
        base = _nearest_existing(path)
        if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
            return ("fail", f"{path} cannot be created ({base} is not a writable directory)",
                    "make the user data directory writable")
        return "ok", f"{path} (not created yet: it is on the first Add Integration)", ""
    if not path.is_file() or path.is_symlink():
        return "fail", f"{path} is not a regular file", "remove it and reconnect"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return ("fail", f"{path} is unreadable: {type(exc).__name__}",
                "restore it from a backup, or remove it and reconnect each integration")
    if not isinstance(doc, dict) or not isinstance(doc.get("secrets"), dict):
        return ("fail", f"{path} has an unexpected layout",
                "restore it from a backup, or remove it and reconnect each integration")
    if _mode(path) & 0o077:
        return "warn", f"{path} has mode {_mode(path):o}", f"chmod 600 {path}"
    return "ok", f"{path} (mode 600, {len(doc['secrets'])} integration(s))", ""


def check_credentials() -> tuple[Check, Any]:
    """Which store holds the Redtail keys. Returns the check and a reader for the keys (or
    None): it reads the keyring or the file, never creating either."""
    from .sync.credentials import ENV_VAR, PROBE_TIMEOUT, _probe_keyring, entry_secret

    path = _credential_file()

    def read_file(ref: str) -> str | None:
        try:
            secrets = json.loads(path.read_text(encoding="utf-8"))["secrets"]
            return entry_secret(secrets[ref])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    if os.environ.get(ENV_VAR, "").strip().lower() == "file":
        status, detail, fix = _file_store_state(path)
        return Check("credentials", status, f"file store ({ENV_VAR}=file): {detail}", fix), (
            read_file if status != "fail" else None)
    backend, problem = _probe_keyring(PROBE_TIMEOUT)
    if backend is not None:
        from .sync.credentials import KeyringCredentialStore

        store = KeyringCredentialStore(backend)
        label = f"{type(backend).__module__}.{type(backend).__qualname__}"
        return Check("credentials", "ok", f"OS keyring: {label}"), store.get
    status, detail, fix = _file_store_state(path)
    if status == "fail":
        return Check("credentials", "fail", f"no usable OS keyring ({problem}), and {detail}",
                     fix), None
    return Check("credentials", "warn", f"no usable OS keyring ({problem}); plantech uses the "
                 f"file store instead: {detail}",
                 f"on a server set {ENV_VAR}=file to say so (plantech docs deploy); on a desktop, "
                 "unlock or install a keyring"), read_file


# ------------------------------------------------------------------ Redtail


async def _reachable(url: str) -> str | None:
    """None when the API root answers HTTP at all (Redtail answers 401 without a key)."""
    import httpx

    from .partners.http import network_reason

    try:
        async with httpx.AsyncClient(timeout=REDTAIL_TIMEOUT) as http:
            await http.get(url.rstrip("/") + "/authentication")
    except httpx.TimeoutException:
        return f"no answer within {REDTAIL_TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        return network_reason(exc, lambda text: text)
    return None


async def _probe_integration(integ: dict[str, Any], read: Any) -> Check:
    from .domain.errors import PlantechError
    from .domain.mapping import Mapping as TypeMapping
    from .partners import registry
    from .partners.base import InvalidCredentials, PartnerError
    from .partners.http import RetryPolicy
    from .paths import config_dir
    from .service.connections import unmapped_line
    from .store.rows import integration_from

    try:
        partner = registry.by_name(integ.get("partner"))
    except PlantechError as exc:  # a partner this version does not know
        return Check(f"integration #{integ['id']}", "fail", exc.message,
                     "install the version of plantech that added it")
    name = f"{partner.slug} #{integ['id']}"
    url = str(integ["base_url"])
    who = f"{url} as {integ['username']}"
    problem = await _reachable(url)
    if problem:
        return Check(name, "fail", f"cannot reach {url}: {problem}",
                     "check the network, DNS, proxy and firewall from this machine")
    login = " ".join(f.flag + " …" for f in partner.login_fields if f.required and not f.secret)
    reconnect = ("reconnect it (Advisor Integration → Reconnect, or plantech integration add "
                 + ("with the same --base-url and --username)" if partner.password_login else
                    f"--partner {partner.slug} {login})"))
    if partner.setup_help:
        reconnect += f". {partner.setup_help}"
    try:
        creds = read(integ["secret_ref"]) if read is not None else None
    except Exception as exc:  # a credential store failure is reported, not raised
        return Check(name, "fail", f"{url} reachable, but the credential store failed: "
                     f"{type(exc).__name__}", "see the credentials check above")
    if creds is None:
        return Check(name, "fail", f"{url} reachable, but the credential store has no key for "
                     "it", reconnect)
    unmapped: list[str] = []
    try:
        mapping: TypeMapping = partner.load_mapping(config_dir())
    except PlantechError:
        mapping = partner.default_mapping()  # the mapping check above says what is wrong
    try:
        async with partner.open(integration_from(integ), creds, mapping=mapping,
                                max_in_flight=1, timeout=REDTAIL_TIMEOUT,
                                retry=RetryPolicy(attempts=1)) as connection:
            await connection.check()  # one read-only call with the stored key
            unmapped = await connection.unmapped_types()
    except InvalidCredentials as exc:
        return Check(name, "fail", f"{who}: {exc.message}", reconnect)
    except PartnerError as exc:
        return Check(name, "fail", f"{who}: {exc.message}",
                     f"try again later; if it persists, ask {partner.label} support")
    except Exception as exc:  # e.g. a stored base URL that no longer validates
        return Check(name, "fail", f"{who}: {exc}", "remove and re-add the integration")
    if integ["status"] != "connected":
        return Check(name, "warn", f"{who}: reachable and the stored key works, but the "
                     f"integration is marked {integ['status']!r}", "reconnect it once to clear "
                     "the mark")
    if unmapped:
        return Check(name, "warn", f"{who}: reachable, stored key accepted; "
                     f"{unmapped_line(unmapped)}",
                     f"map them in {config_dir() / (partner.mapping_file or 'mapping.toml')} "
                     "([direct] name = investment type, or skipped_account_types)")
    return Check(name, "ok", f"{who}: reachable, stored key accepted")


def check_redtail(integrations: list[dict[str, Any]], read: Any) -> list[Check]:
    if not integrations:
        return [Check("redtail", "ok", "no integrations yet (nothing to reach)")]

    async def all_of() -> list[Check]:
        return list(await asyncio.gather(*(_probe_integration(i, read) for i in integrations)))

    return asyncio.run(all_of())


# ------------------------------------------------------------------ terminal


def check_terminal() -> Check:
    """Informational: the TUI's needs. Never fails (cron and scripts have no terminal)."""
    term = os.environ.get("TERM", "")
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    colour = os.environ.get("COLORTERM", "").lower() in ("truecolor", "24bit")
    locale = (os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG")
              or "")
    utf8 = "utf-8" in locale.lower() or "utf8" in locale.lower()
    size = shutil.get_terminal_size((0, 0))
    parts = [f"TERM={term or '(unset)'}",
             "a terminal" if tty else "not a terminal",
             "truecolor" if colour else "256 colours or fewer",
             "UTF-8" if utf8 else f"locale {locale or '(unset)'} is not UTF-8"]
    if size.columns:
        parts.append(f"{size.columns}x{size.lines}")
    if os.environ.get("NO_COLOR"):
        parts.append("NO_COLOR set")
    if os.environ.get("PLANTECH_ASCII", "") not in ("", "0"):
        parts.append("ASCII icons")
    detail = ", ".join(parts)
    if not term or term == "dumb":
        return Check("terminal", "warn", detail, "set TERM (e.g. xterm-256color) before "
                     "opening the TUI; ssh -t gives the server a terminal")
    if not utf8:
        return Check("terminal", "warn", detail, "use a UTF-8 locale (e.g. LANG=C.UTF-8), or "
                     "PLANTECH_ASCII=1 for text icons")
    if tty and size.columns and (size.columns < 80 or size.lines < 24):
        return Check("terminal", "warn", detail, "make the window at least 80x24")
    return Check("terminal", "ok", detail)


# ------------------------------------------------------------------ pulls


def check_pulls(path: Path, who: Who) -> Check | None:
    """An advisor's own plans whose last pull failed, or with no successful pull for over a
    day (only plans with linked Redtail contacts). Read only; nobody else's plans."""
    from .sync.health import needs_a_look, pull_health

    if who.role != "advisor" or who.user_id is None or not path.is_file():
        return None
    foreign = hasattr(os, "getuid") and path.stat().st_uid != os.getuid()
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro"
                               f"{'&immutable=1' if foreign else ''}", uri=True, timeout=2)
        try:
            health = pull_health(conn, owner_user_id=who.user_id)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("pulls", "warn", f"cannot read the pulls: {exc}")
    bad = needs_a_look(health)
    if not bad:
        return Check("pulls", "ok", f"{len(health)} plan(s) with Redtail contacts: every last "
                     "pull succeeded within a day" if health else "no plans with Redtail contacts")
    lines = "; ".join(f"plan {h.plan_id} {h.name!r}: {h.describe()}" for h in bad)
    return Check("pulls", "warn", f"{len(bad)} of {len(health)} plan(s) need a look: {lines}",
                 "plantech sync --plan ID shows why (plantech docs deploy: the sync log)")


# ------------------------------------------------------------------ the command


def run_checks(db_path: Path, user_name: str) -> list[Check]:
    """Every check for `user_name`. Only an advisor's (or the first advisor-to-be's) run reads
    the credential store and calls Redtail, and then only with their own integrations."""
    db_checks, who, integrations = check_database(db_path, user_name)
    user_check = check_user(who)
    checks = [*db_checks, *([user_check] if user_check else [])]
    if who is not None and who.role is None and not who.first:
        return [*checks, check_terminal()]  # an unknown name: nothing about this deployment
    checks += [check_config(), *check_mappings(integrations)]
    if who is not None and who.advisor:
        cred_check, read = check_credentials()
        checks += [cred_check, *check_redtail(integrations, read)]
        pulls = check_pulls(db_path, who)
        checks += [pulls] if pulls else []
    return [*checks, check_terminal()]
