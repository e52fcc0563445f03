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
GET           /_flakymirror/journal        ``?kind=&repo=&method=&reference=&status=&fault=``
                                           filters, ``format=text`` for a readable timeline
GET/PUT       /_flakymirror/listener       ``{"up": bool, "url": ...}``; PUT ``{"up": false}``
                                           takes the client-facing listener down (needs a
                                           control listener of its own: ``control_port``)
POST          /_flakymirror/reset          back to the mirror's initial state
============  ===========================  =================================================

Bad input answers ``400 {"error": "<key path>: <what is wrong>", "field": "<key path>"}``;
the mirror keeps serving.

Layers above the mirror add endpoints with :meth:`ControlAPI.register` (e.g. the scenario
layer's ``POST /_flakymirror/scenario``); their handlers take a werkzeug ``Request``, read it
with :func:`read_json` / :func:`read_text`, answer with :func:`json_response`, and raise
:class:`ControlError` for bad input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from flakymirror.mirror.control_guard import check_sender, check_write
from flakymirror.mirror.faults import rules_from_dict
from flakymirror.mirror.forms import MAX_SECONDS, Form, FormError, one_of
from flakymirror.mirror.journal import JournalQueryError
from flakymirror.mirror.plans import plans_from_dict
from flakymirror.registry.query import query_problem

if TYPE_CHECKING:
    from flakymirror.mirror.mirror import FlakyMirror

__all__ = [
    "BODY_LIMIT",
    "METHODS",
    "ControlAPI",
    "ControlError",
    "Handler",
    "json_response",
    "read_json",
    "read_text",
]

PREFIX = "/_flakymirror/"
BODY_LIMIT = 1 << 20
#: Deepest JSON nesting a control body may have (a fault rule needs about 8 levels).
MAX_DEPTH = 32
#: Methods a control endpoint may answer.
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")
_STATUS = re.compile(r"[0-9]{1,9}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*")

#: A control endpoint handler: a werkzeug request in, a response out.
Handler = Callable[[Request], Response]


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


class ControlError(Exception):
    """Raise from a control handler to answer ``{"error": "<field>: <message>", "field":
    <field>}`` with ``status`` (400 by default); the mirror keeps serving."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.status = status


def json_response(doc: Any, status: int = 200) -> Response:
    """A control-API answer: ``doc`` as JSON indented by one space, with ``status``."""
    return Response(json.dumps(doc, indent=1) + "\n", status, content_type="application/json")


def _raw_body(request: Request) -> bytes:
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        raise ControlError("body", f"request body over {BODY_LIMIT} bytes")
    raw = request.stream.read(BODY_LIMIT + 1)
    if len(raw) > BODY_LIMIT:
        raise ControlError("body", f"request body over {BODY_LIMIT} bytes")
    return raw


def read_json(request: Request) -> Any:
    """The request body as JSON (an empty body is ``None``); a body over :data:`BODY_LIMIT`
    bytes, nested deeper than :data:`MAX_DEPTH` or not JSON is a :class:`ControlError` on
    ``body``."""
    raw = _raw_body(request)
    try:
        doc = json.loads(raw or b"null")
    except RecursionError:
        raise ControlError("body", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlError("body", f"not valid JSON: {exc}") from None
    if _depth_over(doc, MAX_DEPTH):
        raise ControlError("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    return doc


def read_text(request: Request) -> str:
    """The request body as UTF-8 text (e.g. TOML), with the same size limit as
    :func:`read_json`; a body that is not UTF-8 is a :class:`ControlError` on ``body``."""
    raw = _raw_body(request)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ControlError("body", f"not UTF-8 text: {exc}") from None


class ControlAPI:
    """WSGI callable for the control endpoints of ``mirror`` (under ``/_flakymirror/``);
    :meth:`register` adds endpoints."""

    def __init__(self, mirror: FlakyMirror, *, token: str | None = None) -> None:
        self.mirror = mirror
        #: When set, every control request must carry it (see :mod:`.control_guard`).
        self.token = token
        self.routes: dict[str, dict[str, Handler]] = {
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
            "listener": {"GET": self.get_listener, "PUT": self.put_listener},
            "reset": {"POST": self.reset},
        }

    def register(self, name: str, handlers: dict[str, Handler]) -> None:
        """Serve ``/_flakymirror/<name>`` with ``handlers`` (method → ``handler(request) ->
        Response``), e.g. ``register("scenario", {"POST": load})``. ``name`` is lower-case
        words (``a-z0-9_-``, ``/`` between them); a name already served, an unknown method or
        a handler that is not callable is a ``ValueError``. The name shows in the 404 message
        that lists the endpoints."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"control endpoint name must be lower-case words (a-z0-9_-, '/' between), "
                f"got {name!r}"
            )
        if name in self.routes:
            raise ValueError(f"control endpoint {PREFIX}{name} is already registered")
        if not isinstance(handlers, dict) or not handlers:
            raise ValueError(
                f"handlers must be a non-empty dict of method -> handler, got {handlers!r}"
            )
        for method, handler in handlers.items():
            if method not in METHODS:
                raise ValueError(
                    f"{method!r} is not a control method (known: {', '.join(METHODS)})"
                )
            if not callable(handler):
                raise ValueError(f"the {method} handler of {name!r} is not callable: {handler!r}")
        self.routes[name] = dict(handlers)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Route one control request; bad input answers 400 naming the field."""
        request = Request(environ)
        path = request.path
        name = path[len(PREFIX) :].strip("/") if path.startswith(PREFIX) else None
        try:
            problem = query_problem(request.query_string)
            if problem is not None:
                raise ControlError("query", problem, 400)
            refused = check_sender(environ, self.token)
            if refused is not None:
                raise ControlError(*refused)
            handlers = self.routes.get(name) if name is not None else None
            if handlers is None:
                raise ControlError(
                    "path",
                    f"unknown control endpoint {path[:200]!r} "
                    f"(known: {', '.join(PREFIX + r for r in self.routes)})",
                    404,
                )
            handler = handlers.get(request.method)
            if handler is None:
                raise ControlError(
                    "method",
                    f"{request.method} is not allowed on {request.path} "
                    f"(allowed: {', '.join(handlers)})",
                    405,
                )
            refused = check_write(request.method, name or "", request.mimetype)
            if refused is not None:
                raise ControlError(*refused)
            response = handler(request)
        except ControlError as exc:
            response = json_response({"error": str(exc), "field": exc.field}, exc.status)
        except FormError as exc:
            response = json_response({"error": str(exc), "field": exc.path}, 400)
        except JournalQueryError as exc:
            response = json_response({"error": str(exc), "field": exc.field}, 400)
        return response(environ, start_response)

    # -- endpoints -----------------------------------------------------------------------------
    def get_state(self, request: Request) -> Response:
        """``GET /_flakymirror/state``: :meth:`FlakyMirror.state`."""
        return json_response(self.mirror.state())

    def get_plan(self, request: Request) -> Response:
        """``GET /_flakymirror/plan``: ``{"plans": [...]}``."""
        return json_response({"plans": [p.to_dict() for p in self.mirror.plans]})

    def put_plan(self, request: Request) -> Response:
        """``PUT``/``POST /_flakymirror/plan``: replace the plans; answers them."""
        data = read_json(request)
        if data is None:
            raise ControlError("body", "expected a plan table or a list of plan tables")
        plans = plans_from_dict(data, "plan" if isinstance(data, dict) else "plans")
        self.mirror.set_plan(list(plans))
        return json_response({"plans": [p.to_dict() for p in plans]})

    def get_faults(self, request: Request) -> Response:
        """``GET /_flakymirror/faults``: the rules with their ``seen``/``applied`` counters."""
        return json_response(self.mirror.state()["faults"])

    def post_faults(self, request: Request) -> Response:
        """``POST /_flakymirror/faults``: add a rule or a list; answers their indexes."""
        data = read_json(request)
        if data is None:
            raise ControlError("body", "expected a fault rule table or a list of them")
        rules = rules_from_dict(data, "fault" if isinstance(data, dict) else "faults")
        first = len(self.mirror.faults.rules)
        for rule in rules:
            self.mirror.add_fault(rule)
        return json_response({"added": list(range(first, first + len(rules)))}, 201)

    def delete_faults(self, request: Request) -> Response:
        """``DELETE /_flakymirror/faults``: remove every rule."""
        self.mirror.clear_faults()
        return json_response({"faults": []})

    def get_clock(self, request: Request) -> Response:
        """``GET /_flakymirror/clock``: kind, start, ``now``, ``t`` and recorded sleeps."""
        return json_response(self.mirror.state()["clock"])

    def advance(self, request: Request) -> Response:
        """``POST /_flakymirror/clock/advance``: move a virtual clock on; answers the clock."""
        data = read_json(request)
        if not isinstance(data, dict):
            raise ControlError("body", 'expected {"seconds": <number>}')
        seconds = Form(data, allowed={"seconds"}).number("seconds", maximum=MAX_SECONDS)
        clock = self.mirror.clock
        if not clock.virtual:
            raise ControlError(
                "clock", "the mirror runs on a real clock; only a virtual clock advances"
            )
        try:
            clock.advance(seconds)  # type: ignore[attr-defined]
        except ValueError as exc:  # it would pass the virtual clock's last moment
            raise ControlError("seconds", str(exc)) from None
        return json_response(self.mirror.state()["clock"])

    def get_journal(self, request: Request) -> Response:
        """``GET /_flakymirror/journal``: entries as JSON, or a text timeline, filtered.

        Every query parameter but ``format`` is a journal criterion, checked by the journal: an
        unknown kind or filter name, or a ``status`` that is no integer, is a 400 naming it
        (with a "did you mean" where one is close). ``fault`` is ``true`` or ``false``."""
        criteria: dict[str, Any] = {}
        for key, raw in request.args.items():
            if key == "format":
                continue
            value: Any = raw[:200]
            if key == "status" and _STATUS.fullmatch(raw):
                value = int(raw)
            elif key == "fault" and raw in ("true", "false"):
                value = raw == "true"
            criteria[key] = value
        journal = self.mirror.journal
        fmt = one_of(request.args.get("format", "json")[:50], ("json", "text"), "format")
        if fmt == "text":
            return Response(journal.timeline(**criteria) + "\n", content_type="text/plain")
        return json_response({"dropped": journal.dropped, "entries": journal.to_list(**criteria)})

    def get_listener(self, request: Request) -> Response:
        """``GET /_flakymirror/listener``: ``{"up": bool, "url": <the mirror's URL>}``."""
        return json_response(self._listener())

    def put_listener(self, request: Request) -> Response:
        """``PUT /_flakymirror/listener`` with ``{"up": false}`` / ``{"up": true}``: take the
        client-facing listener down / bring it back on the same port; answers the listener.
        Needs a control listener of its own (``control_port``, ``serve --control-port``):
        otherwise taking the listener down would take this API with it (400)."""
        data = read_json(request)
        if not isinstance(data, dict):
            raise ControlError("body", 'expected {"up": true|false}')
        up = Form(data, allowed={"up"}).boolean("up")
        m = self.mirror
        if up:
            try:
                m.bring_up()
            except OSError as exc:
                raise ControlError("up", str(exc), 409) from None
        elif m.control_server is None:
            raise ControlError(
                "up",
                "the control API shares the mirror's port, so taking the listener down would "
                "take the control API with it: needs --control-port (FlakyMirror(control_port=...))",
            )
        else:
            m.take_down()
        return json_response(self._listener())

    def _listener(self) -> dict[str, Any]:
        return {"up": self.mirror.is_up, "url": self.mirror.url}

    def reset(self, request: Request) -> Response:
        """``POST /_flakymirror/reset``: :meth:`FlakyMirror.reset`; answers the new state."""
        self.mirror.reset()
        return json_response(self.mirror.state())
