"""Client specs: presets, the reference client with its policy, command templates, bad input."""

from __future__ import annotations

import pytest

from flakymirror.scenario import load_scenario
from flakymirror.trial import ClientError, CommandClient, ReferenceClient, parse_client
from flakymirror.trial.clients import parse_clients, unavailable
from flakymirror.trial.presets import PRESETS


def test_presets_by_name():
    for name in ("skopeo-inspect", "skopeo-copy", "podman-pull", "buildah-pull", "ctr-pull",
                 "oras-py", "python-dxf"):  # fmt: skip
        assert parse_client(name) is PRESETS[name]
    assert parse_client("skopeo-inspect").manifest_only


def test_the_reference_client_and_its_policy():
    ref = parse_client("reference")
    assert ref == ReferenceClient("reference") and ref.profile is None and ref.delays is None
    scenario = load_scenario("dockerhub-hap429-ggcr-v0.21.5")
    assert ref.action(scenario) == scenario.action  # the scenario's own profile
    custom = parse_client("reference:ggcr-v0.21.9;delays=0.5,1,2,4,8")
    action = custom.action(scenario)
    assert action.profile == "ggcr-v0.21.9" and action.delays == (0.5, 1.0, 2.0, 4.0, 8.0)
    assert action.image == scenario.action.image
    assert parse_client("reference;delays=").delays == ()
    open_default = parse_client("reference:ggcr-v0.21.5").action(
        load_scenario("mirror-down-with-origin")
    )
    assert open_default.kind == "open" and open_default.image == "library/app:1"


def test_templates():
    c = parse_client("mytool pull {ref} --to {workdir}")
    assert isinstance(c, CommandClient) and c.template.names == {"ref", "workdir"}
    assert not c.mirror_config and parse_client("tool {origin_ref}").mirror_config
    assert c.unavailable() == "mytool is not on PATH"
    assert parse_client("python3 -c 'print(1)' {ref}").unavailable() is None
    assert "is not executable" in parse_client("/no/such/tool {ref}").unavailable()
    assert unavailable(parse_client("reference")) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("skopeo-cpy", "unknown client preset 'skopeo-cpy' (did you mean 'skopeo-copy'?)"),
        ("mytool", "unknown client preset 'mytool'"),
        ("mytool pull latest", "never names the image: use {ref}"),
        ("mytool pull {rf}", "unknown placeholder {rf} (did you mean {ref}?)"),
        ("mytool 'pull {ref}", "No closing quotation"),
        ("reference:ggcr-0.21.9", "unknown reference profile 'ggcr-0.21.9' (did you mean"),
        ("reference;delays=1,x", "delay 'x' is not a number"),
        ("reference;delays=-1", "must be between 0 and 3600"),
        ("reference;retries=3", "unknown option 'retries=3'"),
    ],
)
def test_bad_client_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ClientError) as err:
        parse_client(spec)
    assert message in str(err.value)


def test_a_client_given_twice_is_an_error():
    with pytest.raises(ClientError, match="given twice"):
        parse_clients(["skopeo-copy", "ctr-pull", "skopeo-copy"])
