"""Every code example of the documentation runs as shown, so none can go stale.

Python examples live in ``docs/examples/*.py``; the pages show them with
``literalinclude`` and the README carries one of them verbatim. Each test runs
the command line its script's docstring documents (``Run: python
docs/examples/...``), exactly as written, in a fresh interpreter from a
repository root as a reader has it after the README's first command: the
repository's files, the main job's sample in ``jetscale-output/sample/`` and the
shared NanoAOD samples at ``../shared/data/nanoaod/``. That root is a temporary
directory, so neither a developer's own ``jetscale-output`` nor a missing one
changes what runs.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
TIMEOUT_S = 240  # each takes 2-15 s on 2 busy cores; imports (coffea, numba) dominate
#: A script whose dask workers re-run it (no __main__ guard) hangs: fail well before the
#: suite's timeout (the dask run itself takes about 20 s).
DASK_TIMEOUT_S = 150

#: Examples reading the shared NanoAOD samples at ../shared/data/nanoaod (their default).
NEEDS_NANOAOD = {
    "coffea_processor.py",
    "shipped_processor.py",
    "tag_nanoaod_jets.py",
    "tag_with_dask.py",
}
#: Examples reading the main job's sample, jetscale-output/sample/*.root.
NEEDS_MAIN_JOB_SAMPLE = {"cka_layers.py", "features_from_files.py", "jetclass_processors.py"}
#: Examples that start a local dask cluster: they run with dask's default ports taken.
STARTS_DASK_CLUSTER = {"generate_on_cluster.py"}
#: Something each example must print: its result, not only its exit status. The main
#: job's sample here is the session's generated one: 5 classes x 150 jets.
EXPECTED_OUTPUT = {
    "cka_layers.py": "400 jets, layers: embed, block1, block2, class_block1, class_block2, norm, logits\nmodel A against itself: 1.000 on the diagonal",
    "coffea_processor.py": "# Sum: 21.0",  # 21 jets above 300 GeV with candidates in pfnano.root
    "detector_card.py": "cards: atlas_like, cms, cms_parametric, coarse\ncms: 3.8 T field, tracker radius 1290.0 mm\npT =   1.0 GeV: tracking efficiency 0.70, sigma(d0) = 0.0753 mm",
    "feature_registry.py": "full21: 21 features",
    "features_from_files.py": "\n750 jets",
    "finetune_policies.py": "63 tensors loaded, 2 newly initialised, 0 refused for their shape",
    "generate_on_cluster.py": "40 jets in 2 files; generated 40 jets",  # 20 QCD, 20 Tbqq
    "jetclass_processors.py": "jets: {'sample': 750}",
    "jet_embedding.py": "40 jets, embedding 16 wide, float32\nembed and score_and_embed agree: True",
    "model_counts.py": "parameters: 60,922",  # the shipped full21 model's card
    "scaling_fit.py": "53 runs: alpha = 0.285, beta = 0.234",  # as on the results page
    "shipped_processor.py": "jets: {'ttbar': 42}",
    "tag_nanoaod_jets.py": "10 events, 24 jets",
    "tag_with_dask.py": "200 events, 42 jets",
}


def documented_command(script: Path) -> list[str]:
    """The command line in ``script``'s docstring, ``python docs/examples/NAME.py ARGS``.

    Optional arguments, in brackets, are left out.
    """
    docstring = ast.get_docstring(ast.parse(script.read_text())) or ""
    found = re.search(
        rf"^Run[^:\n]*: (python docs/examples/{re.escape(script.name)}.*)$", docstring, re.M
    )
    assert found, (
        f"{script.name}: no 'Run: python docs/examples/{script.name}' line in its docstring"
    )
    return shlex.split(re.sub(r"\[[^]]*\]", "", found[1]))


def run_script(
    argv: list[str], cwd: Path, tmp_path: Path, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (``python ...``) in ``cwd``; fail with its stderr. Temporary files go to ``tmp_path``."""
    env = {**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{shlex.join(argv)} failed:\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def reader_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository root as a reader has it: the repository's files, nothing they made."""
    root = tmp_path_factory.mktemp("reader") / "main"
    root.mkdir()
    for entry in REPO.iterdir():
        if not entry.name.startswith(".") and entry.name != "jetscale-output":
            (root / entry.name).symlink_to(entry)
    return root


@pytest.fixture(scope="module")
def main_job_sample(reader_root: Path, generated: Any) -> Path:
    """``jetscale-output/sample/``, where the main job writes its generated JetClass files."""
    sample = reader_root / "jetscale-output" / "sample"
    sample.mkdir(parents=True)
    for path in map(Path, generated.files):
        (sample / path.name).symlink_to(path.resolve())
    return sample


@pytest.fixture(scope="module")
def shared_nanoaod(reader_root: Path, nanoaod_dir: Path) -> Path:
    """The shared NanoAOD samples at ``../shared/data/nanoaod/``, beside the root."""
    target = reader_root.parent / "shared" / "data" / "nanoaod"
    target.parent.mkdir(parents=True)
    target.symlink_to(nanoaod_dir)
    return target


def test_examples_are_known() -> None:
    names = {path.name for path in EXAMPLES}
    assert names == set(EXPECTED_OUTPUT), "add new examples to EXPECTED_OUTPUT"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_as_documented(
    script: Path, reader_root: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if script.name in NEEDS_NANOAOD:
        request.getfixturevalue("shared_nanoaod")  # missing in CI fails, elsewhere skips
    if script.name in NEEDS_MAIN_JOB_SAMPLE:
        request.getfixturevalue("main_job_sample")
    if script.name in STARTS_DASK_CLUSTER:
        request.getfixturevalue("dask_default_ports_taken")
    result = run_script(documented_command(script), reader_root, tmp_path)
    assert EXPECTED_OUTPUT[script.name] in result.stdout
    assert "already in use" not in result.stderr  # distributed's words for a fixed port taken


def test_examples_hold_no_placeholders() -> None:
    """A ``...`` body runs and does nothing: the example would print a result it never computed."""
    for script in EXAMPLES:
        for node in ast.walk(ast.parse(script.read_text())):
            assert not (isinstance(node, ast.Constant) and node.value is Ellipsis), (
                f"{script.name}:{node.lineno}: `...` in code that claims to run"
            )


def is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"


def test_dask_examples_do_their_work_under_a_main_guard() -> None:
    """dask's and coffea's worker processes import the script: at import it must do nothing.

    Without the guard, a script run with a local cluster or ``executor="futures"``
    or ``"dask"`` starts its work again in every worker process, which fails or hangs.
    """
    definitions = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    for script in EXAMPLES:
        source = script.read_text()
        if "dask" not in source.lower():
            continue
        body = ast.parse(source).body[1:]  # after the docstring
        work = [node for node in body if not isinstance(node, definitions)]
        assert work and is_main_guard(body[-1]), f"{script.name}: no __main__ guard at its end"
        assert work == body[-1:], f"{script.name} works at import: {ast.unparse(work[0])[:80]}"


@pytest.mark.dask
def test_readme_example_runs_on_a_local_dask_cluster(
    reader_root: Path,
    shared_nanoaod: Path,
    dask_default_ports_taken: tuple[int, ...],
    tmp_path: Path,
) -> None:
    """The README's example with the executor its comment offers, ``"dask"`` (about 20 s)."""
    source = (DOCS / "examples" / "coffea_processor.py").read_text()
    assert source.count('executor="iterative",') == 1
    variant = tmp_path / "coffea_processor_on_dask.py"
    variant.write_text(source.replace('executor="iterative",', 'executor="dask", workers=1,'))
    result = run_script(["python", str(variant)], reader_root, tmp_path, timeout=DASK_TIMEOUT_S)
    assert EXPECTED_OUTPUT["coffea_processor.py"] in result.stdout
    assert "already in use" not in result.stderr


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


#: Fenced blocks by their info string, and the test that runs or checks each kind.
CHECKED_BLOCKS = {
    "bash": "tests/docs/test_commands.py: each command run or parsed",
    "python": "test_readme_python_blocks_are_examples_verbatim (README only)",
    "{literalinclude}": "test_example_runs_as_documented (docs/examples/*.py)",
    "yaml": "tests/transfer/test_study.py::test_the_documented_study_file_expands",
    "{eval-rst}": "test_build.py (automodule, built with warnings as errors)",
    "{argparse}": "test_build.py (the CLI reference from the parser)",
    "{include}": "test_build.py (committed result tables)",
    "{toctree}": "test_build.py",
    "": "not code: trees of files and printed output",
    "text": "not code: trees of files and printed output",
}
#: Where the one YAML block lives, which tests/transfer/test_study.py loads.
YAML_PAGES = {"transfer.md"}


def fenced_blocks(page: Path) -> list[tuple[str, str]]:
    """``(kind, text)`` of every fenced block of ``page``: the info string's first word."""
    blocks = []
    for _fence, info, text in re.findall(
        r"^(```+|~~~+)([^\n]*)\n(.*?)^\1[ \t]*$", page.read_text(), flags=re.M | re.S
    ):
        blocks.append((info.split(" ", 1)[0].strip(), text))
    return blocks


def test_every_fenced_block_is_run_or_checked() -> None:
    """A block of a kind no test runs or checks (```python on a page, ```py, ```console) fails."""
    for page in PAGES:
        for kind, text in fenced_blocks(page):
            where = f"{page.name}: a ```{kind} block"
            assert kind in CHECKED_BLOCKS, f"{where}: no test checks it\n{text[:300]}"
            if kind == "python":
                assert page.name == "README.md", f"{where}: literalinclude a docs/examples script"
            if kind == "yaml":
                assert page.name in YAML_PAGES, f"{where}: load it in a test, add the page here"
            if kind in {"", "text"}:
                code = re.findall(r"^(?:import |from \S+ import |>>> |\$ )", text, flags=re.M)
                assert not code, f"{where} looks like code: give it a kind a test checks"


def test_readme_python_blocks_are_examples_verbatim() -> None:
    """The README's Python is an example script, so running the examples runs it too."""
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README shows one coffea example"
    sources = {path.name: path.read_text() for path in EXAMPLES}
    for block in blocks:
        matches = [name for name, text in sources.items() if text == block]
        assert matches, f"README block is not a docs/examples script verbatim:\n{block[:300]}"
