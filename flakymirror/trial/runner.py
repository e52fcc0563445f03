"""Run one client against one incident, on a mirror of its own, and judge it from the outside.

:func:`run_trial` stands the scenario up (:class:`~flakymirror.scenario.stage.Stage`, on the
real clock for external clients), builds the cell (placeholder values, client configuration
files, a clean environment), runs the client under a timeout, reads the mirror's journal and
the origin's log (:mod:`~flakymirror.trial.observe`) and what the client ended up with, and
gives the verdict (:mod:`~flakymirror.trial.verdict`). The reference client takes its own path
(:mod:`~flakymirror.trial.reference`) on the virtual clock.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE
from flakymirror.scenario.convergence import Convergence, convergence
from flakymirror.scenario.model import Scenario
from flakymirror.trial.artifacts import serve_line
from flakymirror.trial.cell import Cell, Completed, Content, Target
from flakymirror.trial.clients import CommandClient, ReferenceClient
from flakymirror.trial.observe import observe
from flakymirror.trial.placeholders import NoValue
from flakymirror.trial.result import TrialResult
from flakymirror.trial.verdict import HARNESS_ERROR, NOT_APPLICABLE, Judgement, ideal, judge

__all__ = ["TrialOptions", "expected_verdict", "run_cell", "run_trial", "target_of"]


@dataclass(frozen=True)
class TrialOptions:
    """``timeout``: real seconds a client may run; ``time_scale``: every time in the scenario
    is divided by it for external clients; ``artifacts``: a folder to keep each cell's command,
    output and timeline in (None: keep nothing); ``tls``: serve every external cell over HTTPS
    with a generated CA (presets that need TLS get it anyway)."""

    timeout: float = 60.0
    time_scale: float = 1.0
    artifacts: Path | None = None
    journal_size: int = DEFAULT_JOURNAL_SIZE
    tls: bool = False


def target_of(scenario: Scenario, images: dict[str, Any]) -> Target:
    """The image under test, as upstream holds it."""
    from flakymirror.scenario.execute import action_image, resolve

    ref = scenario.incident_image
    image = action_image(scenario, images, ref)
    return Target.of(image, resolve(ref, scenario, images, scenario.platform), scenario.platform)


def expected_verdict(scenario: Scenario, client: Any, options: TrialOptions) -> str:
    """The ideal verdict of this cell (see :func:`~flakymirror.trial.verdict.ideal`)."""
    reference = isinstance(client, ReferenceClient)
    if scenario.origin is not None and not client.mirror_config and not isinstance(
        client, CommandClient
    ):
        return NOT_APPLICABLE
    incident = scenario.incident
    if client.manifest_only and incident.manifest_survivable is not None:
        # the file's word for clients that read only the manifest and config: at once or never
        return ideal(
            survivable=incident.manifest_survivable, converges_after=None, timeout=options.timeout
        )
    survivable = incident.survivable
    conv: Convergence = convergence(scenario)
    needs_origin = scenario.origin is not None and (scenario.mirror.down or conv.never)
    if scenario.origin is not None and client.mirror_config:
        seconds = None  # it can fall back: the origin is healthy from the start
    elif needs_origin:
        seconds = None  # and it has no way there (has_what_it_needs below)
    elif conv.never:
        survivable = False
        seconds = None
    else:
        scale = 1.0 if reference else options.time_scale
        seconds = None if conv.seconds is None else conv.seconds / scale
    return ideal(
        survivable=survivable,
        converges_after=seconds,
        timeout=options.timeout,
        has_what_it_needs=client.mirror_config or not needs_origin,
    )


def run_trial(scenario: Scenario, client: Any, options: TrialOptions | None = None) -> TrialResult:
    """One cell: ``client`` (a preset, a :class:`CommandClient` or a :class:`ReferenceClient`)
    against ``scenario``. The result's ``baseline`` is left for the caller to fill in."""
    options = options or TrialOptions()
    expected = expected_verdict(scenario, client, options)
    if isinstance(client, ReferenceClient):
        from flakymirror.trial.reference import run_reference

        target = target_of(scenario, {s.ref: s.build() for s in scenario.images})
        return run_reference(scenario, client, target, expected)
    base = {"scenario": scenario.name, "client": client.name}
    if expected == NOT_APPLICABLE:
        return TrialResult(
            **base,
            verdict=NOT_APPLICABLE,
            expected=expected,
            error=f"{client.name} has no mirror configuration: it cannot reach the origin",
        )
    try:
        return _run_external(scenario, client, options, expected)
    except NoValue as exc:
        return TrialResult(**base, verdict=NOT_APPLICABLE, expected=NOT_APPLICABLE, error=str(exc))


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    # short: podman refuses a --runroot longer than 50 characters, and presets nest under it
    path = Path(tempfile.mkdtemp(prefix="fm-", dir="/tmp" if Path("/tmp").is_dir() else None))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def base_values(mirror: str, image: str, target: Target, workdir: Path) -> dict[str, str]:
    """The placeholder values every cell has: ``{ref}``, ``{digest_ref}``, ``{platform}``,
    ``{mirror}`` and ``{workdir}`` (created here, inside the cell's folder)."""
    (workdir / "work").mkdir()
    return {
        "ref": f"{mirror}/{image}",
        "digest_ref": f"{mirror}/{target.repository}@{target.index or target.manifest}",
        "platform": target.platform,
        "mirror": mirror,
        "workdir": str(workdir / "work"),
    }


