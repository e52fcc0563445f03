"""Check a scenario's expectations against what a replay observed.

:func:`check` is pure: it compares :class:`~flakymirror.scenario.model.Expectations` with a
:class:`~flakymirror.scenario.result.ScenarioResult` and lists every expectation that did not
hold, each with its key in the scenario file, the expected and the observed value.
"""

from __future__ import annotations

from collections.abc import Sequence

from flakymirror.scenario.model import Expectations, Sleeps
from flakymirror.scenario.report import duration
from flakymirror.scenario.result import Failure, ScenarioResult

__all__ = ["check", "sleeps_match"]


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(duration(v) for v in values) + "]"


def sleeps_match(
    expected: Sequence[float], actual: Sequence[float], *, jitter: float, tolerance: float
) -> str | None:
    """None when ``actual`` matches ``expected``, else why not.

    Each actual sleep must lie in ``[e - tolerance, e * (1 + jitter) + tolerance]``.
    """
    if len(expected) != len(actual):
        return f"expected {len(expected)} sleeps {_fmt(expected)}, got {len(actual)} {_fmt(actual)}"
    for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
        low, high = e - tolerance, e * (1 + jitter) + tolerance
        if not low <= a <= high:
            band = duration(e) if not jitter else f"{duration(e)}..{duration(e * (1 + jitter))}"
            return f"sleep {i + 1} was {duration(a)}, expected {band}: got {_fmt(actual)}"
    return None


def _check_sleeps(s: Sleeps, r: ScenarioResult, out: list[Failure]) -> None:
    if s.opener is not None:
        why = sleeps_match(s.opener, r.opener_sleeps, jitter=0.0, tolerance=s.tolerance)
        if why:
            out.append(Failure("expect.sleeps.opener", list(s.opener), list(r.opener_sleeps), why))
    if s.transport is not None:
        why = sleeps_match(s.transport, r.transport_sleeps, jitter=s.jitter, tolerance=s.tolerance)
        if why:
            out.append(
                Failure("expect.sleeps.transport", list(s.transport), list(r.transport_sleeps), why)
            )


def check(expect: Expectations, r: ScenarioResult) -> tuple[Failure, ...]:
    """Every expectation of ``expect`` that ``r`` does not satisfy (empty: all held)."""
    out: list[Failure] = []

    def fail(key: str, expected: object, actual: object, message: str) -> None:
        out.append(Failure(key, expected, actual, message))

    if r.outcome != expect.outcome:
        fail("expect.outcome", expect.outcome, r.outcome,
             f"expected {expect.outcome}, got {r.outcome_text()}")  # fmt: skip
    if expect.error is not None and r.error != expect.error:
        fail("expect.error", expect.error, r.error,
             f"expected error {expect.error!r}, got {r.error!r}")  # fmt: skip
    for i, part in enumerate(expect.error_contains):
        if r.error is None or part not in r.error:
            fail(f"expect.error_contains[{i}]", part, r.error,
                 f"error {r.error!r} does not contain {part!r}")  # fmt: skip
    if expect.exit_code is not None and r.exit_code != expect.exit_code:
        fail("expect.exit_code", expect.exit_code, r.exit_code,
             f"expected exit code {expect.exit_code}, got {r.exit_code}")  # fmt: skip
    if expect.status is not None and (r.status or 0) != expect.status:
        fail("expect.status", expect.status, r.status or 0,
             f"expected a transport error with status {expect.status} in the error chain, "
             f"got {r.status or 'none'}")  # fmt: skip
    if expect.attempts is not None and r.attempts != expect.attempts:
        fail("expect.attempts", expect.attempts, r.attempts,
             f"expected {expect.attempts} attempts, got {r.attempts}")  # fmt: skip
    if expect.logs is not None and tuple(expect.logs) != tuple(r.logs):
        fail("expect.logs", list(expect.logs), list(r.logs),
             _first_difference(expect.logs, r.logs))  # fmt: skip
    if expect.top_layer is not None and r.top_layer != expect.top_layer:
        fail("expect.top_layer", expect.top_layer, r.top_layer,
             f"expected top layer {expect.top_layer}, got {r.top_layer}")  # fmt: skip
    _check_sleeps(expect.sleeps, r, out)
    for key, n in expect.requests:
        seen = r.request_count(key)
        if seen != n:
            fail(f"expect.requests.{_quote(key)}", n, seen,
                 f"expected {n} {key} requests, got {seen}")  # fmt: skip
    el = expect.elapsed
    if el.min is not None and r.elapsed < el.min - 1e-9:
        fail("expect.elapsed.min", el.min, r.elapsed,
             f"mirror clock advanced {r.elapsed:.3f}s, expected at least {el.min:g}s")  # fmt: skip
    if el.max is not None and r.elapsed > el.max + 1e-9:
        fail("expect.elapsed.max", el.max, r.elapsed,
             f"mirror clock advanced {r.elapsed:.3f}s, expected at most {el.max:g}s")  # fmt: skip
    if el.wall_max is not None and r.wall > el.wall_max:
        fail("expect.elapsed.wall_max", el.wall_max, r.wall,
             f"took {r.wall:.3f}s of wall time, expected at most {el.wall_max:g}s")  # fmt: skip
    return tuple(out)


def _quote(key: str) -> str:
    return key if " " not in key else f'"{key}"'


def _first_difference(expected: Sequence[str], actual: Sequence[str]) -> str:
    for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
        if e != a:
            return f"log line {i + 1}: expected {e!r}, got {a!r}"
    if len(expected) > len(actual):
        return f"missing log line {len(actual) + 1}: {expected[len(actual)]!r}"
    return f"unexpected log line {len(expected) + 1}: {actual[len(expected)]!r}"
