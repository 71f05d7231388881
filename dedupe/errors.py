"""One error hierarchy; every message names what failed, where, and how to fix it."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DedupeError",
    "EngineError",
    "IndexMismatchError",
    "InputError",
    "OutputError",
]


class DedupeError(Exception):
    """Base class of every error dedupe raises on purpose."""


class ConfigError(DedupeError):
    """An option has an invalid value or two options contradict each other."""


class IndexMismatchError(ConfigError):
    """A persistent index was built with a parameter that differs from this run's.

    Signatures and band keys are only comparable when every parameter they depend on is equal,
    so the message names the first differing one, both values, the index and the fix.
    """

    def __init__(self, path: str, key: str, index_value, run_value, hint: str):
        self.path = path
        self.key = key
        self.index_value = index_value
        self.run_value = run_value
        self.hint = hint
        super().__init__(
            f"index {path} was built with {key} = {_show(index_value)}, this run uses "
            f"{_show(run_value)}; {hint}"
        )

    def __reduce__(self):
        return (IndexMismatchError,
                (self.path, self.key, self.index_value, self.run_value, self.hint))


def _show(value) -> str:
    """A parameter value as a user would type it (``true``, ``3``, ``word``)."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


class InputError(DedupeError):
    """A problem with the input data, located by file, row and column."""

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
        line: int | None = None,
    ):
        self.path = path
        self.row = row
        self.column = column
        self.reason = reason
        self.hint = hint
        self.line = line
        where = path
        if line is not None:  # a text file's line (1-based, blank lines counted)
            where += f", line {line}"
        if row is not None:
            where += f", row {row}" if line is None else f" (row {row})"
        if column is not None:
            where += f", column {column!r}"
        message = f"{where}: {reason}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def __reduce__(self):  # survive pickling across worker processes
        return (_rebuild_input_error,
                (self.path, self.reason, self.row, self.column, self.hint, self.line))


def _rebuild_input_error(path, reason, row, column, hint, line=None):
    return InputError(path, reason, row=row, column=column, hint=hint, line=line)


class OutputError(DedupeError):
    """The output folder cannot be written as asked (exists, read-only, disk full)."""


class EngineError(DedupeError):
    """A task failed inside an engine; names the stage and the task."""

    def __init__(self, stage: str, task: str, cause: str):
        self.stage = stage
        self.task = task
        self.cause = cause
        super().__init__(f"stage {stage!r}, task {task}: {cause}")

    def __reduce__(self):
        return (EngineError, (self.stage, self.task, self.cause))
