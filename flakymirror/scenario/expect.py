"""The ``[expect]`` table: what the reference client must observe, read into
:class:`~flakymirror.scenario.model.Expectations`."""

from __future__ import annotations

from flakymirror.mirror.forms import Form, FormError, suggest
from flakymirror.scenario.fields import check_number, check_str
from flakymirror.scenario.model import (
    ENDPOINT_KINDS,
    HTTP_METHODS,
    OUTCOMES,
    Elapsed,
    Expectations,
    Sleeps,
)

__all__ = ["read_expect"]


def read_expect(t: Form) -> Expectations:
    """The ``[expect]`` table; every key but ``outcome`` is optional."""
    outcome = t.string("outcome", choices=OUTCOMES)
    error = t.string("error", None)
    contains = t.array("error_contains", check_str, (), accept_single=True)
    exit_code = t.integer("exit_code", None)
    if outcome == "success":
        for key, value in (
            ("error", error),
            ("error_contains", contains or None),
            ("exit_code", exit_code),
        ):
            if value is not None:
                raise FormError(t.key(key), 'contradicts outcome = "success"')
    status = t.integer("status", None)
    if status is not None and status != 0 and not 100 <= status <= 599:
        raise FormError(t.key("status"), f"must be an HTTP status (100-599) or 0, got {status}")
    expect = Expectations(
        outcome=outcome,
        error=error,
        error_contains=contains,
        exit_code=exit_code,
        status=status,
        attempts=t.integer("attempts", None, minimum=1),
        logs=t.array("logs", check_str, None),
        top_layer=t.string("top_layer", None),
        sleeps=_sleeps(t.table("sleeps")),
        requests=_requests(t.table("requests")),
        elapsed=_elapsed(t.table("elapsed")),
    )
    t.done()
    return expect


def _sleeps(t: Form | None) -> Sleeps:
    if t is None:
        return Sleeps()
    sleeps = Sleeps(
        opener=t.array("opener", check_number, None),
        transport=t.array("transport", check_number, None),
        jitter=t.number("jitter", 0.0),
        tolerance=t.number("tolerance", 1e-6),
    )
    t.done()
    return sleeps


def _requests(t: Form | None) -> tuple[tuple[str, int], ...]:
    if t is None:
        return ()
    counts = []
    for key in t.data:
        method, _, kind = key.rpartition(" ")
        if kind not in ENDPOINT_KINDS:
            raise FormError(
                t.key(key),
                f"unknown endpoint kind {kind!r} (known: {', '.join(ENDPOINT_KINDS)})"
                + suggest(kind, ENDPOINT_KINDS),
                got=kind,
                choices=ENDPOINT_KINDS,
            )
        if method and method not in HTTP_METHODS:
            raise FormError(
                t.key(key), f"unknown method {method!r} (use one of {', '.join(HTTP_METHODS)})"
            )
        counts.append((key, t.integer(key)))
    t.done()
    return tuple(counts)


def _elapsed(t: Form | None) -> Elapsed:
    if t is None:
        return Elapsed()
    elapsed = Elapsed(
        min=t.number("min", None), max=t.number("max", None), wall_max=t.number("wall_max", None)
    )
    if elapsed.min is not None and elapsed.max is not None and elapsed.min > elapsed.max:
        raise FormError(t.key("max"), f"is below min ({elapsed.max:g} < {elapsed.min:g})")
    t.done()
    return elapsed
