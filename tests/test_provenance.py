"""Provenance: version, git revision (or None), command line and seeds, never an error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jetscale._version import __version__
from jetscale.provenance import PACKAGE_DIR, git_state, provenance

REPO = Path(__file__).resolve().parents[1]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(directory: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=directory, check=True, capture_output=True, text=True).stdout


def test_fields_and_seeds() -> None:
    made = provenance(seeds={"train": 7}, argv=["jetscale", "train", "--seed", "7"])
    assert made["jetscale_version"] == __version__
    assert made["command_line"] == ["jetscale", "train", "--seed", "7"]
    assert made["seeds"] == {"train": 7}
    assert provenance()["command_line"] == sys.argv and provenance()["seeds"] == {}
    assert json.loads(json.dumps(made)) == made  # plain JSON data


@needs_git
def test_revision_is_the_checkouts_head() -> None:
    if not (REPO / ".git").exists() or not PACKAGE_DIR.is_relative_to(REPO):
        pytest.skip("jetscale does not run from this repository's checkout")
    head = git(REPO, "rev-parse", "HEAD").strip()
    made = provenance()
    assert made["git_revision"] == head and len(head) == 40
    assert isinstance(made["git_dirty"], bool)


@needs_git
def test_outside_a_checkout_and_untracked_files_give_none(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    assert git_state(tmp_path) == (None, None)  # no repository at all
    repo = tmp_path / "repo"
    (repo / "venv" / "jetscale").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "first")
    installed = repo / "venv" / "jetscale"
    (installed / "__init__.py").write_text("")
    # A jetscale installed into a virtual environment inside some repository: not its revision.
    assert git_state(installed) == (None, None)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "second")
    git_state.cache_clear()  # cached per directory: a process's revision does not change
    assert git_state(installed) == (git(repo, "rev-parse", "HEAD").strip(), False)


def test_without_git_the_revision_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable to find
    git_state.cache_clear()
    try:
        made = provenance()
        assert made["git_revision"] is None and made["git_dirty"] is None
    finally:
        git_state.cache_clear()
