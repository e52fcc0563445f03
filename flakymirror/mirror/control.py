"""The control API under ``/_flakymirror/`` (JSON in, JSON out), for non-Python clients.

============  ===========================  =================================================
method        path                         body / answer
============  ===========================  =================================================
GET           /_flakymirror/state          plans, faults (+ counters), clock, journal size,
                                           tracked images and their sync state
GET/PUT/POST  /_flakymirror/plan           a plan table or a list of them (POST = PUT)
GET/POST      /_flakymirror/faults         a rule table or a list of them; answers the
                                           indexes of the added rules
DELETE        /_flakymirror/faults         remove every rule
GET           /_flakymirror/clock          the clock: kind, start, ``now``, ``t``, sleeps
POST          /_flakymirror/clock/advance  ``{"seconds": x}`` (virtual clock only; at most
                                           ten years at a time); answers the clock
GET           /_flakymirror/journal        ``?kind=&repo=&method=&reference=&status=``
                                           filters, ``format=text`` for a readable timeline
POST          /_flakymirror/reset          back to the mirror's initial state
============  ===========================  =================================================

Bad input answers ``400 {"error": "<key path>: <what is wrong>", "field": "<key path>"}``;
the mirror keeps serving.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from flakymirror.mirror._forms import MAX_SECONDS, FormError, number
from flakymirror.mirror.faults import rules_from_dict
from flakymirror.mirror.plans import plans_from_dict

if TYPE_CHECKING:
    from flakymirror.mirror.mirror import FlakyMirror

__all__ = ["ControlAPI"]

BODY_LIMIT = 1 << 20
#: Deepest JSON nesting a control body may have (a fault rule needs about 8 levels).
MAX_DEPTH = 32
_STATUS = re.compile(r"[0-9]{1,9}")


def _depth_over(doc: Any, limit: int) -> bool:
    """Whether ``doc`` nests lists/objects deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class _BadInput(Exception):  # noqa: N818
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.status = status


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, indent=1) + "\n", status, content_type="application/json")


