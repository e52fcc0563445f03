"""The one rule every endpoint family applies to a query string before reading it: it must be
UTF-8. werkzeug decodes ``request.args`` strictly, so a raw byte such as ``0xb2`` would
otherwise raise inside a handler and be answered 500. The registry answers 400 with an OCI
error body, the control API 400 with its ``{"error", "field"}`` body."""

from __future__ import annotations

__all__ = ["query_problem"]


def query_problem(query: bytes) -> str | None:
    """Why ``query`` (the raw query string) cannot be read, or ``None`` when it can."""
    try:
        query.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"the query string is not valid UTF-8 (byte 0x{query[exc.start]:02x} at offset "
            f"{exc.start}); percent-encode its bytes"
        )
    return None
