"""Every code example of the documentation runs as shown, so none can go stale.

Python examples live in ``docs/examples/*.py``; the pages show them with
``literalinclude`` and the README carries one of them verbatim. Each test runs a
script in a fresh interpreter from the repository root, as a reader would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import pytest

from jetscale.io import write_jetclass

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
TIMEOUT_S = 240  # each takes 2-15 s on 2 busy cores; imports (coffea, numba) dominate

#: Examples reading the shared NanoAOD samples at ../shared/data/nanoaod (their default).
NEEDS_NANOAOD = {
    "coffea_processor.py",
    "shipped_processor.py",
    "tag_nanoaod_jets.py",
    "tag_with_dask.py",
}
#: Examples taking JetClass-format files (a glob) as their arguments.
NEEDS_JETCLASS_FILES = {"cka_layers.py", "features_from_files.py", "jetclass_processors.py"}
#: Something each example must print: its result, not only its exit status.
EXPECTED_OUTPUT = {
    "cka_layers.py": "400 jets, layers: embed, block1, block2, class_block1, class_block2, norm, logits\nmodel A against itself: 1.000 on the diagonal",
    "coffea_processor.py": "# Sum: 21.0",  # 21 jets above 300 GeV with candidates in pfnano.root
    "detector_card.py": "cards: atlas_like, cms, cms_parametric, coarse\ncms: 3.8 T field, tracker radius 1290.0 mm\npT =   1.0 GeV: tracking efficiency 0.70, sigma(d0) = 0.0753 mm",
    "feature_registry.py": "full21: 21 features",
    "features_from_files.py": "500 jets",
    "finetune_policies.py": "63 tensors loaded, 2 newly initialised, 0 refused for their shape",
    "generate_on_cluster.py": "40 jets in 2 files; generated 40 jets",  # 20 QCD, 20 Tbqq
    "jetclass_processors.py": "jets: {'sample': 500}",
    "jet_embedding.py": "40 jets, embedding 16 wide, float32\nembed and score_and_embed agree: True",
    "model_counts.py": "parameters: 60,922",  # the shipped full21 model's card
    "scaling_fit.py": "53 runs: alpha = 0.285, beta = 0.234",  # as on the results page
    "shipped_processor.py": "jets: {'ttbar': 42}",
    "tag_nanoaod_jets.py": "10 events, 24 jets",
    "tag_with_dask.py": "200 events, 42 jets",
}


def run_script(script: Path, *args: str) -> str:
    """Run ``script`` from the repository root; return its stdout, fail with its stderr."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{script.name} failed:\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def jetclass_glob(
    tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]
) -> str:
    """Two JetClass-format files of 300 and 200 synthetic jets, as a quoted glob would name them."""
    folder = tmp_path_factory.mktemp("jetclass")
    write_jetclass(folder / "a.root", make_jets(300, seed=1))
    write_jetclass(folder / "b.root", make_jets(200, seed=2))
    return str(folder / "*.root")


def test_examples_are_known() -> None:
    names = {path.name for path in EXAMPLES}
    assert names == set(EXPECTED_OUTPUT), "add new examples to EXPECTED_OUTPUT"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(script: Path, request: pytest.FixtureRequest) -> None:
    args: list[str] = []
    if script.name in NEEDS_NANOAOD:
        request.getfixturevalue("nanoaod_dir")  # missing in CI fails, elsewhere skips
    if script.name in NEEDS_JETCLASS_FILES:
        args.append(request.getfixturevalue("jetclass_glob"))
    assert EXPECTED_OUTPUT[script.name] in run_script(script, *args)


def included_examples() -> dict[str, set[str]]:
    """``{example file name: pages that literalinclude it}``."""
    shown: dict[str, set[str]] = {}
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"```\{literalinclude\}\s+(\S+)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name}: {target} does not exist"
            shown.setdefault(Path(target).name, set()).add(page.name)
    return shown


def test_every_example_is_shown_on_a_page() -> None:
    shown = included_examples()
    orphans = sorted(path.name for path in EXAMPLES if path.name not in shown)
    assert not orphans, f"examples no page shows: {orphans}"


def test_pages_show_python_only_through_examples() -> None:
    """A ```python block on a page would not be run: pages literalinclude the scripts."""
    inline = [page.name for page in DOCS.glob("*.md") if "```python" in page.read_text()]
    assert not inline, f"pages with untested Python blocks: {inline}"


def test_readme_python_blocks_are_examples_verbatim() -> None:
    """The README's Python is an example script, so running the examples runs it too."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README shows one coffea example"
    sources = {path.name: path.read_text() for path in EXAMPLES}
    for block in blocks:
        matches = [name for name, text in sources.items() if text == block]
        assert matches, f"README block is not a docs/examples script verbatim:\n{block[:300]}"
