"""The one user-facing error type.

Anything the user can fix (bad flag, missing file, unknown preset, offline hub id ...) is raised as
`UserError` with a one-line message that says what was wrong and what to do. The CLI boundary
(`interp.cli`) catches it, prints `error: <message>` to stderr and exits with code 2 — no traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; message is one line: what was wrong, what to do."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))  # always one line
