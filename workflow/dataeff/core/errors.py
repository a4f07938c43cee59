"""User-facing errors.

Every problem a user can fix (bad config, bad task file, bad argument) is raised as a
:class:`DataeffError` whose message is one line naming the file, the field and the fix.
The command line prints it without a traceback (unless ``--debug``) and exits non-zero.
"""

from __future__ import annotations


class DataeffError(Exception):
    """An error the user can fix; its message is a single line shown verbatim."""

    def __init__(
        self, message: str, *, file: str | None = None, field: str | None = None, fix: str | None = None
    ) -> None:
        parts = []
        if file:
            parts.append(str(file))
        if field:
            parts.append(f"field '{field}'")
        prefix = ": ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if fix:
            text = f"{text} ({fix})"
        super().__init__(" ".join(text.split()))
        self.file = file
        self.field = field
        self.fix = fix


class TrainingDivergedError(DataeffError):
    """Raised when the training loss becomes NaN or infinite."""
