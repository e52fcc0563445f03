"""Seeded bad scenarios: the library's files with a few values replaced, added, dropped or
listed twice. A
scenario posted to a running mirror (``POST /_flakymirror/scenario``) must be refused with a
``ScenarioError`` naming its key (a 400), never any other exception (a 500): loading with the
budget, and standing up what loads, raise nothing else."""

from __future__ import annotations

import contextlib
import copy
import random
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flakymirror.scenario import ScenarioError, load_scenario, scenario_from_dict
from flakymirror.scenario.budget import DEFAULT_BUDGET
from flakymirror.scenario.stage import Stage, StageOptions

LIBRARY = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
VALUES = (
    0, -1, 1, 2**63, -(2**63), 2**64, 1e308, float("inf"), float("nan"), -0.0, 0.5, True, "",
    "x", "*", "a" * 300, "linux/amd64", "library/app:1", "sha256:" + "a" * 64, "@", "10s",
    [], [1], ["x"], ["linux/amd64", "linux/amd64"], {}, {"kind": "x"}, {"kind": "status"},
)  # fmt: skip
NAMES = ("extra", "kind", "times", "every", "status", "platforms", "layers", "journal_size")


def _paths(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield prefix + (key,)
        yield from _paths(value, prefix + (key,))


def _mutants(seed: int, count: int) -> Iterator[dict]:
    rnd = random.Random(seed)
    docs = [tomllib.loads(p.read_text()) for p in LIBRARY]
    for _ in range(count):
        doc = copy.deepcopy(rnd.choice(docs))
        doc.pop("origin", None)  # an origin URL is refused through the API anyway
        paths = list(_paths(doc))
        for _ in range(rnd.randint(1, 3)):
            path = rnd.choice(paths)
            parent: Any = doc
            try:
                for key in path[:-1]:
                    parent = parent[key]
                parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation replaced this branch
            if not isinstance(parent, dict | list):
                continue
            choice, value = rnd.random(), parent[path[-1]]
            if choice < 0.15 and isinstance(value, list) and value:
                value.append(copy.deepcopy(rnd.choice(value)))  # an item listed twice
            elif choice < 0.3:
                del parent[path[-1]]
            elif choice < 0.4 and isinstance(parent, dict):
                parent[rnd.choice(NAMES)] = copy.deepcopy(rnd.choice(VALUES))
            else:
                parent[path[-1]] = copy.deepcopy(rnd.choice(VALUES))
        yield doc


def test_bad_scenarios_are_scenario_errors_and_what_loads_stands_up() -> None:
    loaded = []
    for doc in _mutants(seed=10, count=6000):
        with contextlib.suppress(ScenarioError):
            loaded.append(scenario_from_dict(doc, budget=DEFAULT_BUDGET))
    assert len(loaded) > 50  # the mutants reach past the first checks
    first = load_scenario("dockerhub-429-long-retry-after")
    with Stage(first, StageOptions(allow_origin_url=False)) as stage:
        for scenario in loaded:
            with contextlib.suppress(ScenarioError):
                stage.load(scenario, budget=DEFAULT_BUDGET)
        stage.mirror.check()
