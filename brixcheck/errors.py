"""The error every user-facing brixcheck failure raises: what went wrong and what to do."""

from __future__ import annotations


class BrixcheckError(Exception):
    """A failure the user can act on; printed as one sentence plus its remedy, no traceback."""

    def __init__(self, message: str, remedy: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def __str__(self) -> str:
        return f"{self.message}; {self.remedy}" if self.remedy else self.message
