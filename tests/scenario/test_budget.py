"""A scenario that comes over the wire stays within a :class:`Budget`: what it asks for is
computed from its values before anything is built, and the first figure over its bound is
refused naming its key."""

from __future__ import annotations

import pytest

from flakymirror.mirror.journal import DEFAULT_JOURNAL_SIZE
from flakymirror.scenario import ScenarioError, loads
from flakymirror.scenario.budget import DEFAULT_BUDGET, Budget, Cost, cost, over_budget
from flakymirror.scenario.model import ImageSpec
from flakymirror.scenario.stage import Stage, StageOptions

HEAD = 'name = "budget"\ndescription = "x"\nsource = "x"\n'


def _scenario(images: str, mirror: str = "") -> str:
    return HEAD + images + ("\n[mirror]\n" + mirror if mirror else "")


def test_cost_counts_layer_bytes_blobs_rules_and_the_journal() -> None:
    text = _scenario(
        '[[images]]\nref = "a/b:1"\nlayers = 3\nlayer_size = 100\n'
        '[[images]]\nref = "a/c:1"\nlayer_sizes = [10, 20]\nplatforms = ["linux/amd64", "linux/arm64"]\n',
        'plan = { mode = "partial", schedule = { kind = "interval", every = 1 } }\n'
        'faults = [{ action = { kind = "status", status = 503 }, match = { times = 1 } }]\n'
        "[incident]\nsurvivable = false\n",
    )
    c = cost(loads(text))
    # the image: 3 layers + config + manifest; the index: 2 × (2 layers + config + manifest) + 1
    assert c == Cost(layer_bytes=300 + 2 * 30, blobs=5 + 9, rules=2,
                     journal_size=DEFAULT_JOURNAL_SIZE)  # fmt: skip


@pytest.mark.parametrize(
    ("images", "mirror", "key", "words"),
    [
        ('[[images]]\nref = "a/b:1"\nlayers = 2\nlayer_size = 1000000000000\n', "",
         "images", "2,000,000,000,000 layer bytes, over the limit of 268,435,456"),
        ('[[images]]\nref = "a/b:1"\nlayers = 10000000\nlayer_size = 0\n', "",
         "images", "10,000,002 blobs and manifests, over the limit of 10,000"),
        ('[[images]]\nref = "a/b:1"\n', "journal_size = 1000000\n",
         "mirror.journal_size", "1,000,000 journal entries, over the limit of 100,000"),
        ('[[images]]\nref = "a/b:1"\n',
         "faults = [" + ", ".join(['{ action = { kind = "status", status = 503 } }'] * 1001)
         + "]\n[incident]\nsurvivable = false\n",
         "mirror.faults", "1,001 plans and fault rules, over the limit of 1,000"),
    ],
)  # fmt: skip
def test_a_scenario_over_its_budget_is_refused_naming_the_key(images, mirror, key, words) -> None:
    text = _scenario(images, mirror)
    with pytest.raises(ScenarioError) as info:
        loads(text, budget=DEFAULT_BUDGET)
    assert info.value.key == key
    assert words in str(info.value)
    scenario = loads(text)  # a file of one's own may ask for it
    assert over_budget(scenario, DEFAULT_BUDGET) == (tuple(key.split(".")), info.value.reason)


def test_nothing_is_built_to_load_a_scenario_or_measure_its_cost(monkeypatch) -> None:
    def refuse(self: ImageSpec) -> None:
        raise AssertionError(f"{self.ref} was built")

    monkeypatch.setattr(ImageSpec, "build", refuse)
    huge = _scenario(
        '[[images]]\nref = "a/b:1"\nlayers = 3\nlayer_size = 100000000000\n',
        'plan = { mode = "partial", schedule = { kind = "interval", every = 1 } }\n',
    )
    scenario = loads(huge)  # 300 GB of layers: an interval plan settles on the count alone
    assert cost(scenario).layer_bytes == 300_000_000_000


def test_budget_is_a_checked_value() -> None:
    assert Budget() == DEFAULT_BUDGET and "journal_size=100000" in repr(DEFAULT_BUDGET)
    for bad in ({"blobs": 0}, {"rules": True}, {"layer_bytes": "1"}):
        with pytest.raises(ValueError, match=f"Budget.{next(iter(bad))} must be a positive"):
            Budget(**bad)


def test_a_platform_listed_twice_is_a_scenario_error_not_a_value_error() -> None:
    text = _scenario('[[images]]\nref = "a/b:1"\nplatforms = ["linux/amd64", "linux/amd64"]\n')
    with pytest.raises(ScenarioError) as info:
        loads(text)
    assert info.value.key == "images[0].platforms[1]"
    assert '"linux/amd64" is listed twice' in str(info.value)


def test_a_loaded_scenario_brings_its_journal_size_and_the_stage_checks_the_budget() -> None:
    first = loads(_scenario('[[images]]\nref = "a/b:1"\n'))
    second = loads(_scenario('[[images]]\nref = "a/b:1"\n', "journal_size = 5\n"))
    with Stage(first, StageOptions()) as stage:
        assert stage.mirror.journal.maxlen == DEFAULT_JOURNAL_SIZE
        stage.load(second)
        assert stage.mirror.journal.maxlen == 5
        with pytest.raises(ScenarioError, match="over the limit of 4") as info:
            stage.load(first, budget=Budget(blobs=4))
        assert info.value.key == "images"
        assert stage.scenario is second  # refused before anything changed
    bigger = loads(_scenario('[[images]]\nref = "a/b:1"\nlayers = 10\n'))
    with Stage(first, StageOptions(budget=Budget(blobs=5))) as stage:  # the options' budget
        refused = pytest.raises(ScenarioError, match="12 blobs and manifests, over the limit of 5")
        with refused:
            stage.load(bigger)
