"""The package installs as users expect: `processors/` becomes `jetscale.processors`, data files ship."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_processors_importable_from_the_installed_package() -> None:
    import jetscale.processors

    assert Path(jetscale.processors.__file__).resolve().parent == ROOT / "processors"


def test_wheel_contains_processors_and_cards(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("jetscale-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "jetscale/processors/__init__.py" in names
    assert "jetscale/generate/cards/cms.toml" in names
    assert "jetscale/py.typed" in names
    for shipped in ("full21", "kinpid"):
        for part in ("model.onnx", "preprocess.json", "model_card.json"):
            assert f"jetscale/shipped/{shipped}/{part}" in names
    assert "jetscale/export/parity_jets.parquet" in names  # export's parity check needs it


def test_cli_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jetscale.cli", "cards"], capture_output=True, text=True, check=True
    )
    assert "cms:" in result.stdout


def test_every_subpackage_is_listed_in_pyproject() -> None:
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT / "src").parts)
        for init in (ROOT / "src").rglob("__init__.py")
    }
    assert found | {"jetscale.processors"} == listed


def test_version_is_defined_once() -> None:
    """The package, the installed metadata and the CLI all report jetscale._version."""
    from importlib.metadata import version

    from jetscale import __version__
    from jetscale._version import __version__ as defined

    assert __version__ == defined == version("jetscale")
    result = subprocess.run(
        [sys.executable, "-m", "jetscale.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"jetscale {defined}"
