"""Errors a user can act on. Each maps to an exit code in ``cli.py``."""

from __future__ import annotations


class MonitorError(Exception):
    """Base class: a failure the user can fix (exit code 2)."""

    exit_code = 2


class ConfigError(MonitorError):
    """The configuration file or a command-line override is invalid."""


class LakeError(MonitorError):
    """The lake is missing a table or column, or holds values the contract refuses.

    The message names the table, the column, the first offending key and what to do.
    """

    def __init__(
        self,
        table: str,
        problem: str,
        *,
        column: str | None = None,
        key: object | None = None,
        hint: str | None = None,
    ) -> None:
        self.table = table
        self.column = column
        self.key = key
        self.hint = hint
        parts = [f"lake table '{table}'"]
        if column is not None:
            parts.append(f"column '{column}'")
        msg = ", ".join(parts) + f": {problem}"
        if key is not None:
            msg += f" (first offending key: {key})"
        if hint:
            msg += f". What to do: {hint}"
        super().__init__(msg)


class OutputLocationError(MonitorError):
    """An output root that would write inside the lake, or is otherwise unusable."""


class PublishError(MonitorError):
    """Outputs (or an importer's lake) could not be published: a full disk, an I/O error, a lock
    lost to a clean-up. The message says which set readers see now (the previous one, whole, or
    the new one) and what to do."""


class LimitError(MonitorError):
    """A size or time limit was reached (a sweep grid, a zip member, a scheduler that does not
    answer); the message names the key or option that sets it."""
