"""Exports: the CSV rules both front ends share (SPEC §5), and where an export may be written.

Nobody chooses a server path (issue 10, item 1). The TUI hands the file to the person: a browser
download under `plantech serve`, or in a terminal a file in the person's own export folder,
`<data dir>/exports/<user>/` (0700), which is the only place it writes. There the person may
only pick a plain file NAME (`save_export`): no folder, no `..`, no control characters; the
folder and the file are opened without following links, and an existing file is never
replaced (the next free name, `plan-1-addams-2.csv`, is taken instead). Nothing tells whether
any other path exists. The CLI writes the FILE its own user names (`write_file`), never
through a symbolic link, and replaces an existing file only with `--force`.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..domain.errors import PlantechError, UsageError, ValidationFailed
from ..domain.money import money_str

CSV_COLUMNS = ["state", "id", "description", "investment_type", "owner", "balance", "link",
               "redtail_account_id", "last_updated"]

NAME_LIMIT = 200  # bytes of UTF-8 in a file name the person picks (filesystems allow 255)
MAX_TRIES = 1000  # plan-1-addams-2.csv … -1000.csv, then give up
# a user name used as is for the folder (lowercased); any other gets `user+ID`, which no
# name of this form can be, so two users never share a folder
_PLAIN_USER = re.compile(r"[A-Za-z0-9@_][A-Za-z0-9._@-]{0,63}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

NAME_RULE = ("give a file name only, without a folder, '/', '..' or control characters "
             f"(at most {NAME_LIMIT} bytes): the file is saved in your export folder")


# ------------------------------------------------------------------ the CSV document


def csv_safe(value: Any) -> str:
    """A cell: decimals plain (even negative, never prefixed); text starting with = + - @
    prefixed with ' so that a spreadsheet does not run it as a formula."""
    if isinstance(value, Decimal):
        return money_str(value) or ""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str] = CSV_COLUMNS) -> str:
    """The document `plantech export --csv` writes (and the TUI's Export CSV)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([csv_safe(r[c]) for c in columns])
    return buf.getvalue()


def default_name(plan_id: int, plan_name: str, suffix: str = "") -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan_name.casefold()).strip("-")[:60].strip("-") or "plan"
    return f"plan-{plan_id}-{slug}{suffix}.csv"


# ------------------------------------------------------------------ the TUI's export folder


def export_folder(user_name: str, user_id: int, base: Path | None = None) -> Path:
    """`<data dir>/exports/<user>/`: the user's name lowercased when it is a plain one
    (letters, digits, `. _ @ -`, not starting with `.` or `-`), else `user+ID`."""
    if base is None:
        from ..paths import data_dir

        base = data_dir()
    leaf = user_name.lower() if _PLAIN_USER.fullmatch(user_name) else f"user+{user_id}"
    return base / "exports" / leaf


def check_file_name(name: str) -> str:
    """The name the person typed, stripped; ValidationFailed (field `path`) unless it is one
    plain file name. The message is the same whatever was typed: it says nothing of what
    exists on the server."""
    name = name.strip()
    bad = (not name or name.startswith(".") or "/" in name or "\\" in name
           or any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name))
    if bad or len(name.encode("utf-8", "surrogatepass")) > NAME_LIMIT:
        raise ValidationFailed(NAME_RULE, field="path")
    return name


def download_name(name: str) -> str:
    """The name a browser is offered (textual-serve puts it unquoted in Content-Disposition):
    a checked name with anything but ASCII letters, digits, `.`, `_` and `-` made `-`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", check_file_name(name)).strip("-.") or "export.csv"


def _candidates(name: str) -> Iterable[str]:
    yield name
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension
        stem, dot, ext = name, "", ""
    for n in range(2, MAX_TRIES + 1):
        yield f"{stem}-{n}{dot}{ext}"


def _open_folder(folder: Path) -> int:
    """An fd of the export folder, created 0700 as needed. Its two levels under the data dir
    (`exports`, then the user's) are opened relative to their parent with O_NOFOLLOW, so that
    neither can be a link; the user's folder must be ours, and is made 0700."""
    base = folder.parent.parent
    try:
        from ..paths import make_private_dir

        make_private_dir(base)
        fd = os.open(base, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise PlantechError(f"cannot open the data folder {base}: {exc.strerror}") from None
    try:
        for part in (folder.parent.name, folder.name):
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC,
                                dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise PlantechError(
                        f"your export folder {folder} (or its parent) is a link or not a "
                        "folder: plantech does not write through links; remove it") from None
                raise
            os.close(fd)
            fd = child
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            raise PlantechError(f"your export folder {folder} belongs to another account")
        if stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
        return fd
    except OSError as exc:
        os.close(fd)
        raise PlantechError(f"cannot open your export folder {folder}: {exc.strerror}") from None
    except BaseException:
        os.close(fd)
        raise


def save_export(folder: Path, name: str, text: str) -> Path:
    """Write `text` as a new file named `name` (or the next free `name-2`, `-3`…) in the export
    folder, mode 0600; the path written. Never through a link, never over a file."""
    name = check_file_name(name)
    data = text.encode("utf-8")
    dir_fd = _open_folder(folder)
    try:
        for candidate in _candidates(name):
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                             | _CLOEXEC, 0o600, dir_fd=dir_fd)
            except FileExistsError:  # a file, a folder or a link: the next name
                continue
            except OSError as exc:
                raise PlantechError(
                    f"cannot write {folder / candidate}: {exc.strerror}") from None
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            except OSError as exc:
                raise PlantechError(
                    f"cannot write {folder / candidate}: {exc.strerror}") from None
            return folder / candidate
        raise PlantechError(f"{MAX_TRIES} files named like {name} already exist in your "
                            f"export folder {folder}: remove some, or pick another name")
    finally:
        os.close(dir_fd)


# ------------------------------------------------------------------ the CLI's FILE


def _link_refused(path: Path) -> PlantechError:
    return PlantechError(f"{path} is a symbolic link: plantech does not write through links "
                         "(remove it or give another file)")


def write_file(path: Path, text: str, *, force: bool) -> None:
    """`plantech export --csv FILE`: a new file (0600); an existing one only with `force`;
    never through a symbolic link, with or without `force` (checked by the open itself)."""
    try:
        st: os.stat_result | None = os.lstat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise _link_refused(path)
    if st is not None and not force:
        raise UsageError(f"{path} exists: add --force to overwrite it")
    flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _CLOEXEC | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # appeared since the check: a link or a file
        if os.path.islink(path):
            raise _link_refused(path) from None
        raise UsageError(f"{path} exists: add --force to overwrite it") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_refused(path) from None
        raise PlantechError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
    except OSError as exc:
        raise PlantechError(f"cannot write {path}: {exc.strerror}") from None
