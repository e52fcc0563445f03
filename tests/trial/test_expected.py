"""The ideal verdict of a cell, from the incident alone."""

from __future__ import annotations

from flakymirror.scenario import load_scenario, loads
from flakymirror.trial import TrialOptions, parse_client
from flakymirror.trial.runner import expected_verdict

HEAD = """name = "x"
description = "d"
source = "https://github.com/buildpacks/lifecycle/issues/1674"
[[images]]
ref = "lib/app:1"
"""
OPTS = TrialOptions(timeout=30, time_scale=10)


def ideal(extra: str, client: str, options: TrialOptions = OPTS) -> str:
    return expected_verdict(loads(HEAD + extra, path="x.toml"), parse_client(client), options)


def test_convergence_against_half_the_timeout_with_the_time_scale():
    slow = '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 120 } }\n'
    assert ideal(slow, "skopeo-copy") == "survived"  # 12 s of real time <= 15
    assert ideal(slow, "skopeo-copy", TrialOptions(timeout=20, time_scale=10)) == "failed-loud"
    assert ideal(slow, "reference") == "failed-loud"  # the reference's clock is not scaled


def test_never_and_unsurvivable_incidents_want_a_loud_failure():
    forever = '[[mirror.faults]]\naction = { kind = "status", status = 503 }\n'
    assert ideal(forever + "[incident]\nsurvivable = false\n", "ctr-pull") == "failed-loud"
    stated = forever + "[incident]\nconverges_after = 0\n"
    assert ideal(stated, "ctr-pull") == "survived"


def test_origin_incidents_need_mirror_configuration():
    down = "[mirror]\ndown = true\n[origin]\n"
    assert ideal(down, "ctr-pull") == "survived"
    assert ideal(down, "oras-py") == "n/a" and ideal(down, "reference") == "n/a"
    assert ideal(down, "tool {origin_ref}") == "survived"
    assert ideal(down, "tool {ref}") == "failed-loud"  # a command with no way to the origin


def test_manifest_only_clients_have_their_own_survivability():
    from flakymirror.oci import build_image

    top = build_image(layers=3, seed=0).layers[-1].digest  # the image of HEAD
    layer_forever = (
        f'[[mirror.faults]]\nmatch = {{ kind = "blob", reference = "{top}" }}\n'
        'action = { kind = "truncate", after = 1 }\n'
        "[incident]\nsurvivable = false\nmanifest_survivable = true\n"
    )
    assert ideal(layer_forever, "skopeo-copy") == "failed-loud"
    assert ideal(layer_forever, "skopeo-inspect") == "survived"


def test_a_client_that_can_fall_back_does_not_wait_for_the_mirror():
    slow = ("[origin]\n[mirror]\nplan = { mode = \"empty\", schedule = { kind = \"at-once\", "
            "after = 120 } }\n")  # fmt: skip
    unscaled = TrialOptions(timeout=30, time_scale=1)
    assert ideal(slow, "ctr-pull", unscaled) == "survived"  # the origin serves at once
    assert ideal(slow, "tool {ref}", unscaled) == "failed-loud"  # 120 s > half of 30 s


def test_library_examples():
    s = load_scenario("harbor-22609-blob-404-with-origin")
    assert expected_verdict(s, parse_client("podman-pull"), OPTS) == "survived"
