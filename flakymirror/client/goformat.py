"""How Go prints things, for the texts the reference client must reproduce byte for byte:
``%v`` of decoded JSON, ``%q`` of a string, ``%+v`` of ggcr's ``v1.Platform``,
``http.StatusText``, ``time.Duration.String()``, ``url.Values.Encode()``, ``json.Marshal`` and
the text of ``encoding/json``'s type errors. The one home of these; the modules that print
import them (``tests/client/test_goformat.py`` fails on a copy elsewhere)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

if TYPE_CHECKING:
    from flakymirror.oci.model import Platform

__all__ = [
    "go_duration",
    "go_format",
    "go_json",
    "go_json_kind",
    "go_platform",
    "go_query_encode",
    "go_quote",
    "go_status_text",
    "go_unmarshal_text",
]

_GO_STATUS_TEXT: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
    204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
    208: "Already Reported", 226: "IM Used",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
    411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
    414: "Request URI Too Long", 415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
    421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
    424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
    428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
    510: "Not Extended", 511: "Network Authentication Required",
}  # fmt: skip


def go_status_text(status: int) -> str:
    """``http.StatusText(status)`` as Go prints it (``""`` for 499, 522 and other unknowns)."""
    return _GO_STATUS_TEXT.get(status, "")


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e21."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    dec = Decimal(repr(value))
    exponent = dec.adjusted()
    if -4 <= exponent < 21:
        text = format(dec, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    digits = dec.as_tuple().digits
    mantissa = str(digits[0]) + (
        "." + "".join(map(str, digits[1:])).rstrip("0") if len(digits) > 1 else ""
    )
    mantissa = mantissa.rstrip(".")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def go_format(value: Any) -> str:
    """Go's ``fmt`` ``%v`` of a value decoded from JSON into ``any`` (maps sorted by key)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_float(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = " ".join(f"{k}:{go_format(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string (``strconv.Quote``) for the printable text references hold."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _frac(v: int, prec: int) -> tuple[str, int]:
    """Go ``fmtFrac``: the fraction v/10**prec without trailing zeros, and the integer part."""
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    text = "." + "".join(reversed(digits)) if printed else ""
    return text, v


def go_duration(seconds: float | int) -> str:
    """Go's ``time.Duration.String()`` of ``seconds``: ``100ms``, ``1s``, ``1.5s``,
    ``2m0s``, ``250µs``, ``0s``, ``1h2m3.5s`` (rounded to whole nanoseconds)."""
    ns = round(seconds * 1_000_000_000)
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            text = f"{u}ns"
        elif u < 1_000_000:
            frac, whole = _frac(u, 3)
            text = f"{whole}{frac}µs"
        else:
            frac, whole = _frac(u, 6)
            text = f"{whole}{frac}ms"
    else:
        frac, whole_seconds = _frac(u, 9)
        text = f"{whole_seconds % 60}{frac}s"
        minutes = whole_seconds // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            hours = minutes // 60
            if hours:
                text = f"{hours}h{text}"
    return "-" + text if neg else text


def go_query_encode(pairs: Iterable[tuple[str, str]]) -> str:
    """Go's ``url.Values.Encode``: keys sorted (values of one key keep their order)."""
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k in sorted(grouped) for v in grouped[k])


def go_json(value: Any) -> str:
    """Compact JSON exactly as Go's ``json.Marshal`` writes it (HTML-safe escaping; map keys
    in the order given)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_json_kind(value: Any) -> str:
    """How ``encoding/json`` names the kind of a decoded JSON value in its type errors:
    ``object``, ``array``, ``string``, ``number``, ``bool`` or ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return "number"


def go_unmarshal_text(kind: str, into: str, go_type: str | None = None) -> str:
    """The text of an ``encoding/json`` type error: ``json: cannot unmarshal <kind> into
    <into>``, then `` of type <go_type>`` when a type is given."""
    text = f"json: cannot unmarshal {kind} into {into}"
    return f"{text} of type {go_type}" if go_type else text


def go_platform(p: Platform) -> str:
    """``%+v`` of ggcr's ``v1.Platform`` as imgutil passes it (architecture, os, os.version)."""
    return (
        f"{{Architecture:{p.architecture} OS:{p.os} OSVersion:{p.os_version or ''} "
        "OSFeatures:[] Variant: Features:[]}"
    )
