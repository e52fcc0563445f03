"""Any client under test: run a client against an incident and judge it from the outside.

A *trial* stands a scenario up on a mirror of its own (:class:`~flakymirror.scenario.stage.
Stage`), runs a client against it — a preset (skopeo, podman, buildah, containerd's ``ctr``,
oras-py, python-dxf), a command template of your own, or flakymirror's reference client — and
gives a verdict (``survived``, ``failed-loud``, ``failed-silent``, ``hung``, ``harness-error``,
``n/a``) from the mirror's journal, the origin's log and what the client ended up with. The
matrix is many trials, judged against a baseline of known verdicts::

    from flakymirror.scenario import load_scenario
    from flakymirror.trial import parse_client, run_trial

    result = run_trial(load_scenario("lifecycle-1674-empty-layers"), parse_client("skopeo-copy"))
    print(result.verdict, result.expected, result.reason)
"""

from flakymirror.trial.baseline import Baseline, BaselineEntry, load_baseline
from flakymirror.trial.cell import Cell, Completed, Content, Target
from flakymirror.trial.clients import (
    ClientError,
    CommandClient,
    ReferenceClient,
    parse_client,
    parse_clients,
)
from flakymirror.trial.matrix import Matrix, run_matrix
from flakymirror.trial.placeholders import PLACEHOLDERS, NoValue, Template, TemplateError
from flakymirror.trial.result import TrialResult
from flakymirror.trial.runner import TrialOptions, run_trial
from flakymirror.trial.verdict import (
    FAILED_LOUD,
    FAILED_SILENT,
    HARNESS_ERROR,
    HUNG,
    NOT_APPLICABLE,
    SURVIVED,
    VERDICTS,
    Judgement,
)

__all__ = [
    "FAILED_LOUD",
    "FAILED_SILENT",
    "HARNESS_ERROR",
    "HUNG",
    "NOT_APPLICABLE",
    "PLACEHOLDERS",
    "SURVIVED",
    "VERDICTS",
    "Baseline",
    "BaselineEntry",
    "Cell",
    "ClientError",
    "CommandClient",
    "Completed",
    "Content",
    "Judgement",
    "Matrix",
    "NoValue",
    "ReferenceClient",
    "Target",
    "Template",
    "TemplateError",
    "TrialOptions",
    "TrialResult",
    "load_baseline",
    "parse_client",
    "parse_clients",
    "run_matrix",
    "run_trial",
]
