"""The smoke matrix of ``make test``: a few incidents × real clients and the reference, on the
compressed real clock, each cell against the bundled baseline (the whole library runs in CI as
``make matrix-check``)."""

from __future__ import annotations

import pytest

from flakymirror.scenario import load_scenario
from flakymirror.trial import TrialOptions, load_baseline, parse_clients, run_matrix
from flakymirror.trial.render import render_text
from tests.helpers.optional_tools import require_binary

#: One incident per kind of outcome: taken silently, survived by falling back, resumed by some
#: clients and fatal to others, retried past by some.
INCIDENTS = (
    "lifecycle-1674-empty-layers",
    "mirror-down-with-origin",
    "harbor-23600-truncated-layer",
    "harbor-22747-manifest-blob-unknown-window",
)
CLIENTS = ("skopeo-copy", "podman-pull", "ctr-pull", "reference:ggcr-v0.21.9")


@pytest.mark.real_client
def test_smoke_matrix_holds_its_baseline():
    for binary in ("skopeo", "podman", "ctr", "containerd"):
        require_binary(binary)
    matrix = run_matrix(
        [load_scenario(name) for name in INCIDENTS],
        parse_clients(list(CLIENTS)),
        TrialOptions(timeout=30, time_scale=10),
        baseline=load_baseline(),
    )
    assert matrix.holds, "\n" + render_text(matrix)
    verdicts = {(r.scenario, r.client): r.verdict for r in matrix.results}
    # the facts the matrix exists to show
    assert verdicts[("lifecycle-1674-empty-layers", "skopeo-copy")] == "failed-silent"
    assert verdicts[("lifecycle-1674-empty-layers", "reference:ggcr-v0.21.9")] == "survived"
    assert verdicts[("mirror-down-with-origin", "ctr-pull")] == "survived"
    assert verdicts[("harbor-23600-truncated-layer", "ctr-pull")] == "survived"
    assert verdicts[("harbor-23600-truncated-layer", "podman-pull")] == "failed-loud"
    fallback = next(r for r in matrix.results
                    if (r.scenario, r.client) == ("mirror-down-with-origin", "podman-pull"))  # fmt: skip
    assert fallback.origin_requests and fallback.fell_back_at is not None