def _values(
    stage: Any, scenario: Scenario, target: Target, workdir: Path, tls: bool
) -> dict[str, str]:
    """The placeholder values of one cell (absent: no value in this scenario)."""
    from flakymirror.trial.configs import write_configs

    mirror = stage.mirror
    ref = scenario.incident_image
    values = base_values(mirror.host, stage.resolve(ref), target, workdir)
    if stage.origin_host is not None:
        values["origin"] = stage.origin_host
        values["origin_ref"] = stage.origin_ref(ref)
    auth = scenario.mirror.auth
    credentials = None
    if auth is not None and auth.client_credentials:
        credentials = (auth.username, auth.password)
        values["username"], values["password"] = credentials
    values.update(
        write_configs(
            workdir / "config",
            mirror=mirror.host,
            origin=stage.origin_host,
            ca_pem=mirror.ca_pem if tls else None,
            credentials=credentials,
        )
    )
    return values


def _run_external(
    scenario: Scenario, client: Any, options: TrialOptions, expected: str
) -> TrialResult:
    from flakymirror.scenario.stage import Stage, StageOptions
    from flakymirror.trial.environment import clean_env

    auth_kind = scenario.mirror.auth.kind if scenario.mirror.auth is not None else None
    needs_tls = getattr(client, "needs_tls", None)
    tls = options.tls or bool(needs_tls is not None and needs_tls(auth_kind))
    stage_options = StageOptions(
        clock="real",
        time_scale=options.time_scale,
        tls=tls,
        journal_size=options.journal_size,
    )
    with _workdir() as workdir, Stage(scenario, stage_options) as stage:
        target = target_of(scenario, stage.images)
        values = _values(stage, scenario, target, workdir, tls)
        cell = Cell(
            workdir=workdir,
            values=values,
            target=target,
            env=clean_env(workdir),
            timeout=options.timeout,
            origin=scenario.origin is not None,
            auth=auth_kind,
            tls=tls,
        )
        # an in-process origin's request log; an [origin] url registry cannot be observed
        in_process = stage.origin_url is not None and stage.upstream.is_running()
        origin_server = stage.upstream.server if in_process else None
        return run_cell(
            scenario.name, client, cell, stage.mirror, origin_server, expected, options,
            scenario=scenario,
        )  # fmt: skip


def run_cell(
    label: str,
    client: Any,
    cell: Cell,
    mirror: Any,
    origin_server: Any,
    expected: str,
    options: TrialOptions,
    *,
    scenario: Scenario | None = None,
) -> TrialResult:
    """Run ``client`` in ``cell`` against a running ``mirror`` (and the origin's server, whose
    log is read; None: no origin, or one that cannot be observed) and judge it from the
    requests this run added to the mirror's journal and the origin's log."""
    journal = mirror.journal
    first_seq = len(journal) + journal.dropped + 1
    dropped_before = journal.dropped
    totals_before = journal.totals()
    origin_mark = len(origin_server.log) if origin_server is not None else 0
    t0 = time.time()
    completed, content = _execute(client, cell)
    entries = journal.settled(first_seq)
    origin_entries = (
        list(origin_server.log)[origin_mark:] if origin_server is not None else None
    )
    totals = journal.totals()
    totals.subtract(totals_before)
    observations = observe(
        entries,
        origin_entries,
        cell.target,
        t0=t0,
        dropped=journal.dropped - dropped_before,
        totals=+totals,
    )
    judgement = judge(
        completed, observations, content, cell.target, manifest_only=client.manifest_only
    )
    errors = list(mirror.server.handler_errors)
    if errors:
        judgement = Judgement(
            HARNESS_ERROR, f"the mirror raised {type(errors[0]).__name__}: {errors[0]}"
        )
    result = TrialResult(
        scenario=label,
        client=client.name,
        verdict=judgement.verdict,
        expected=expected,
        reason=judgement.reason,
        exit_code=completed.exit_code,
        attempts=observations.attempts,
        gaps=observations.gaps,
        wall_s=completed.wall,
        origin_requests=observations.origin_requests,
        fell_back_at=observations.fell_back_at,
        kept_partial=judgement.kept_partial,
        requests=dict(observations.requests),
        command=completed.argv,
        timeline=tuple(seen.line() for seen in observations.timeline),
        output=_tail(completed),
    )
    if options.artifacts is not None:
        from flakymirror.trial.artifacts import write_artifacts

        result = write_artifacts(
            options.artifacts, label, result, completed, observations, content,
            serve=None if scenario is None else serve_line(scenario, options),
        )  # fmt: skip
    return result


def _tail(completed: Completed, lines: int = 20) -> str:
    """The last lines of the client's stderr, then stdout."""
    out = []
    for name, text in (("stderr", completed.stderr), ("stdout", completed.stdout)):
        if text.strip():
            out.append(f"[{name}]")
            out.extend(text.rstrip("\n").splitlines()[-lines:])
    return "\n".join(out)


def _execute(client: Any, cell: Cell) -> tuple[Completed, Content]:
    """Run the client's command in the cell; what it did and what it ended up with."""
    from flakymirror.trial.process import run

    if isinstance(client, CommandClient):
        argv = client.template.render(cell.values)
        completed = run(argv, cell.env, cell.timeout, cwd=cell.workdir)
        return completed, Content.unreadable("a command template: its output is not read")
    with client.session(cell) as session:
        completed = run(session.argv, session.env, cell.timeout, cwd=cell.workdir)
        return completed, session.read(completed)
