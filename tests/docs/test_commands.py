"""Every shell command the documentation and the README show is run, or checked against the code.

Commands are read from the ```bash blocks of ``docs/*.md`` and ``README.md``.
Cheap ones run here exactly as written. Expensive ones (the main job, Pythia
generation, training, sweeps, benchmarks) are exercised by the tests named in
``EXPENSIVE`` with smaller inputs; here each is parsed by the real argument
parser, so a renamed or removed option, subcommand or file fails this test.
A command that fits no rule fails too: classify it below when you add one.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from jetscale.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: Commands run here as written (the cheap ones).
CHEAP = ("jetscale --help", "jetscale cards")
#: jetscale subcommands that cost minutes, and the tests that run them on small inputs.
EXPENSIVE = {
    "run": "tests/test_cli.py (the main job on existing files); README command 1 is the full run",
    "generate": "tests/generate/ and tests/test_cli.py (a few jets per class)",
    "features": "tests/test_cli.py",
    "train": "tests/train/ (tiny models, SIGKILL resume, DDP on CPU)",
    "pretrain": "tests/transfer/test_pretrain.py and test_contrastive_pretraining.py (tiny backbones, resume, the command line)",
    "finetune": "tests/transfer/test_finetune_run.py (policies through the loop, the command line)",
    "export": "tests/export/",
    "tag": "tests/test_cli.py (JetClass and the shared NanoAOD files)",
    "scan": "tests/jobs/ (sweeps on a local dask cluster)",
    "fit": "tests/jobs/ and test_fit_on_the_committed_demo_table below",
    "cka": "tests/transfer/test_cka_command.py (checkpoints of small models, 200-260 jets)",
    "robustness": "tests/transfer/test_robustness.py (an ONNX model and a checkpoint, 60 groups)",
    "transfer-study": "tests/transfer/test_study.py (scratch and full, 2 n x 2 seeds, local dask)",
}
#: Files whose every documented option must appear in their --help (benchmarks take minutes).
BENCHMARKS = "benchmarks/"
#: Scripts that chain jetscale commands (30 and 18 minutes): checked for syntax and for
#: the jetscale commands they run, which EXPENSIVE covers.
SHELL_SCRIPTS = (
    "recipes/default_models/run.sh",
    "analysis_examples/scaling_demo/run.sh",
    "analysis_examples/foundation_demo/run.sh",
    "analysis_examples/foundation_demo/generate.sh",
)


def documented_commands() -> list[tuple[str, str]]:
    """``(page, command)`` for every command line of every ```bash block."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.DOTALL):
            text = re.sub(r"\\\n\s*", " ", block)  # join continued lines
            for line in text.splitlines():
                command = line.split(" #", 1)[0].strip()  # without a trailing comment
                if command and not command.startswith("#"):
                    found.extend((page.name, part.strip()) for part in command.split("&&"))
    return found


COMMANDS = documented_commands()


def example_command(script: Path) -> list[str]:
    """The command line in an example's docstring (``Run: python docs/examples/...``)."""
    assert script.is_file(), f"{script.relative_to(REPO)} does not exist"
    docstring = ast.get_docstring(ast.parse(script.read_text())) or ""
    found = re.search(r"^Run[^:\n]*: (python docs/examples/.*)$", docstring, flags=re.M)
    assert found, f"{script.name} documents no command line"
    return shlex.split(re.sub(r"\[[^]]*\]", "", found[1]))


def main_job_outputs() -> set[str]:
    """What the main job writes at the top of ``jetscale-output/``, from the README's tree."""
    readme = (REPO / "README.md").read_text()
    tree = readme.split("\njetscale-output/\n", 1)[1].split("```", 1)[0]
    return {entry.split("/")[0] for entry in re.findall(r"^  (\S+)", tree, flags=re.M)}


def parse_jetscale(argv: list[str]) -> argparse.Namespace:
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"jetscale {' '.join(argv)}: the parser refuses it (exit {exit_.code})")


def check_repository_paths(argv: list[str]) -> None:
    """Arguments that name files of the repository (configs, tables, scripts) must exist."""
    for arg in argv:
        in_repository = arg.split("/", 1)[0] in {
            "analysis_examples",
            "recipes",
            "docs",
            "benchmarks",
        }
        if in_repository and "*" not in arg and Path(arg).suffix:
            assert (REPO / arg).is_file(), f"{arg} does not exist"
        if arg.startswith("jetscale-output/"):
            written = main_job_outputs()
            assert arg.split("/")[1] in written, f"{arg}: the main job writes only {written}"


