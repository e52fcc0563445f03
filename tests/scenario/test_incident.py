"""Scenarios for any client: [incident], [origin], [mirror] down, optional [action]/[expect],
and the convergence computed from the plans and faults."""

from __future__ import annotations

import pytest

from flakymirror.scenario import ScenarioError, load_scenario, loads, run_scenario
from flakymirror.scenario.convergence import computed, convergence
from flakymirror.scenario.model import Convergence, Incident, OriginSpec

HEAD = """name = "any-client"
description = "an incident without a reference action"
source = "https://github.com/buildpacks/lifecycle/issues/1674"

[[images]]
ref = "lib/app:1"
seed = 3
"""


def load(extra: str) -> object:
    return loads(HEAD + extra, path="inc.toml")


def test_a_scenario_without_action_or_expect_loads_and_replays_unchecked():
    s = load('[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 0.25 } }\n')
    assert s.action is None and s.expect is None
    assert s.incident == Incident() and s.incident_image == "lib/app:1"
    assert s.reference_action.kind == "open" and s.reference_action.image == "lib/app:1"
    result = run_scenario(s)
    assert result.checked is False and result.passed
    assert result.attempts == 3 and result.outcome == "success"
    assert loads(HEAD + '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", '
                 'after = 0.25 } }\n', path="x").to_dict() == s.to_dict()  # fmt: skip


def test_incident_origin_and_down_round_trip():
    s = load(
        '[mirror]\ndown = true\n[origin]\n[incident]\nsurvivable = true\n'
        'image = "lib/app@{digest}"\nmanifest_survivable = true\n'
    )
    assert s.mirror.down and s.origin == OriginSpec()
    assert s.incident.image == "lib/app@{digest}" and s.incident.manifest_survivable
    from flakymirror.scenario import scenario_from_dict

    assert scenario_from_dict(s.to_dict()) == s  # the dict form loads back to an equal value


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ('[incident]\nimage = "lib/other:1"\n', "incident.image", "is not one of the images"),
        ('[incident]\nimage = "lib/app@sha256:' + "0" * 64 + '"\n', "incident.image",
         "repo@{digest}"),
        ('[incident]\nsurvivable = "yes"\n', "incident.survivable", "expected true or false"),
        ('[incident]\nconverges_after = "soon"\n', "incident.converges_after",
         'a table or "never"'),
        ('[incident]\nconverges_after = { minutes = 2 }\n', "incident.converges_after.minutes",
         "unknown key"),
        ('[incident]\nconverges_after = {}\n', "incident.converges_after",
         "give seconds, requests or both"),
        ('[incident]\nsurvivabel = true\n', "incident.survivabel", "did you mean 'survivable'"),
        ('[origin]\nurl = "ftp://x"\n', "origin.url", "expected a registry URL"),
        ('[origin]\nurl = "http://127.0.0.1:5000/v2/"\n', "origin.url", "no path"),
        ('[mirror]\ndown = 1\n', "mirror.down", "expected true or false"),
        # the file may not claim a later convergence than the mirror allows
        ('[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 2 } }\n'
         '[incident]\nconverges_after = 5\n', "incident.converges_after",
         "says 5 s, but mirror.plan settles after 2 s"),
        # a survivable incident must say when a client can succeed if the mirror never settles
        ('[[mirror.faults]]\naction = { kind = "status", status = 503 }\n',
         "incident.survivable", "mirror.faults[0] never settles"),
    ],
)  # fmt: skip
def test_bad_incident_tables_name_the_key(extra, key, message):
    with pytest.raises(ScenarioError) as err:
        load(extra)
    assert err.value.key == key, str(err.value)
    assert message in str(err.value)
    assert err.value.line is not None


def test_a_scenario_needs_an_image():
    with pytest.raises(ScenarioError, match="at least one"):
        loads(HEAD.split("[[images]]")[0], path="x.toml")


def test_convergence_is_computed_and_a_stated_value_wins():
    s = load('[mirror]\nplan = { mode = "partial", schedule = { kind = "interval", every = 0.5 } }\n')
    assert computed(s)[0] == Convergence(seconds=1.5)  # 3 layers, one every 0.5 s
    s = load('[[mirror.faults]]\nmatch = { kind = "manifest", times = 2 }\n'
             'action = { kind = "status", status = 503 }\n'
             '[incident]\nconverges_after = { requests = 1 }\n')  # fmt: skip
    assert convergence(s) == Convergence(requests=1)
    assert computed(s)[0].requests == 2
    down = load('[mirror]\ndown = true\n[origin]\n')
    assert computed(down)[0].never and down.incident.survivable
    never = load('[[mirror.faults]]\naction = { kind = "status", status = 503 }\n'
                 '[incident]\nsurvivable = false\n')  # fmt: skip
    assert convergence(never).never
    other_repo = load('[[mirror.faults]]\nmatch = { repo = "other/*" }\n'
                      'action = { kind = "status", status = 503 }\n')  # fmt: skip
    assert computed(other_repo)[0] == Convergence(seconds=0.0)  # the rule is elsewhere


def test_the_library_states_survivability_consistently():
    assert not load_scenario("registry-k8s-403-html").incident.survivable
    assert load_scenario("harbor-22609-head-404-while-caching").incident.converges_after == (
        Convergence(seconds=0.0)
    )


def test_a_mirror_that_is_down_refuses_the_reference_client():
    s = load('[mirror]\ndown = true\n[incident]\nsurvivable = false\n')
    result = run_scenario(s)
    assert result.outcome == "error" and result.attempts == 6
    assert "connection refused" in result.error


def test_the_summary_counts_unchecked_scenarios_apart():
    import json

    from flakymirror.scenario import render_json, render_summary

    checked = run_scenario(load_scenario("lifecycle-1674-empty-layers"))
    unchecked = run_scenario(load('[mirror]\ndown = true\n[incident]\nsurvivable = false\n'))
    text = render_summary([checked, unchecked])
    assert text.endswith("2 scenarios, 1 passed, 1 unchecked, 0 failed")
    assert "unchecked" in text.splitlines()[-2]
    summary = json.loads(render_json([checked, unchecked]))["summary"]
    assert (summary["passed"], summary["unchecked"], summary["failed"]) == (1, 1, 0)


def test_convergence_measures_layers_only_for_a_bandwidth_plan(monkeypatch):
    from flakymirror.oci.blobs import Layer

    measured: list[object] = []
    real = Layer._measure

    def counting(self):
        measured.append(self)
        return real(self)

    monkeypatch.setattr(Layer, "_measure", counting)
    by_count = load('[mirror]\nplan = { mode = "partial", schedule = { kind = "interval", every = 2 } }\n')
    assert computed(by_count)[0] == Convergence(seconds=6.0)
    assert measured == []  # an interval needs how many layers, not how big (no gzip run)
    rate = 1000
    by_size = load(
        '[mirror]\nplan = { mode = "partial", schedule = { kind = "bandwidth", '
        f"bytes_per_second = {rate} }} }}\n"
    )
    total = sum(x.size for x in by_size.images[0].build().layers)
    measured.clear()
    assert computed(by_size)[0] == Convergence(seconds=round(total / rate, 6))
    assert measured  # a bandwidth plan settles on the compressed sizes
