"""Every verdict, given by run_trial to a client whose behaviour is known: a tiny Python client
(tests/trial/tiny_client.py) run as a command template against real scenarios on real sockets."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from flakymirror.scenario import loads
from flakymirror.trial import (
    FAILED_LOUD,
    FAILED_SILENT,
    HARNESS_ERROR,
    HUNG,
    NOT_APPLICABLE,
    SURVIVED,
    CommandClient,
    TrialOptions,
    parse_client,
    run_trial,
)

TINY = shlex.join([sys.executable, str(Path(__file__).with_name("tiny_client.py"))])
OPTIONS = TrialOptions(timeout=10)

HEAD = """name = "{name}"
description = "a test incident"
source = "https://github.com/buildpacks/lifecycle/issues/1674"

[[images]]
ref = "lib/app:1"
seed = 11
layer_size = 20000
"""
HEALTHY = HEAD
EMPTY = HEAD + '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 600 } }\n'
EMPTY_BRIEFLY = HEAD + (
    '[mirror]\nplan = { mode = "empty", schedule = { kind = "at-once", after = 0.3 } }\n'
)
TRUNCATED = HEAD + (
    '[[mirror.faults]]\nmatch = { method = "GET", kind = "blob" }\n'
    'action = { kind = "truncate", after = 100 }\n[incident]\nsurvivable = false\n'
)
DOWN = HEAD + "[mirror]\ndown = true\n[origin]\n"


def scenario(text: str, name: str = "t") -> object:
    return loads(text.replace("{name}", name), path=f"{name}.toml")


def run(text: str, args: str, **kw: object) -> object:
    return run_trial(scenario(text), parse_client(f"{TINY} {args}"), TrialOptions(**{
        "timeout": 10, **kw}))  # fmt: skip


def test_a_complete_pull_survives_with_positive_evidence():
    r = run(HEALTHY, "{ref}")
    assert (r.verdict, r.expected, r.exit_code) == (SURVIVED, SURVIVED, 0)
    assert r.attempts == 1 and r.requests["GET blob"] == 4 and r.origin_requests is None
    assert "journal shows the complete image" in r.reason
    assert r.command[-1].endswith("/lib/app:1") and r.holds


def test_exit_0_after_the_empty_manifest_is_failed_silent():
    r = run(EMPTY, "{ref}")
    assert r.verdict == FAILED_SILENT and "empty 0/3" in r.reason
    assert r.expected == FAILED_LOUD  # the mirror needs 600 s: more than the cell's timeout


def test_a_client_that_retries_past_a_brief_empty_window_is_still_silent_without_rechecking():
    # it retries errors only: the empty manifest is a 200, so it takes it
    r = run(EMPTY_BRIEFLY, "{ref} --retries 5")
    assert r.verdict == FAILED_SILENT and r.expected == SURVIVED and not r.holds


def test_exit_0_with_a_truncated_layer_is_failed_silent():
    r = run(TRUNCATED, "{ref}")
    assert r.verdict == FAILED_SILENT and "never arrived whole" in r.reason
    assert any("damage=truncated" in line for line in r.timeline)


def test_a_non_zero_exit_is_failed_loud_and_says_why():
    r = run(EMPTY, "{ref} --exit 3")
    assert (r.verdict, r.exit_code) == (FAILED_LOUD, 3)
    r = run(HEAD + "[[mirror.faults]]\naction = { kind = \"status\", status = 503 }\n"
            "[incident]\nsurvivable = false\n", "{ref}")  # fmt: skip
    assert r.verdict == FAILED_LOUD and r.expected == FAILED_LOUD and r.holds
    assert "503" in r.reason and "tiny_client" in r.output


def test_a_client_still_running_at_the_timeout_is_hung():
    r = run(HEALTHY, "{ref} --sleep 30", timeout=1.0)
    assert r.verdict == HUNG and r.exit_code is None and r.wall_s < 8


def test_a_placeholder_without_a_value_makes_the_cell_not_applicable():
    r = run(HEALTHY, "{origin_ref}")
    assert r.verdict == NOT_APPLICABLE and "{origin_ref}" in r.error


def test_a_client_that_cannot_start_is_a_harness_error():
    r = run_trial(scenario(HEALTHY), parse_client("/no/such/client {ref}"), OPTIONS)
    assert r.verdict == HARNESS_ERROR and "could not be started" in r.reason


def test_falling_back_to_the_origin_is_seen_in_the_origins_log():
    r = run(DOWN, "{origin_ref}")
    assert r.verdict == SURVIVED and r.expected == SURVIVED
    assert r.attempts == 0 and r.origin_requests == 5 and r.fell_back_at is not None
    pulling_the_mirror = run(DOWN, "{ref}")
    assert pulling_the_mirror.verdict == FAILED_LOUD
    assert pulling_the_mirror.expected == FAILED_LOUD  # it has no way to reach the origin


def test_manifest_only_clients_are_judged_on_manifest_and_config():
    client = parse_client(f"{TINY} {{ref}} --manifest-only")
    r = run_trial(scenario(HEALTHY), client, OPTIONS)
    assert r.verdict == FAILED_SILENT  # an ordinary client needs every layer
    manifest_only = _ManifestOnly(client.spec, client.template)
    assert run_trial(scenario(HEALTHY), manifest_only, OPTIONS).verdict == SURVIVED


class _ManifestOnly(CommandClient):
    """A command client declared manifest-only (as skopeo-inspect is)."""

    manifest_only = True


@pytest.mark.parametrize("reference", ["reference", "reference:ggcr-v0.21.5"])
def test_the_reference_client_is_judged_by_what_it_opened(reference):
    r = run_trial(scenario(EMPTY_BRIEFLY), parse_client(reference), OPTIONS)
    assert (r.verdict, r.attempts, r.gaps, r.exit_code) == (SURVIVED, 3, (0.1, 0.2), None)
    short = HEAD + ('[mirror]\nplan = { mode = "partial", schedule = { kind = "interval", '
                    'every = 0.25 } }\n')  # fmt: skip
    r = run_trial(scenario(short), parse_client(reference), OPTIONS)
    assert r.verdict == FAILED_SILENT and "top layer" in r.reason
    policy = parse_client("reference;delays=")  # one attempt, no retry
    assert run_trial(scenario(EMPTY_BRIEFLY), policy, OPTIONS).verdict == FAILED_LOUD
