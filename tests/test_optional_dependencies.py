"""A missing optional dependency fails with the extra to install, not a bare ModuleNotFoundError.

Each case hides one module in a fresh interpreter (``sys.modules[name] = None``
makes every import of it fail, exactly as if it were not installed) and runs a
public entry point that needs it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [
    ("torch", "from jetscale.train import train", "ml"),
    ("torch", "from jetscale.nn import JetTransformer", "ml"),
    ("onnx", "from jetscale.export import export_run", "ml"),
    ("onnxruntime", "from jetscale.inference import OnnxTagger", "tag"),
    ("coffea", "from jetscale.inference import OnnxTagger", "tag"),
    ("coffea", "import jetscale.processors", "tag"),
    ("coffea", "from jetscale.runner import run_fileset", "coffea"),
    (
        "coffea",
        "from jetscale.histograms.writers import write_coffea; write_coffea({}, 'x')",
        "coffea",
    ),
    ("pythia8mc", "from jetscale.generate.events import make_pythia; make_pythia([])", "gen"),
    (
        "fastjet",
        "import awkward as ak; from jetscale.generate.substructure import cluster_constituents; "
        "cluster_constituents(ak.Array([[{'px': 1.0, 'py': 0.0, 'pz': 0.0, 'energy': 1.0}]]), 0.0)",
        "gen",
    ),
    ("matplotlib", "from jetscale.plotting import plot_roc", "plot"),
    ("mplhep", "import jetscale.plotting.tagger", "plot"),
    (
        "dask",
        "from jetscale.jobs.scan import scan; scan(None, 'never-written')",
        "dask",
    ),
    (
        "distributed",
        "from jetscale.generate import generate; "
        "generate('never-written', ['QCD'], 1, executor='dask')",
        "dask",
    ),
]


def run_hidden(module: str, statement: str) -> subprocess.CompletedProcess[str]:
    code = f"import sys\nsys.modules[{module!r}] = None\n{statement}"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(("module", "statement", "extra"), CASES)
def test_missing_module_names_its_extra(module: str, statement: str, extra: str) -> None:
    result = run_hidden(module, statement)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"pip install 'jetscale[{extra}]'" in last_line, result.stderr


def test_cli_reports_a_missing_extra_in_one_line(tmp_path: object) -> None:
    result = run_hidden(
        "torch",
        "from jetscale.cli import main\n"
        "raise SystemExit(main(['train', '--data', 'x.root', '--out', 'never-written']))",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("jetscale train: error: ")
    assert "pip install 'jetscale[ml]'" in result.stderr
    assert "Traceback" not in result.stderr
