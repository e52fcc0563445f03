"""Each protocol fact has one home: a copy of it anywhere else in flakymirror/ fails here, naming
the file and line of the copy."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flakymirror"


@dataclass(frozen=True)
class Fact:
    """A fact, the module that is its home, and how to recognise a literal copy of it."""

    name: str
    home: str
    strings: frozenset[str] = frozenset()
    group: frozenset[object] = frozenset()


FACTS = (
    Fact("API version header", "oci/protocol.py",
         strings=frozenset({"Docker-Distribution-API-Version", "registry/2.0"})),
    Fact("lifecycle's opener delays", "oci/policy.py", group=frozenset({0.1, 0.2, 0.5, 1.0, 2.0})),
    Fact("non-retryable statuses", "oci/policy.py", group=frozenset({400, 401, 403, 405, 429})),
    Fact("retry profile names", "oci/policy.py",
         group=frozenset({"ggcr-v0.21.5", "ggcr-v0.21.9", "none"})),
    Fact("endpoint kinds", "oci/protocol.py",
         group=frozenset({"ping", "token", "manifest", "blob", "upload", "tags", "catalog"})),
    Fact("error body shapes", "mirror/actions.py",
         group=frozenset({"oci", "text", "html", "empty"})),
    Fact("digest grammar", "oci/digest.py",
         strings=frozenset({r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"})),
    Fact("repository grammar", "oci/reference.py",
         strings=frozenset({r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"})),
)  # fmt: skip

#: Places that hold a fact's words for another reason than stating the fact.
ALLOWED = {
    ("retry profile names", "client/retry.py"),  # the profile values the names name (tested)
}


def copies(source: str, fact: Fact) -> list[int]:
    """Lines of ``source`` holding a literal copy of ``fact``: one of its strings inside a string
    constant, or a tuple, list or set literal holding every member of its group (any order)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(s in node.value for s in fact.strings):
                lines.append(node.lineno)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set) and fact.group:
            values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if values >= fact.group:
                lines.append(node.lineno)
    return lines


def _is_docstring_only(source: str, line: int) -> bool:
    """Docstrings and comments may name a fact in prose."""
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.lineno <= line <= (value.end_lineno or value.lineno)
            ):
                return True
    return False


def test_the_scanner_finds_copies_and_ignores_prose():
    fact = FACTS[1]
    source = '"""Delays 0.1, 0.2, 0.5, 1.0, 2.0 in prose."""\nD = (0.1, 0.2, 0.5, 1.0, 2.0)\n'
    assert copies(source, fact) == [2]
    assert copies("X = {2.0, 1.0, 0.5, 0.2, 0.1}\n", fact) == [1]
    assert copies("X = (0.1, 0.2)\n", fact) == []
    header = FACTS[0]
    assert copies('H = ("Docker-Distribution-API-Version", "x")\n', header) == [1]
    assert _is_docstring_only('"""registry/2.0"""\n', 1)


@pytest.mark.parametrize("fact", FACTS, ids=lambda f: f.name)
def test_a_fact_is_written_only_in_its_home(fact: Fact):
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == fact.home or (fact.name, rel) in ALLOWED:
            continue
        source = path.read_text()
        found += [
            f"flakymirror/{rel}:{line}"
            for line in copies(source, fact)
            if not _is_docstring_only(source, line)
        ]
    assert found == [], f"{fact.name} is copied outside flakymirror/{fact.home}: {found}"


def test_each_home_holds_its_fact():
    for fact in FACTS:
        source = (PACKAGE / fact.home).read_text()
        assert copies(source, fact), f"{fact.name}: no longer in {fact.home}"
