"""The one validator (mirror/forms.py): its errors carry the key path and the allowed choices
as data, and a dialect changes only the words, never what is accepted."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakymirror.mirror import FaultRule, SyncPlan
from flakymirror.mirror.forms import (
    JSON,
    Form,
    FormError,
    format_path,
    integer,
    key_path,
    number,
    one_of,
)
from flakymirror.scenario.fields import TOML, toml_form


def test_a_nested_error_carries_its_key_path_and_choices_as_data() -> None:
    data = {"action": {"kind": "status", "status": 503, "body": "tetx"}}
    with pytest.raises(FormError) as caught:
        FaultRule.from_dict(data, ("mirror", "faults", 2))
    err = caught.value
    assert err.key_path == ("mirror", "faults", 2, "action", "body")
    assert err.path == "mirror.faults[2].action.body"
    assert err.got == "tetx" and "text" in err.choices
    assert str(err) == f"{err.path}: {err.reason}"
    assert err.reason.endswith("(did you mean 'text'?)")  # built from the choices


def test_an_unknown_key_names_the_key_and_the_allowed_ones() -> None:
    with pytest.raises(FormError) as caught:
        SyncPlan.from_dict({"mode": "partial", "colour": "red"}, "plan")
    err = caught.value
    assert err.key_path == ("plan", "colour") and err.got == "colour"
    assert err.choices is not None and "mode" in err.choices and "colour" not in err.choices


def test_a_text_path_from_a_python_caller_is_the_same_key_path() -> None:
    bad = {"match": {"reference_type": "sha"}, "action": {"kind": "reset"}}
    with pytest.raises(FormError) as as_text:
        FaultRule.from_dict(bad, "faults[0]")
    with pytest.raises(FormError) as as_tuple:
        FaultRule.from_dict(bad, ("faults", 0))
    assert (
        as_text.value.key_path
        == as_tuple.value.key_path
        == ("faults", 0, "match", "reference_type")
    )
    assert str(as_text.value) == str(as_tuple.value)


keys = st.text(alphabet=st.characters(blacklist_characters=".[]"), min_size=1)


@given(st.lists(keys | st.integers(min_value=0, max_value=10**6), max_size=5))
def test_format_path_and_key_path_are_inverses(path) -> None:
    assert key_path(format_path(path)) == tuple(path)


def test_within_prefixes_the_path_and_keeps_the_data() -> None:
    inner = FormError("mode", "bad", got="x", choices=("a", "b"), also=[("other",)])
    outer = inner.within(("plan", 1))
    assert outer.key_path == ("plan", 1, "mode") and str(outer) == "plan[1].mode: bad"
    assert (outer.got, outer.choices, outer.also) == ("x", ("a", "b"), (("other",),))


def test_an_error_survives_pickling_with_its_data() -> None:
    err = FormError(("faults", 0, "kind"), "nope", got="blobs", choices=("blob",))
    back = pickle.loads(pickle.dumps(err))
    assert (back.key_path, back.reason, back.got, back.choices) == (
        err.key_path, err.reason, err.got, err.choices
    )  # fmt: skip
    assert str(back) == str(err)


@pytest.mark.parametrize(
    ("check", "json_words", "toml_words"),
    [
        (lambda d: integer("2", "n", dialect=d), "expected an integer, got '2'",
         'expected an integer, got a string ("2")'),
        (lambda d: number(float("inf"), "n", dialect=d), "expected a finite number, got inf",
         "expected a finite number, got a float (inf)"),
        (lambda d: one_of("opn", ("open", "export"), "n", d),
         "'opn' is not one of 'open', 'export' (did you mean 'open'?)",
         'must be one of "open", "export", got "opn" (did you mean "open"?)'),
        (lambda d: Form([1], "n", dialect=d), "expected a table/object, got [1]",
         "expected a table, got an array"),
        (lambda d: Form({"a": 1}, "n", dialect=d).array("a"), "expected a list, got 1",
         "expected an array, got an integer (1)"),
        (lambda d: Form({}, "n", dialect=d).raw("a"), "missing required key",
         "is required but missing"),
    ],
)  # fmt: skip
def test_a_dialect_changes_the_words_not_the_verdict(check, json_words, toml_words) -> None:
    for dialect, words in ((JSON, json_words), (TOML, toml_words)):
        with pytest.raises(FormError) as caught:
            check(dialect)
        assert caught.value.reason == words


def test_only_json_counts_an_integral_float_as_an_integer() -> None:
    assert integer(2.0, "n") == 2
    with pytest.raises(FormError, match="expected an integer, got a float"):
        integer(2.0, "n", dialect=TOML)


def test_done_refuses_unread_keys_with_the_read_ones_as_choices() -> None:
    form = toml_form({"name": "x", "nmae": "y"}, ("images", 0))
    assert form.string("name") == "x"
    with pytest.raises(FormError) as caught:
        form.done()
    err = caught.value
    assert err.key_path == ("images", 0, "nmae") and err.choices == ("name",)
    assert err.reason == "unknown key (did you mean 'name'?)"


def test_a_misspelt_required_key_is_reported_as_the_typo() -> None:
    with pytest.raises(FormError) as caught:
        toml_form({"outcom": "success"}, ("expect",)).string("outcome")
    assert caught.value.key_path == ("expect", "outcom")
    assert (caught.value.got, caught.value.choices) == ("outcom", ("outcome",))
