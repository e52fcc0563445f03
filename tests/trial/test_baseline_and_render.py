"""The baseline file (known verdicts) and the matrix's text, Markdown and JSON forms."""

from __future__ import annotations

import json

import pytest

from flakymirror.scenario import ScenarioError
from flakymirror.trial.baseline import BUNDLED, load_baseline
from flakymirror.trial.matrix import Matrix
from flakymirror.trial.render import cell_text, render_json, render_markdown, render_text
from flakymirror.trial.result import TrialResult


def write(tmp_path, text, name="b.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_entries_are_read_and_later_files_win(tmp_path):
    a = write(tmp_path, '[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "failed-silent"\n'
              'reason = "takes the empty manifest"\n', "a.toml")  # fmt: skip
    b = write(tmp_path, '[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "failed-loud"\n'
              'reason = "newer"\n', "b.toml")  # fmt: skip
    base = load_baseline([a, b], bundled=False)
    assert len(base) == 1
    assert base.get("s", "c").verdict == "failed-loud" and base.get("s", "c").reason == "newer"
    assert base.get("s", "other") is None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "survivd"\nreason = "x"\n',
         "b.toml:4: cell[0].verdict: must be one of"),
        ('[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "hung"\n', "cell[0].reason"),
        ('[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "hung"\nreason = " "\n',
         "say why"),
        ('[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "hung"\nreason = "r"\nextra = 1\n',
         "cell[0].extra: unknown key"),
        ('[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "hung"\nreason = "r"\n'
         '[[cell]]\nscenario = "s"\nclient = "c"\nverdict = "hung"\nreason = "r"\n',
         "a second entry for s × c"),
        ("cell = 3\n", "expected an array of tables"),
        ("[[cell]\n", "invalid TOML"),
    ],
)  # fmt: skip
def test_bad_baselines_name_file_key_and_line(tmp_path, text, where):
    with pytest.raises(ScenarioError) as err:
        load_baseline([write(tmp_path, text)], bundled=False)
    assert where in str(err.value)


def test_missing_baseline_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read baseline"):
        load_baseline([tmp_path / "nope.toml"], bundled=False)


def test_the_bundled_baseline_loads():
    assert BUNDLED.is_file()
    load_baseline()


def cell(scenario, client, verdict, expected, **kw):
    return TrialResult(scenario=scenario, client=client, verdict=verdict, expected=expected, **kw)


MATRIX = Matrix(
    results=(
        cell("inc-a", "skopeo-copy", "failed-silent", "survived", baseline="failed-silent",
             baseline_reason="takes it", attempts=1, wall_s=0.5, exit_code=0),
        cell("inc-a", "mytool pull {ref}", "survived", "survived", attempts=2, wall_s=1.25,
             exit_code=0, fell_back_at=0.3),
        cell("inc-b", "skopeo-copy", "hung", "failed-loud", attempts=4, wall_s=30.0),
        cell("inc-b", "mytool pull {ref}", "n/a", "n/a", error="no origin"),
    ),
    clients={"skopeo-copy": "skopeo 1.9.3", "mytool pull {ref}": None},
    wall_s=31.9,
)  # fmt: skip


def test_cells_show_verdict_attempts_time_and_what_was_wanted():
    assert cell_text(MATRIX.results[0]) == "failed-silent 1x 0.50s"
    assert cell_text(MATRIX.results[1]) == "survived 2x 1.25s fallback@0.30s"
    assert cell_text(MATRIX.results[2]) == "! hung 4x 30.00s (want failed-loud)"
    assert cell_text(MATRIX.results[3]) == "n/a"
    flaky = cell("s", "c", "survived", "survived", repeats=("hung",))
    assert cell_text(flaky).startswith("! ~ survived")
    assert flaky.flaky and not flaky.holds


def test_text_markdown_and_json():
    text = render_text(MATRIX)
    assert "cmd1 = mytool pull {ref}" in text
    assert "4 cells, 3 hold, 1 do not; 31.9s" in text
    md = render_markdown(MATRIX)
    assert "| `inc-b` | ! hung 4x 30.00s (want failed-loud) | n/a |" in md
    assert "| `inc-a` | `skopeo-copy` | failed-silent | survived | takes it |" in md
    assert "`skopeo-copy` skopeo 1.9.3" in md
    doc = json.loads(render_json(MATRIX))
    assert doc["clients"] == {"skopeo-copy": "skopeo 1.9.3", "mytool pull {ref}": None}
    row = doc["rows"][0]
    for key in ("scenario", "client", "verdict", "expected", "baseline", "exit_code",
                "attempts", "gaps", "wall_s", "origin_requests", "error", "artifacts"):  # fmt: skip
        assert key in row
    assert doc["holds"] is False