class ControlAPI:
    """WSGI callable for the control endpoints of ``mirror``."""

    def __init__(self, mirror: FlakyMirror) -> None:
        self.mirror = mirror
        self.routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "state": {"GET": self.get_state},
            "plan": {"GET": self.get_plan, "PUT": self.put_plan, "POST": self.put_plan},
            "faults": {
                "GET": self.get_faults,
                "POST": self.post_faults,
                "DELETE": self.delete_faults,
            },
            "clock/advance": {"POST": self.advance},
            "clock": {"GET": self.get_clock},
            "journal": {"GET": self.get_journal},
            "reset": {"POST": self.reset},
        }

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Route one control request; bad input answers 400 naming the field."""
        request = Request(environ)
        name = request.path[len("/_flakymirror/") :].strip("/")
        try:
            handlers = self.routes.get(name)
            if handlers is None:
                raise _BadInput(
                    "path",
                    f"unknown control endpoint {request.path!r} "
                    f"(known: {', '.join('/_flakymirror/' + r for r in self.routes)})",
                    404,
                )
            handler = handlers.get(request.method)
            if handler is None:
                raise _BadInput(
                    "method",
                    f"{request.method} is not allowed on {request.path} "
                    f"(allowed: {', '.join(handlers)})",
                    405,
                )
            response = handler(request)
        except _BadInput as exc:
            response = _json({"error": str(exc), "field": exc.field}, exc.status)
        except FormError as exc:
            response = _json({"error": str(exc), "field": exc.path}, 400)
        return response(environ, start_response)

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> Any:
        length = request.content_length
        if length is not None and length > BODY_LIMIT:
            raise _BadInput("body", f"request body over {BODY_LIMIT} bytes")
        raw = request.stream.read(BODY_LIMIT + 1)
        if len(raw) > BODY_LIMIT:
            raise _BadInput("body", f"request body over {BODY_LIMIT} bytes")
        try:
            doc = json.loads(raw or b"null")
        except RecursionError:
            raise _BadInput("body", f"JSON nested deeper than {MAX_DEPTH} levels") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise _BadInput("body", f"not valid JSON: {exc}") from None
        if _depth_over(doc, MAX_DEPTH):
            raise _BadInput("body", f"JSON nested deeper than {MAX_DEPTH} levels")
        return doc

    # -- endpoints -----------------------------------------------------------------------------
    def get_state(self, request: Request) -> Response:
        """``GET /_flakymirror/state``: :meth:`FlakyMirror.state`."""
        return _json(self.mirror.state())

    def get_plan(self, request: Request) -> Response:
        """``GET /_flakymirror/plan``: ``{"plans": [...]}``."""
        return _json({"plans": [p.to_dict() for p in self.mirror.plans]})

    def put_plan(self, request: Request) -> Response:
        """``PUT``/``POST /_flakymirror/plan``: replace the plans; answers them."""
        data = self._body(request)
        if data is None:
            raise _BadInput("body", "expected a plan table or a list of plan tables")
        plans = plans_from_dict(data, "plan" if isinstance(data, dict) else "plans")
        self.mirror.set_plan(list(plans))
        return _json({"plans": [p.to_dict() for p in plans]})

    def get_faults(self, request: Request) -> Response:
        """``GET /_flakymirror/faults``: the rules with their ``seen``/``applied`` counters."""
        return _json(self.mirror.state()["faults"])

    def post_faults(self, request: Request) -> Response:
        """``POST /_flakymirror/faults``: add a rule or a list; answers their indexes."""
        data = self._body(request)
        if data is None:
            raise _BadInput("body", "expected a fault rule table or a list of them")
        rules = rules_from_dict(data, "fault" if isinstance(data, dict) else "faults")
        first = len(self.mirror.faults.rules)
        for rule in rules:
            self.mirror.add_fault(rule)
        return _json({"added": list(range(first, first + len(rules)))}, 201)

    def delete_faults(self, request: Request) -> Response:
        """``DELETE /_flakymirror/faults``: remove every rule."""
        self.mirror.clear_faults()
        return _json({"faults": []})

    def get_clock(self, request: Request) -> Response:
        """``GET /_flakymirror/clock``: kind, start, ``now``, ``t`` and recorded sleeps."""
        return _json(self.mirror.state()["clock"])

    def advance(self, request: Request) -> Response:
        """``POST /_flakymirror/clock/advance``: move a virtual clock on; answers the clock."""
        data = self._body(request)
        if not isinstance(data, dict):
            raise _BadInput("body", 'expected {"seconds": <number>}')
        unknown = set(data) - {"seconds"}
        if unknown:
            raise _BadInput(
                sorted(unknown)[0], f"unknown key {sorted(unknown)[0]!r} (allowed: seconds)"
            )
        if "seconds" not in data:
            raise _BadInput("seconds", "missing required key")
        seconds = number(data["seconds"], "seconds", minimum=0, maximum=MAX_SECONDS)
        clock = self.mirror.clock
        if not clock.virtual:
            raise _BadInput(
                "clock", "the mirror runs on a real clock; only a virtual clock advances"
            )
        try:
            clock.advance(seconds)  # type: ignore[attr-defined]
        except ValueError as exc:  # it would pass the virtual clock's last moment
            raise _BadInput("seconds", str(exc)) from None
        return _json(self.mirror.state()["clock"])

    def get_journal(self, request: Request) -> Response:
        """``GET /_flakymirror/journal``: entries as JSON, or a text timeline, filtered."""
        criteria: dict[str, Any] = {}
        for key in ("kind", "repo", "method", "reference"):
            if key in request.args:
                criteria[key] = request.args[key]
        if "status" in request.args:
            raw = request.args["status"]
            if not _STATUS.fullmatch(raw):
                raise _BadInput("status", f"expected an integer status, got {raw[:50]!r}")
            criteria["status"] = int(raw)
        unknown = set(request.args) - {"kind", "repo", "method", "reference", "status", "format"}
        if unknown:
            raise _BadInput(sorted(unknown)[0], "unknown journal filter")
        journal = self.mirror.journal
        fmt = request.args.get("format", "json")
        if fmt not in ("json", "text"):
            raise _BadInput("format", f"{fmt!r} is not one of 'json', 'text'")
        if fmt == "text":
            return Response(journal.timeline(**criteria) + "\n", content_type="text/plain")
        return _json({"dropped": journal.dropped, "entries": journal.to_list(**criteria)})

    def reset(self, request: Request) -> Response:
        """``POST /_flakymirror/reset``: :meth:`FlakyMirror.reset`; answers the new state."""
        self.mirror.reset()
        return _json(self.mirror.state())
