"""The package's layering, read from the source with ``ast``: layers point down only, and no
module reaches into another's private names.

    cli, api, explain, progress          the edges a person uses
    evaluate                             sweeps and metrics over the pipeline
    pipeline                             stages: read -> pure core -> write, and the runner
    index, spans, near, text, io, engines  what the stages stand on
    config, errors, schemes, _version    everywhere

An import inside a function counts as much as one at the top: a lazy import of an upper layer
only hides the cycle (move the shared code down instead).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dedupe"

LOWER = ("index", "near", "text", "io", "spans", "engines")
UPPER = ("dedupe.pipeline", "dedupe.evaluate", "dedupe.cli", "dedupe.api", "dedupe.explain",
         "dedupe.progress")

# Private names that one module may import from another: none.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"), str(path))


MODULES = list(_modules())


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level] if node.level else []
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, tree: ast.AST):
    """``(imported module, name or None)`` for every import anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                yield source, alias.name


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(name: str) -> bool:
    return any(m == name for m, _, _ in MODULES)


def test_the_walk_sees_the_package():
    names = {m for m, _, _ in MODULES}
    assert {"dedupe.near.lsh", "dedupe.index.build", "dedupe.pipeline.runner"} <= names


@pytest.mark.parametrize("layer", LOWER)
def test_lower_layers_never_import_upper_ones(layer):
    wrong = [
        f"{module} imports {source}"
        for module, _, tree in MODULES
        if module.startswith(f"dedupe.{layer}")
        for source, name in _imports(module, tree)
        for target in ([source] if name is None else [source, f"{source}.{name}"])
        if any(target == up or target.startswith(up + ".") for up in UPPER)
    ]
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_pipeline_never_imports_evaluate_or_the_cli():
    wrong = [
        f"{module} imports {source}"
        for module, _, tree in MODULES
        if module.startswith("dedupe.pipeline")
        for source, _ in _imports(module, tree)
        if source.startswith(("dedupe.evaluate", "dedupe.cli"))
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_another_modules_private_names():
    """``from dedupe.x import _y`` and ``x._y`` on an imported dedupe module are both reaching
    in; ``dedupe._version`` (a private module with a public name) is the one allowed case."""
    found = set()
    for module, _, tree in MODULES:
        aliases = {}  # local name -> dedupe module it is bound to
        for source, name in _imports(module, tree):
            if not source.startswith("dedupe"):
                continue
            if name is not None and _private(name) and source != module:
                found.add((module, source, name))
            if name is not None and _is_module(f"{source}.{name}"):
                aliases[name] = f"{source}.{name}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name.startswith("dedupe"):
                        aliases[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    full = f"{_absolute(module, node)}.{alias.name}"
                    if alias.asname and _is_module(full):
                        aliases[alias.asname] = full
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr)
                    and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and aliases[node.value.id] != module):
                found.add((module, aliases[node.value.id], node.attr))
    wrong = sorted(found - KNOWN_PRIVATE_IMPORTS)
    assert not wrong, "\n".join(f"{m} uses {s}.{n}" for m, s, n in wrong)


def test_version_comes_from_its_own_module():
    """``from dedupe import __version__`` (or ``dedupe.__version__``) inside the package would
    import the package root, the public API and so the runner, from below it."""
    wrong = set()
    for module, _, tree in MODULES:
        if module in ("dedupe", "dedupe._version"):
            continue
        for source, name in _imports(module, tree):
            if source == "dedupe" and name == "__version__":
                wrong.add(module)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "__version__"
                    and isinstance(node.value, ast.Name) and node.value.id == "dedupe"):
                wrong.add(module)
    assert not wrong, sorted(wrong)
