"""The project's own exceptions: every error a user can cause has a short code and says what to do.

>>> err = StoreLockedError("kgqa-store")
>>> err.code
'E-STORE-LOCKED'
"""
from __future__ import annotations


class KGQAError(Exception):
    """Base of every error a user can cause. ``str(err)`` is one line: ``[CODE] message``."""

    code = "E-KGQA"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class StoreError(KGQAError):
    code = "E-STORE"


class StoreNotFoundError(StoreError):
    code = "E-STORE-MISSING"


class ForeignStoreError(StoreError):
    code = "E-STORE-FOREIGN"


class StoreLockedError(StoreError):
    code = "E-STORE-LOCKED"

    def __init__(self, location: str):
        super().__init__(
            f"the store at {location!r} is open for writing in another process; "
            "stop that process (e.g. a running `kgqa serve`) or query it through its HTTP endpoint"
        )


class ReadOnlyStoreError(StoreError):
    code = "E-STORE-READONLY"


class RemoteStoreError(StoreError):
    code = "E-STORE-REMOTE"


class ParseError(KGQAError):
    """A malformed input file; ``line`` is 1-based when known."""

    code = "E-PARSE"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = path or "input"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class FormatError(KGQAError):
    code = "E-FORMAT"


class QueryError(KGQAError):
    """A malformed SPARQL query or update; the message is the parser's."""

    code = "E-QUERY"


class QueryTimeoutError(KGQAError):
    code = "E-TIMEOUT"


class ResultTooLargeError(KGQAError):
    code = "E-ROW-CAP"


class DocumentNotFoundError(KGQAError):
    code = "E-DOC-MISSING"
