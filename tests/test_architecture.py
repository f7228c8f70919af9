"""The package's floor plan, read from its own source with ``ast``.

* Every import points down the pipeline's layers (README "Python API"), lazy imports included;
* no import circles; no module imports another module's ``_private`` name;
* torch is imported only from ``models/`` up;
* the shared vocabulary is defined once (``constants.py``), and no module is over 600 lines.

Each rule is a small function over ``{module: source}``; the last tests feed them made-up
modules that break each rule, so a rule that could never fail would show up here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "melodyrnn"

# Bottom to top. A module may import modules of its own layer or below, never above.
LAYERS = [
    (
        "melodyrnn.constants",
        "melodyrnn.errors",
        "melodyrnn.fields",
        "melodyrnn.files",
        "melodyrnn.limits",
        "melodyrnn.scales",
    ),
    ("melodyrnn.sequence", "melodyrnn.joining"),
    ("melodyrnn.io",),
    ("melodyrnn.events",),
    ("melodyrnn.encoding",),
    ("melodyrnn.pipelines",),
    ("melodyrnn.models",),
    ("melodyrnn.generation",),
    ("melodyrnn.training",),
    ("melodyrnn.render",),
    ("melodyrnn.live",),
    ("melodyrnn.summary", "melodyrnn.cli", "melodyrnn.__main__"),
]
TORCH_FROM = "melodyrnn.models"
VOCABULARY_WORDS = ("EVENT", "NOTE", "PITCH", "STEPS", "OCTAVE", "SCALE", "KEY")
MAX_LINES = 600


def package_sources() -> dict[str, str]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text(encoding="utf-8")
    return out


def layer_of(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _is_package(module: str, sources: dict[str, str]) -> bool:
    return any(other.startswith(module + ".") for other in sources)


def imports(module: str, source: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement, lazy ones too."""
    found = []
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, target] if target else base)
            found.append((target, [a.name for a in node.names], node.lineno))
    return found