def check_command(command: str) -> None:
    """Run or check one documented command; fail for a command no rule covers."""
    argv = shlex.split(command)
    program, args = argv[0], argv[1:]
    check_repository_paths(args)
    if command in CHEAP:
        executable = shutil.which("jetscale")
        assert executable, "the jetscale entry point is not installed (pip install -e .)"
        result = subprocess.run(
            [executable, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
    elif program == "jetscale":
        namespace = parse_jetscale(args)
        assert namespace.command in EXPENSIVE, f"no test covers `jetscale {namespace.command}`"
    elif program == "python" and args[:1] == ["-m"]:
        module = args[1]
        # pytest is the suite itself; sphinx is test_build.py.
        assert module in {"pytest", "sphinx"}, f"unknown module command: {command}"
        if module == "pytest" and "-m" in args[2:]:
            markers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
            declared = {m.split(":")[0] for m in markers["ini_options"]["markers"]}
            expression = args[args.index("-m", 2) + 1]
            assert set(re.findall(r"\w+", expression)) - {"not", "and", "or"} <= declared
    elif program == "python" and args[0].startswith("docs/examples/"):
        # test_examples.py runs the command in the script's docstring: it must be this one.
        assert argv == example_command(REPO / args[0]), f"not what {args[0]} documents"
    elif program == "python" and args[0].startswith(BENCHMARKS):
        result = subprocess.run(
            [sys.executable, args[0], "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        for option in (a for a in args[1:] if a.startswith("--")):
            assert option in result.stdout, f"{args[0]} has no option {option}"
    elif program == "bash":
        assert args[0] in SHELL_SCRIPTS, f"unknown script: {command}"
        subprocess.run(["bash", "-n", str(REPO / args[0])], check=True)
        for line in (REPO / args[0]).read_text().splitlines():
            if line.strip().startswith("jetscale ") and "$" not in line.split()[1]:
                assert line.split()[1] in EXPENSIVE, line
    elif program == "pip":
        # What .ci/run itself does; here: every extra the command names exists.
        extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
        known = set(extras["optional-dependencies"])
        for arg in args:
            if match := re.fullmatch(r"\.\[([\w,]+)\]", arg):
                assert set(match[1].split(",")) <= known, f"unknown extra in {arg}"
    elif program in {"ruff", "mypy"}:
        pass  # the development tools; not run by the tests
    else:
        pytest.fail(f"no rule for the documented command `{command}`: add one to {__file__}")


def test_pages_show_commands() -> None:
    pages = {page for page, _ in COMMANDS}
    assert {"README.md", "getting-started.md", "cli.md", "scaling.md"} <= pages


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command(page: str, command: str) -> None:
    check_command(command)


def test_documented_shared_samples_exist(nanoaod_dir: Path) -> None:
    """Every ../shared/data/nanoaod/ file a page, command or example names is one of the samples."""
    texts = [*PAGES, *sorted((REPO / "docs" / "examples").glob("*.py"))]
    named = {
        name
        for path in texts
        for name in re.findall(r"\.\./shared/data/nanoaod/([\w.-]+)", path.read_text())
    }
    assert named, "the pages name the shared samples"
    missing = sorted(name for name in named if not (nanoaod_dir / name).is_file())
    assert not missing, f"named but not in {nanoaod_dir}: {missing}"


def test_fit_on_the_committed_demo_table(tmp_path: Path) -> None:
    """The scaling page's cheap fit, run as written (about 7 s: 5 bootstrap resamples)."""
    command = next(c for _, c in COMMANDS if c.startswith("jetscale fit analysis_examples/"))
    (tmp_path / "analysis_examples").symlink_to(REPO / "analysis_examples")
    executable = shutil.which("jetscale")
    assert executable, "the jetscale entry point is not installed (pip install -e .)"
    result = subprocess.run(
        [executable, *shlex.split(command)[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out_dir = tmp_path / shlex.split(command)[shlex.split(command).index("--out") + 1]
    assert (out_dir / "fit.json").is_file()
    assert "53 single-epoch runs" in result.stdout
