"""Loading and validating scenario files: every error names the file, the key and the line."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from flakymirror.scenario import ScenarioError, load_file, loads, scenario_from_dict
from flakymirror.scenario.locate import key_lines, line_of
from flakymirror.scenario.model import LIFECYCLE_DELAYS
from tests.helpers.scenario_text import MINIMAL


def _line(text: str, marker: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"marker {marker!r} not in text")


def _load_broken(
    write_scenario, base: str, old: str, new: str, name: str
) -> tuple[ScenarioError, str, Path]:
    """Write ``base`` with ``old`` replaced once by ``new`` as ``name``; loading it must raise.
    The error, the text written and its path."""
    assert old in base
    text = base.replace(old, new, 1)
    path = write_scenario(text, name=name)
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    return info.value, text, path


def test_minimal_scenario_loads_with_defaults(write_scenario):
    path = write_scenario(MINIMAL)
    s = load_file(path)
    assert s.name == "minimal"
    assert s.source == ("https://github.com/buildpacks/lifecycle/pull/1675",)
    assert s.clock == "virtual"
    assert s.path == str(path)
    (image,) = s.images
    assert (image.repository, image.tag, image.layers, image.seed) == ("cnb/run", "jammy", 2, 7)
    assert s.action.profile == "ggcr-v0.21.9"
    assert s.action.delays == LIFECYCLE_DELAYS
    assert s.expect.sleeps.opener == () and s.expect.sleeps.transport == ()
    assert s.expect.requests == (("manifest", 1), ("GET blob", 1))
    assert s.expect.elapsed.max is None


def test_to_dict_round_trips():
    s = loads(MINIMAL, path="m.toml")
    again = scenario_from_dict(s.to_dict(), path="again")
    assert again == s
    assert again.path == "again"  # the path is not part of equality


# (replace this, with this) in MINIMAL -> the key and a fragment of the message; the line is
# the line of `line_marker` in the edited text.
CASES = [
    pytest.param(
        'description = "a healthy',
        'descripton = "a healthy',
        "descripton",
        "unknown key (did you mean 'description'?)",
        "descripton",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "opener = []",
        "openr = []",
        "expect.sleeps.openr",
        "unknown key (did you mean 'opener'?)",
        "openr",
        id="unknown-nested-key",
    ),
    pytest.param(
        "layers = 2",
        'layers = "two"',
        "images[0].layers",
        'expected an integer, got a string ("two")',
        "layers =",
        id="wrong-type",
    ),
    pytest.param(
        "opener = []",
        'opener = [\n  0.1,\n  "fast",\n]',
        "expect.sleeps.opener[1]",
        'expected a number, got a string ("fast")',
        '"fast"',
        id="wrong-type-in-array",
    ),
    pytest.param(
        "attempts = 1",
        "attempts = true",
        "expect.attempts",
        "expected an integer, got a boolean (true)",
        "attempts",
        id="bool-is-not-int",
    ),
    pytest.param(
        'image = "cnb/run:jammy"',
        'image = "cnb/run@sha256:abc"',
        "action.image",
        "bad digest part",
        "sha256:abc",
        id="bad-digest",
    ),
    pytest.param(
        'ref = "cnb/run:jammy"',
        'ref = "Cnb/Run:jammy"',
        "images[0].ref",
        "bad repository part",
        "Cnb/Run",
        id="bad-repository",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "open"\nprofile = "ggcr-v0.21.7"',
        "action.profile",
        'got "ggcr-v0.21.7" (did you mean "ggcr-v0.21.',
        "profile",
        id="bad-choice",
    ),
    pytest.param(
        'outcome = "success"',
        'outcome = "success"\nerror = "boom"',
        "expect.error",
        'contradicts outcome = "success"',
        'error = "boom"',
        id="contradiction",
    ),
    pytest.param(
        "manifest = 1",
        "manifests = 1",
        "expect.requests.manifests",
        "did you mean 'manifest'?",
        "manifests",
        id="bad-endpoint-kind",
    ),
    pytest.param(
        '"GET blob" = 1',
        '"FETCH blob" = 1',
        'expect.requests."FETCH blob"',
        "unknown method 'FETCH'",
        "FETCH",
        id="bad-method",
    ),
    pytest.param(
        'outcome = "success"\n',
        "",
        "expect.outcome",
        "is required but missing",
        "[expect]",
        id="missing-required-key",
    ),
    pytest.param(
        "[expect.requests]",
        "[expect.elapsed]\nmin = 2\nmax = 1\n[expect.requests]",
        "expect.elapsed.max",
        "is below min",
        "max = 1",
        id="elapsed-bounds",
    ),
    pytest.param(
        "layers = 2",
        "layers = 2\nplatforms = []",
        "images[0].platforms",
        "at least one platform",
        "platforms",
        id="empty-platforms",
    ),
    pytest.param(
        "layers = 2",
        'layers = 2\nplatform = "linux"',
        "images[0].platform",
        "expected 'os/arch'",
        'platform = "linux"',
        id="bad-platform",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "open"\noutput = "app/out:latest"',
        "action.output",
        "only applies to export and rebase",
        "output",
        id="argument-for-other-action",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "export"',
        "action.output",
        "is required for an export",
        "[action]",
        id="missing-action-argument",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "rebase"\napp_image = "app/x:1"',
        "action.base_image",
        "is required for a rebase",
        "[action]",
        id="rebase-needs-base-image",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "rebase"\napp_image = "app/x:1"\nbase_image = "cnb/run:old"',
        "action.base_image",
        '"cnb/run:old" is not one of the images (did you mean "cnb/run:',
        "base_image",
        id="rebase-base-image-unknown",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "rebase"\napp_image = "cnb/run:jammy"\nbase_image = "cnb/run:jammy"',
        "action.app_image",
        "is one of the images",
        "app_image",
        id="rebase-app-image-pushed",
    ),
    pytest.param(
        'kind = "open"',
        'kind = "open"\nforce = true',
        "action.force",
        "only applies to rebase actions",
        "force",
        id="force-outside-rebase",
    ),
    pytest.param(
        "seed = 7",
        'seed = 7\n\n[[images]]\nref = "cnb/run:jammy"  # again',
        "images[1].ref",
        "is pushed twice",
        "# again",
        id="duplicate-image",
    ),
    pytest.param(
        "seed = 7",
        "seed = 7\nlabels = { a = 1 }",
        "images[0].labels.a",
        "expected a string, got an integer (1)",
        "labels",
        id="label-not-string",
    ),
    pytest.param(
        'name = "minimal"',
        'name = "Minimal Scenario"',
        "name",
        "must be lowercase",
        "name =",
        id="bad-name",
    ),
]


@pytest.mark.parametrize(("old", "new", "key", "fragment", "line_marker"), CASES)
def test_validation_errors_name_file_key_and_line(
    write_scenario, old, new, key, fragment, line_marker
):
    err, text, path = _load_broken(write_scenario, MINIMAL, old, new, "broken")
    assert err.path == str(path)
    assert err.key == key
    assert fragment in err.reason
    # a missing key is reported at the line of the table that should hold it
    assert err.line == _line(text, line_marker)
    assert str(err).startswith(f"{path}:{err.line}: {key}: ")
    assert isinstance(err, ValueError)


def test_wrong_section_type_is_named():
    text = "expect = 3\n" + MINIMAL[: MINIMAL.index("[expect]")]
    with pytest.raises(ScenarioError) as info:
        loads(text, path="x.toml")
    assert info.value.key == "expect"
    assert "expected a table, got an integer (3)" in info.value.reason
    assert info.value.line == 1


def test_toml_syntax_error_reports_line():
    text = MINIMAL.replace("layers = 2", "layers = = 2")
    with pytest.raises(ScenarioError) as info:
        loads(text, path="bad.toml")
    assert info.value.line == _line(text, "layers = = 2")
    assert info.value.key is None
    assert str(info.value).startswith(f"bad.toml:{info.value.line}: invalid TOML: ")


def test_unreadable_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario file") as info:
        load_file(tmp_path / "missing.toml")
    assert info.value.path == str(tmp_path / "missing.toml")
    bad = tmp_path / "latin.toml"
    bad.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_file(bad)


def test_error_survives_pickling():
    err = ScenarioError("boom", path="a.toml", key="expect.sleeps.opener[2]", line=14)
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.key, again.line, str(again)) == (
        "a.toml",
        "expect.sleeps.opener[2]",
        14,
        "a.toml:14: expect.sleeps.opener[2]: boom",
    )


def test_source_may_be_a_list_and_must_not_be_empty():
    text = MINIMAL.replace(
        'source = "https://github.com/buildpacks/lifecycle/pull/1675"',
        'source = ["buildpacks/lifecycle#1674", "buildpacks/lifecycle#1675"]',
    )
    assert loads(text).source == ("buildpacks/lifecycle#1674", "buildpacks/lifecycle#1675")
    with pytest.raises(ScenarioError, match="at least one issue"):
        loads(MINIMAL.replace('"https://github.com/buildpacks/lifecycle/pull/1675"', "[]"))


def test_index_image_and_layer_sizes():
    text = MINIMAL.replace(
        "layers = 2",
        'layer_sizes = [10, 20, 30]\nplatforms = ["linux/amd64", "linux/arm64/v8"]\n'
        'flavor = "docker"\nlabels = { "io.buildpacks.stack.id" = "io.buildpacks.stacks.jammy" }',
    )
    (image,) = loads(text).images
    assert image.is_index and image.layers == 3 and image.layer_sizes == (10, 20, 30)
    assert image.platforms == ("linux/amd64", "linux/arm64/v8")
    assert image.labels == (("io.buildpacks.stack.id", "io.buildpacks.stacks.jammy"),)
    mismatch = text.replace("layer_sizes = [10, 20, 30]", "layer_sizes = [10, 20, 30]\nlayers = 2")
    with pytest.raises(ScenarioError, match="layer_sizes lists 3 sizes"):
        loads(mismatch)


def test_key_lines_cover_tables_arrays_and_inline_tables():
    text = (
        'name = "x"  # comment with = sign\n'
        'description = """two\nlines"""\n'
        "[[images]]\n"
        'ref = "a:b"\n'
        "[[images]]\n"
        'labels = { "io.x" = "1", b = 2 }\n'
        "[[mirror.faults]]\n"
        'match = { kind = "manifest" }\n'
        "[mirror.faults.action]\n"
        "status = 503\n"
        "[[mirror.faults]]\n"
        "action.status = 401\n"
        "[expect]\n"
        "sleeps.opener = [\n  0.1,\n  0.2, # c\n  'x',\n]\n"
    )
    lines = key_lines(text)
    assert lines[("description",)] == 2
    assert lines[("images", 1, "labels", "io.x")] == 7
    assert lines[("mirror", "faults", 0, "action", "status")] == 11
    assert lines[("mirror", "faults", 1, "action", "status")] == 13
    assert lines[("expect", "sleeps", "opener", 2)] == 18
    assert line_of(text, ("mirror", "faults", 0, "match", "repo")) == 9
    assert line_of(text, ("nowhere",)) is None


WITH_MIRROR = MINIMAL.replace(
    "[action]",
    """[mirror]
