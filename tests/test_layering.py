"""The house rule "imports point down", checked on the source: faces → trial → scenario →
(mirror, client) → registry → oci. The client must never know the mirror or the server side."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flakymirror"

#: area → the flakymirror areas it must not import
FACES = {
    "pytest_plugin", "_plugin_scenario", "_plugin_journal", "_plugin_trial", "cli", "strategies"
}  # fmt: skip
FORBIDDEN = {
    "oci": {"registry", "mirror", "client", "scenario", "trial", "distribution"} | FACES,
    "registry": {"mirror", "client", "scenario", "trial", "distribution"} | FACES,
    "mirror": {"client", "scenario", "trial", "distribution"} | FACES,
    "client": {"registry", "mirror", "scenario", "trial", "distribution"} | FACES,
    "scenario": {"trial"} | FACES,
    "trial": FACES,
}


def flakymirror_imports(path: Path) -> set[str]:
    """The flakymirror areas a module imports (absolute and relative imports)."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = list(module[: len(module) - node.level])
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "flakymirror" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_flakymirror_imports_resolves_absolute_and_relative():
    assert flakymirror_imports(PACKAGE / "trial" / "serve.py") >= {"mirror", "scenario", "trial"}
    assert "oci" in flakymirror_imports(PACKAGE / "registry" / "store.py")


@pytest.mark.parametrize("area", sorted(FORBIDDEN))
def test_imports_point_down(area: str):
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(flakymirror_imports(path) & FORBIDDEN[area])
        for path in sorted((PACKAGE / area).rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"{area} must not import {sorted(FORBIDDEN[area])}"


@pytest.mark.parametrize("package", ["flakymirror.client", "flakymirror.mirror"])
def test_lazy_packages_export_every_name_they_list(package: str):
    """A package that imports its names on first use lists each one once and can import it."""
    import importlib

    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._HOME), "__all__ and _HOME disagree"
    for name in module.__all__:
        assert getattr(module, name) is not None
    assert dir(module) == sorted(module.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018
