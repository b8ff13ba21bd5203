"""`jetscale fit` end to end on written tables, and the table checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jetscale.cli import main
from jetscale.scaling import FitError, data_law, parametric_law
from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.table import read_table

TRUTH = {"E": 0.6, "A": 40.0, "alpha": 0.34, "B": 300.0, "beta": 0.28}


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> Path:
    names = list(columns)
    rows = [",".join(names)] + [
        ",".join(str(columns[k][i]) for k in names) for i in range(len(columns[names[0]]))
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_fit_command_writes_json_with_parameters_and_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n, d = np.meshgrid(np.logspace(4, 7, 6), np.logspace(5, 8, 6))
    n, d = n.ravel(), d.ravel()
    loss = parametric_law(n, d, **TRUTH) * np.exp(np.random.default_rng(3).normal(0, 0.005, len(n)))
    table = write_csv(
        tmp_path / "runs.csv",
        {"N": n, "D": d, "loss": loss, "feature_set": np.array(["full21"] * len(n))},
    )
    assert main(["fit", str(table), "--out", str(tmp_path / "fit"), "--bootstrap", "4"]) == 0
    assert "alpha" in capsys.readouterr().out
    result = json.loads((tmp_path / "fit" / "fit.json").read_text())
    params = result["parametric"]["params"]
    for name, value in TRUTH.items():
        assert params[name] == pytest.approx(value, rel=0.05)
    frontier = result["frontier_from_parametric_fit"]
    assert frontier["convention"] == "C = 6 N D"
    assert frontier["N_opt_exponent"] == pytest.approx(
        params["beta"] / (params["alpha"] + params["beta"])
    )
    assert len(result["data_scaling_per_size"]) == 6


def test_data_law_fit_recovers_a_known_floor() -> None:
    d = np.logspace(4, 8, 9)
    loss = data_law(d, 0.45, 12.0, 0.35) * np.exp(np.random.default_rng(5).normal(0, 0.002, len(d)))
    fit = fit_data_law(d, loss, n_bootstrap=10)
    assert fit.params["L_inf"] == pytest.approx(0.45, rel=0.03)
    assert fit.params["beta"] == pytest.approx(0.35, rel=0.1)
    low, high = fit.intervals["L_inf"]
    assert low <= 0.45 <= high


def test_table_errors_name_file_and_column(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", {"N": np.array([1.0, 2.0]), "loss": np.array([1.0, 1.0])})
    with pytest.raises(FitError, match=r"bad.csv: missing column\(s\) D"):
        read_table(bad)
    negative = write_csv(
        tmp_path / "neg.csv",
        {"N": np.array([1.0, 2.0]), "D": np.array([1.0, -2.0]), "loss": np.array([1.0, 1.0])},
    )
    with pytest.raises(FitError, match=r"neg.csv: column 'D' has 1 non-positive.*row 2"):
        read_table(negative)
    assert main(["fit", str(bad), "--out", str(tmp_path / "x")]) == 2
