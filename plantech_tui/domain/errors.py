"""The errors every layer raises; the CLI maps them to exit codes (SPEC §5).

`exit_code` 2 = the request itself is wrong (usage, unknown id, invalid state);
1 = the operation failed (Redtail, network, permission, busy database, credentials).
"""

from __future__ import annotations


class PlantechError(Exception):
    """Base of every error meant for a user: its text is one line, safe to show."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PlantechError):
    exit_code = 2


class NotFound(PlantechError):
    """An id that does not exist, or is not visible to the current user (reported alike)."""

    exit_code = 2


class InvalidState(PlantechError):
    """An action that makes no sense in the object's current state."""

    exit_code = 2


class ValidationFailed(PlantechError):
    """A field value that is not acceptable (kept by forms, reported by the CLI)."""

    exit_code = 2

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PermissionDenied(PlantechError):
    exit_code = 1


class UnknownUser(PlantechError):
    exit_code = 1


class DiskFull(PlantechError):
    """SQLITE_FULL: the write was rolled back; nothing changed."""

    exit_code = 1

    @classmethod
    def of(cls, db_name: str) -> DiskFull:
        return cls(f"the disk holding {db_name} is full: nothing was written; free space and "
                   "retry")


class DatabaseBusy(PlantechError):
    exit_code = 1


class AlreadyRunning(PlantechError):
    """A pull of this plan is already in progress (in this or another process)."""

    exit_code = 1


class UndoConflict(PlantechError):
    """The rows an undo would restore changed since (a pull or another user)."""

    exit_code = 1