def _internal_edges(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> package modules it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    edges: dict[str, set[str]] = {m: set() for m in sources}
    for module, source in sources.items():
        for target, names, _ in imports(module, source):
            if not target.startswith("melodyrnn"):
                continue
            for name in names or [""]:
                sub = f"{target}.{name}"
                edges[module].add(sub if sub in sources else target)
    return edges


def layering_violations(sources: dict[str, str]) -> list[str]:
    out = []
    for module, targets in _internal_edges(sources).items():
        rank = layer_of(module)
        if module == "melodyrnn" or rank is None:
            continue  # the facade re-exports lazily from every layer
        for target in targets:
            target_rank = layer_of(target)
            if target_rank is not None and target_rank > rank:
                out.append(f"{module} imports {target}, a layer above it")
    return sorted(out)


def import_cycles(sources: dict[str, str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (package __init__s left out)."""
    edges = {
        m: {t for t in ts if t in sources and not _is_package(t, sources)}
        for m, ts in _internal_edges(sources).items()
        if not _is_package(m, sources)
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                cycles.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def private_imports(sources: dict[str, str]) -> list[str]:
    out = []
    for module, source in sources.items():
        for target, names, line in imports(module, source):
            if not target.startswith("melodyrnn") or target == module:
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    out.append(f"{module}:{line} imports {name} from {target}")
    return sorted(out)


def torch_below_models(sources: dict[str, str]) -> list[str]:
    limit = layer_of(TORCH_FROM)
    out = []
    for module, source in sources.items():
        rank = layer_of(module)
        if rank is None or rank >= limit:
            continue
        for target, _, line in imports(module, source):
            if target == "torch" or target.startswith("torch."):
                out.append(f"{module}:{line} imports torch")
    return sorted(out)


def _constant_assignments(source: str) -> dict[str, ast.expr]:
    out = {}
    for node in ast.parse(source).body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = [(t, node.value) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            targets = [(node.target, node.value)]
        for target, value in targets:
            if target.id.lstrip("_").isupper():
                out[target.id] = value
    return out


def vocabulary_redefinitions(
    sources: dict[str, str], home: str = "melodyrnn.constants"
) -> list[str]:
    """Names of the vocabulary module assigned elsewhere, and vocabulary-like literal constants
    (event values, note/pitch/step/key tables) defined with the same value in two modules."""
    vocabulary = set(_constant_assignments(sources[home]))
    out = []
    seen: dict[tuple[str, str], str] = {}
    for module, source in sorted(sources.items()):
        for name, value in _constant_assignments(source).items():
            if module != home and name in vocabulary:
                out.append(f"{module} defines {name}, which lives in {home}")
            if not any(word in name.upper() for word in VOCABULARY_WORDS):
                continue
            try:
                literal = repr(ast.literal_eval(value))
            except ValueError:
                continue
            key = (name.lstrip("_"), literal)
            if key in seen and seen[key] != module:
                out.append(f"{name} = {literal} is defined in {seen[key]} and {module}")
            seen.setdefault(key, module)
    return sorted(out)


# --- the package --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return package_sources()


def test_every_module_has_a_layer(sources):
    assert [m for m in sources if m != "melodyrnn" and layer_of(m) is None] == []


def test_imports_point_down_the_layers(sources):
    assert layering_violations(sources) == []


def test_no_import_circles(sources):
    assert import_cycles(sources) == []


def test_no_module_imports_another_modules_private_name(sources):
    assert private_imports(sources) == []


def test_torch_only_from_models_up(sources):
    assert torch_below_models(sources) == []


def test_the_vocabulary_is_defined_once(sources):
    assert vocabulary_redefinitions(sources) == []


def test_no_module_is_over_600_lines(sources):
    long = {m: s.count("\n") for m, s in sources.items() if s.count("\n") > MAX_LINES}
    assert long == {}


# --- the rules catch what they are for ------------------------------------------------------


def test_rules_catch_made_up_violations():
    fake = {
        "melodyrnn.constants": "NO_EVENT = -2\n",
        "melodyrnn.sequence": "import torch\nfrom melodyrnn.io.midi import _helper\n",
        "melodyrnn.io": "",
        "melodyrnn.io.midi": "from melodyrnn.io import fast\nNOTE_OFF_VALUE = -1\n",
        "melodyrnn.io.fast": "from melodyrnn.io.midi import x\nNO_EVENT = -2\n",
        "melodyrnn.events": "",
        "melodyrnn.events.melody": (
            "from melodyrnn.generation import sampler\nNOTE_OFF_VALUE = -1\n"
        ),
        "melodyrnn.generation": "",
        "melodyrnn.generation.sampler": "",
    }
    assert layering_violations(fake) == [
        "melodyrnn.events.melody imports melodyrnn.generation.sampler, a layer above it",
        "melodyrnn.sequence imports melodyrnn.io.midi, a layer above it",
    ]
    assert import_cycles(fake) == [["melodyrnn.io.fast", "melodyrnn.io.midi"]]
    assert private_imports(fake) == ["melodyrnn.sequence:2 imports _helper from melodyrnn.io.midi"]
    assert torch_below_models(fake) == ["melodyrnn.sequence:1 imports torch"]
    assert vocabulary_redefinitions(fake) == [
        "NOTE_OFF_VALUE = -1 is defined in melodyrnn.events.melody and melodyrnn.io.midi",
        "NO_EVENT = -2 is defined in melodyrnn.constants and melodyrnn.io.fast",
        "melodyrnn.io.fast defines NO_EVENT, which lives in melodyrnn.constants",
    ]


def test_relative_imports_are_resolved():
    found = imports("melodyrnn.io.midi", "from . import midi_fast\nfrom .midi_checks import x\n")
    assert [t for t, _, _ in found] == ["melodyrnn.io", "melodyrnn.io.midi_checks"]