plan = { schedule = { kind = "interval", every = 0.1 }, mode = "empty" }

[[mirror.faults]]
name = "two 503s"
match = { kind = "manifest", times = 2 }
action = { kind = "status", status = 503 }

[[mirror.faults]]
match = { kind = "blob" }
[mirror.faults.action]
kind = "sequence"
steps = [
  { kind = "status", status = 503 },
  { times = 2, action = { kind = "truncate", after = 10 } },
]

[action]""",
)


def test_mirror_tables_become_the_mirrors_values():
    from flakymirror.mirror.faults import FaultRule
    from flakymirror.mirror.plans import SyncPlan

    s = loads(WITH_MIRROR, path="m.toml")
    (plan,) = s.mirror.plans
    assert isinstance(plan, SyncPlan) and plan.mode == "empty"
    assert plan.schedule.to_dict() == {"kind": "interval", "every": 0.1}
    first, second = s.mirror.faults
    assert isinstance(first, FaultRule) and first.name == "two 503s"
    assert first.match.times == 2
    assert len(second.action.steps) == 3
    assert scenario_from_dict(s.to_dict()) == s


MIRROR_CASES = [
    pytest.param('kind = "interval"', 'kind = "intervall"', "mirror.plan.schedule.kind",
                 "(did you mean 'interval'?)", "plan =", id="bad-plan-kind"),
    pytest.param('mode = "empty"', 'mode = "empty", colour = "red"', "mirror.plan.colour",
                 "unknown key 'colour'", "plan =", id="unknown-plan-key"),
    pytest.param('kind = "status", status = 503 }', 'kind = "status", status = "x" }',
                 "mirror.faults[0].action.status", "expected an integer, got 'x'",
                 'status = "x"', id="bad-fault-value"),
    pytest.param("times = 2", "time = 2", "mirror.faults[0].match.time",
                 "(did you mean 'times'?)", "time = 2", id="unknown-match-key"),
    pytest.param("after = 10", "afterr = 10", "mirror.faults[1].action.steps[1].action.afterr",
                 "unknown key 'afterr'", "afterr", id="nested-sequence-key"),
    pytest.param('kind = "blob" }', 'kind = "blobs" }', "mirror.faults[1].match.kind[0]",
                 "(did you mean 'blob'?)", '"blobs"', id="bad-endpoint-kind"),
    pytest.param("plan = {", "plan = 3\nx = {", "mirror.plan", "expected a table", "plan = 3",
                 id="plan-not-a-table"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "key", "fragment", "line_marker"), MIRROR_CASES)
def test_mirror_errors_are_mapped_to_file_key_and_line(
    write_scenario, old, new, key, fragment, line_marker
):
    err, text, path = _load_broken(write_scenario, WITH_MIRROR, old, new, "broken-mirror")
    assert (err.path, err.key) == (str(path), key)
    assert fragment in err.reason
    assert err.line == _line(text, line_marker)


def test_plan_may_be_a_list_of_plans():
    text = WITH_MIRROR.replace(
        'plan = { schedule = { kind = "interval", every = 0.1 }, mode = "empty" }',
        '[[mirror.plan]]\nrepo = "cnb/*"\nmode = "missing"\n[[mirror.plan]]\nmode = "empty"\n'
        '[mirror.plan.schedule]\nkind = "at-once"\nafter = 2\n',
    )
    s = loads(text)
    assert [p.mode for p in s.mirror.plans] == ["missing", "empty"]
    assert scenario_from_dict(s.to_dict()) == s
    bad = text.replace("after = 2", "after = -1")
    with pytest.raises(ScenarioError) as info:
        loads(bad, path="p.toml")
    assert info.value.key == "mirror.plan[1].schedule.after"
    assert info.value.line == _line(bad, "after = -1")
