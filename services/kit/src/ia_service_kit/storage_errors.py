"""Recognising a full disk behind whatever exception a write raised.

SQLite says "database or disk is full", PostgreSQL "could not extend file ...: No
space left on device", a file write raises OSError(ENOSPC); the driver wraps them
in SQLAlchemy's errors and our own code may wrap those again. The kit's
ErrorInterceptor answers any of them with RESOURCE_EXHAUSTED (STORAGE_FULL), so a
client hears that the service is out of space, not that it broke.
"""

from __future__ import annotations

import errno

__all__ = ["storage_full"]

_WORDS = ("database or disk is full", "no space left on device", "disk full")


def storage_full(error: BaseException) -> str | None:
    """The words of the out-of-space error behind ``error``, or None if there is none."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return str(current)
        text = str(current)
        if any(words in text.lower() for words in _WORDS):
            return text.splitlines()[0][:300]
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None
