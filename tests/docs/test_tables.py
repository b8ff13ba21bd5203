"""Tables of the documentation agree with what they describe: the registry, the demo's fit."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from jetscale.features import FEATURE_SETS, FEATURES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def table_rows(heading: str) -> list[list[str]]:
    """Cells of the Markdown table under ``## heading``, header and rule left out."""
    section = PAGE.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def parse_clip(cell: str) -> tuple[float, float]:
    if cell == "none":
        return -math.inf, math.inf
    low, high = (float(v) for v in re.fullmatch(r"\[(\S+), (\S+)\]", cell).groups())
    return low, high


def test_feature_table_matches_the_registry() -> None:
    full21 = FEATURE_SETS["full21"]
    rows = table_rows("The 21 features")
    covered = []
    for index, names, _definition, center, scale, clip in rows:
        first, *rest = re.findall(r"`(\w+)`", names)
        start = int(index.split("-")[0])
        stop = int(index.split("-")[-1])
        assert full21[start] == first, f"row {index}: {first} is {full21[start]} in the registry"
        if rest:
            assert full21[stop] == rest[-1]
        for name in full21[start : stop + 1]:
            spec = FEATURES[name]
            assert (spec.center, spec.scale) == (float(center), float(scale)), name
            assert (spec.lower, spec.upper) == parse_clip(clip), name
        covered.extend(range(start, stop + 1))
    assert covered == list(range(len(full21))) == list(range(21))


def test_feature_set_table_matches_the_registry() -> None:
    full21 = FEATURE_SETS["full21"]
    rows = table_rows("Feature sets")
    assert [row[0].strip("`") for row in rows] == list(FEATURE_SETS)
    for name, indices, count, _needs in rows:
        expected = []
        for part in indices.split(", "):
            low, _, high = part.partition("-")
            expected.extend(range(int(low), int(high or low) + 1))
        assert [full21.index(f) for f in FEATURE_SETS[name.strip("`")]] == expected, name
        assert int(count) == len(expected), name


def test_scaling_demo_table_matches_its_fit_json() -> None:
    """The results page quotes the committed ``fit.json`` of the demo study, rounded."""
    repo = PAGE.parents[1]
    fit = json.loads((repo / "analysis_examples/scaling_demo/results/fit.json").read_text())
    page = (repo / "docs" / "results.md").read_text()
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", page, flags=re.MULTILINE))
    parametric = fit["parametric"]
    for name, label in (("alpha", "alpha (N exponent)"), ("beta", "beta (D exponent)")):
        low, high = parametric["intervals"][name]
        quoted = f"{parametric['params'][name]:.3f} [{low:.3f}, {high:.3f}]"
        assert rows[label] == quoted, (label, rows[label], quoted)
    rms = f"{parametric['rms_log_residual']:.3f} on {parametric['n_points']} single-epoch runs"
    assert rows["rms of ln(observed / fitted)"] == rms
    exponent = fit["frontier_from_parametric_fit"]["N_opt_exponent"]
    assert rows["N_opt ~ C^a, approach 3 (parametric)"] == f"a = {exponent:.3f}"
    assert rows["R* (repetition)"].startswith(f"{fit['repetition']['R_star']:.0f} [")
