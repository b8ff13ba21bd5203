"""The package's structure: layers without upward imports or cycles, lazy heavy imports.

Each unit (a top-level module or subpackage of ``jetscale``) sits in a layer and
may import only units of lower layers, so a newcomer can read the package from
the bottom up and no import cycle can form between units.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"jetscale": ROOT / "src" / "jetscale", "jetscale.processors": ROOT / "processors"}

#: Units from the bottom up; a unit may import only units of earlier layers.
LAYERS: list[set[str]] = [
    {
        "jetscale._version",
        "jetscale._optional",
        "jetscale._fields",
        "jetscale.schema",
        "jetscale.phase_space",
    },
    {"jetscale.task", "jetscale.provenance"},
    {"jetscale.io", "jetscale.dask_client"},
    {"jetscale.features", "jetscale.generate", "jetscale.metrics"},
    {"jetscale.sidecar", "jetscale.histograms", "jetscale.nn", "jetscale.shipped"},
    {"jetscale.train", "jetscale.inference", "jetscale.runner"},
    {"jetscale.export", "jetscale.processors", "jetscale.scaling", "jetscale.transfer"},
    {"jetscale.plotting"},
    {"jetscale.jobs"},
    {"jetscale.commands"},
    {"jetscale.cli"},
]
LAYER_OF = {unit: index for index, layer in enumerate(LAYERS) for unit in layer}


def modules() -> Iterator[tuple[str, Path]]:
    """``(dotted name, path)`` of every module of the package, processors included."""
    for prefix, base in SOURCES.items():
        for path in sorted(base.rglob("*.py")):
            if prefix == "jetscale" and path.is_relative_to(SOURCES["jetscale.processors"]):
                continue
            parts = path.relative_to(base).with_suffix("").parts
            yield ".".join([prefix, *parts]).removesuffix(".__init__"), path


def unit(module: str) -> str:
    """The unit of a dotted module name: ``jetscale.x`` of ``jetscale.x.y.z``."""
    return ".".join(module.split(".")[:2])


def imported_modules(path: Path) -> Iterator[str]:
    """Every ``jetscale`` module ``path`` imports (``from jetscale import x`` -> ``jetscale.x``)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("jetscale"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "jetscale":
                yield from (f"jetscale.{a.name}" for a in node.names)
            elif node.module.startswith("jetscale."):
                yield node.module


def unit_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in modules():
        if module == "jetscale":
            continue  # the root __init__ only re-exports the version
        for target in imported_modules(path):
            if unit(target) != unit(module):
                edges.setdefault(unit(module), set()).add(unit(target))
    return edges


def test_every_unit_has_a_layer() -> None:
    units = {unit(m) for m, _ in modules()} - {"jetscale"}
    assert units == set(LAYER_OF), "add new modules or packages to LAYERS"


def test_no_upward_imports() -> None:
    upward = [
        f"{source} (layer {LAYER_OF[source]}) imports {target} (layer {LAYER_OF[target]})"
        for source, targets in unit_edges().items()
        for target in targets
        if LAYER_OF[target] >= LAYER_OF[source]
    ]
    assert upward == []


def test_no_import_cycles_between_units() -> None:
    """Independent of the layers: a depth-first search over the unit graph finds no cycle."""
    edges = unit_edges()
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                pytest.fail(f"import cycle: {' -> '.join([*path, node, target])}")
            if target not in state:
                visit(target, [*path, node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])


def test_no_module_imports_private_names() -> None:
    private = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jetscale"):
                private += [
                    f"{module} imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and a.name != "__version__"
                ]
    assert private == []


def test_no_module_selects_a_matplotlib_backend() -> None:
    """``matplotlib.use`` at import switches a notebook's inline backend off."""
    calls = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "use"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"mpl", "matplotlib"}
            ):
                calls.append(f"{module}:{node.lineno}")
    assert calls == []


def loaded_after(statement: str) -> set[str]:
    """Top-level modules in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"{statement}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def test_processors_load_neither_torch_nor_matplotlib() -> None:
    loaded = loaded_after("import jetscale.processors")
    assert "coffea" in loaded and "onnxruntime" not in loaded
    assert {"torch", "matplotlib", "mplhep"} & loaded == set()


def test_plotting_package_imports_matplotlib_only_when_a_figure_module_loads() -> None:
    assert "matplotlib" not in loaded_after("import jetscale.plotting, jetscale.histograms")
    assert "matplotlib" in loaded_after("from jetscale.plotting import plot_roc")


def test_cli_is_a_dispatcher() -> None:
    """Subcommand options live in jetscale.commands; the CLI module declares only global ones."""
    tree = ast.parse((ROOT / "src" / "jetscale" / "cli.py").read_text())
    options = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
    ]
    assert len(options) <= 3
    assert "matplotlib" not in loaded_after("import jetscale.cli")
