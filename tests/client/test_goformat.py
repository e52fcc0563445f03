"""client/goformat.py is the one home of how Go prints things: its helpers, and a check that
no other module of the package defines one of them again or spells one of their texts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from flakymirror.client import goformat
from flakymirror.client.errors import NetworkError, RemoteImageError, RepoStoreError
from flakymirror.client.goformat import (
    go_json,
    go_json_kind,
    go_platform,
    go_quote,
    go_unmarshal_text,
)
from flakymirror.client.pull import go_hash
from flakymirror.oci.model import Platform

PACKAGE = Path(__file__).resolve().parents[2] / "flakymirror"
HOME = PACKAGE / "client" / "goformat.py"

#: Texts only Go's printing produces: a copy of one outside goformat.py is a second home.
GO_TEXTS = ("json: cannot unmarshal", "OSFeatures:[]", "\\u003c")


def test_go_json_kind_names_kinds_as_encoding_json_does():
    kinds = [go_json_kind(v) for v in ({}, [], "s", 1, 1.5, True, None)]
    assert kinds == ["object", "array", "string", "number", "number", "bool", "null"]


def test_go_unmarshal_text_with_and_without_a_type():
    assert go_unmarshal_text("array", "Go value", "v1.Manifest") == (
        "json: cannot unmarshal array into Go value of type v1.Manifest"
    )
    assert go_unmarshal_text("layers", "Go struct field Manifest.layers") == (
        "json: cannot unmarshal layers into Go struct field Manifest.layers"
    )


def test_go_platform_is_ggcr_platform_with_plus_v():
    assert go_platform(Platform(os="linux", architecture="arm64")) == (
        "{Architecture:arm64 OS:linux OSVersion: OSFeatures:[] Variant: Features:[]}"
    )
    assert "OSVersion:10.0.17763 " in go_platform(
        Platform(os="windows", architecture="amd64", os_version="10.0.17763")
    )


def test_go_json_has_one_definition_reexported_where_it_was():
    from flakymirror.client import gojson, metadata

    assert gojson.go_json is metadata.go_json is go_json
    assert go_json({"a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e"}'


def test_texts_built_with_goformat():
    with pytest.raises(RemoteImageError, match=r"^cannot parse hash: \"sha256:x\\\"\"$"):
        go_hash('sha256:x"', "Descriptor.digest")
    with pytest.raises(RemoteImageError) as info:
        go_hash(5, "Descriptor.digest")
    assert str(info.value) == "json: cannot unmarshal int into Descriptor.digest of type v1.Hash"
    # Go's url.Error and imgutil's wrapper print the URL and the reference with %q
    assert str(NetworkError("GET", 'http://h/a"b', "EOF")) == 'Get "http://h/a\\"b": EOF'
    err = RepoStoreError("h/r:t", RemoteImageError("x"))
    assert (
        str(err)
        == f"connect to repo store {go_quote('h/r:t')}: x"
        == 'connect to repo store "h/r:t": x'
    )


def test_the_old_errors_go_quote_warns_and_is_goformats():
    from flakymirror.client import errors

    with pytest.warns(DeprecationWarning, match="errors.go_quote is deprecated"):
        old = errors.go_quote
    assert old is go_quote


def _definitions_and_texts(path: Path) -> tuple[set[str], list[tuple[int, str]]]:
    """The functions ``path`` defines, and the Go texts its string constants spell (docstrings,
    which may describe a text, aside)."""
    tree = ast.parse(path.read_text(), str(path))
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    texts = [
        (node.lineno, text)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        for text in GO_TEXTS
        if text in node.value
    ]
    return defined, texts


def test_no_second_home_for_go_formatting():
    helpers = set(goformat.__all__)
    home_defs, home_texts = _definitions_and_texts(HOME)
    assert helpers <= home_defs
    assert {text for _, text in home_texts} == set(GO_TEXTS)  # the check can see each text
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == HOME:
            continue
        defined, texts = _definitions_and_texts(path)
        where = path.relative_to(PACKAGE.parent)
        offenders += [f"{where}: defines {name}" for name in sorted(defined & helpers)]
        offenders += [f"{where}:{line}: spells {text!r}" for line, text in texts]
    assert offenders == []
