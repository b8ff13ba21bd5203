"""The documentation builds with Sphinx, warnings as errors (what the README tells you to run)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The ``docs`` extra: Sphinx, the furo theme, MyST (Markdown pages), sphinx-argparse.
DOCS_MODULES = ("sphinx", "furo", "myst_parser", "sphinxarg")


@pytest.fixture(scope="module")
def docs_requirements() -> None:
    missing = [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        msg = f"documentation tools missing: {', '.join(missing)} (pip install -e '.[docs]')"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.usefixtures("docs_requirements")
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    """About 11-16 s on 2 cores (every module of the API page is imported): not marked slow."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    result = subprocess.run(
        [*command, str(REPO / "docs"), str(tmp_path / "html")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert "WARNING" not in result.stderr, result.stderr[-6000:]
    for page in ("index", "cli", "api", "performance", "changelog"):
        assert (tmp_path / "html" / f"{page}.html").is_file()
    cli = (tmp_path / "html" / "cli.html").read_text()
    assert all(f'id="{name}"' in cli for name in ("run", "tag", "fit")), "subcommands missing"
