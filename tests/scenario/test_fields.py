"""Values in validation messages are spelled as TOML, the language the user wrote them in."""

from __future__ import annotations

import datetime as dt
import math
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakymirror.scenario import ScenarioError, loads
from flakymirror.scenario.fields import describe, toml_value
from tests.helpers.scenario_text import MINIMAL

scalars = (
    st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(values)
def test_toml_value_reads_back_as_the_same_value(value):
    assert tomllib.loads(f"x = {toml_value(value)}")["x"] == value


@pytest.mark.parametrize(
    ("value", "spelling"),
    [
        (True, "true"),
        (False, "false"),
        ("two", '"two"'),
        ('say "hi"\\now\n', r'"say \"hi\"\\now\n"'),
        ("\x00\x7f", r'"\u0000\u007F"'),
        (7, "7"),
        (0.5, "0.5"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (dt.date(1979, 5, 27), "1979-05-27"),
        (dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC), "1979-05-27T07:32:00+00:00"),
        ([1, "a"], '[1, "a"]'),
        ({"a": 1, "b c": True}, '{ a = 1, "b c" = true }'),
    ],
)
def test_toml_spellings(value, spelling):
    assert toml_value(value) == spelling


def test_describe_names_the_type_and_spells_the_value():
    assert describe(True) == "a boolean (true)"
    assert describe("x") == 'a string ("x")'
    assert describe(1.5) == "a float (1.5)"
    assert describe(dt.time(7, 32)) == "a time (07:32:00)"
    assert describe("y" * 60) == 'a string ("' + "y" * 36 + "...)"
    assert describe([1]) == "an array" and describe({}) == "a table"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("attempts = 1", "attempts = false", "expected an integer, got a boolean (false)"),
        ('kind = "open"', "kind = 1979-05-27",
         "expected a string, got a date (1979-05-27)"),
        ('kind = "open"', 'kind = "opn"',
         'must be one of "open", "export", "rebase", got "opn" (did you mean "open"?)'),
        ('name = "minimal"', 'name = "Big\\tName"',
         "must be lowercase letters, digits, '.', '_' or '-', got \"Big\\tName\""),
    ],
)  # fmt: skip
def test_messages_spell_values_as_toml(old, new, message):
    with pytest.raises(ScenarioError) as info:
        loads(MINIMAL.replace(old, new, 1))
    assert message in str(info.value)


def test_a_mirror_error_is_located_by_its_key_path_not_its_text():
    # the mirror's text path "mirror.faults[0].action.headers.X.Y:Z" is ambiguous; its data is not
    text = MINIMAL + (
        "\n[mirror]\n[[mirror.faults]]\n"
        'action = { kind = "status", status = 503, headers = { "X.Y:Z" = "1" } }\n'
    )
    with pytest.raises(ScenarioError) as caught:
        loads(text, path="s.toml")
    err = caught.value
    assert err.key == 'mirror.faults[0].action.headers."X.Y:Z"'
    assert err.reason == "not a valid HTTP header name: 'X.Y:Z'"
    assert err.line == len(text.splitlines())  # the fault's action line
