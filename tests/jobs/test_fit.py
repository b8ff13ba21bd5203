"""`jetscale fit` end to end on written tables, and the table checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jetscale.cli import main
from jetscale.io.lock import LOCK_NAME
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
    # no C column: the convention falls back to 6 N D in the table's own units, and says so
    assert frontier["convention"].startswith("C = 6 N D (the table has no C column")
    assert frontier["N_opt_exponent"] == pytest.approx(
        params["beta"] / (params["alpha"] + params["beta"])
    )
    assert len(result["data_scaling_per_size"]) == 6


def test_an_unresolved_floor_is_printed_as_consistent_with_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A floor the runs do not resolve prints as words; fit.json keeps the number and says so."""
    n, d = np.meshgrid(np.logspace(4, 7, 6), np.logspace(5, 8, 6))
    n, d = n.ravel(), d.ravel()
    loss = parametric_law(n, d, **(TRUTH | {"E": 0.0}))  # no floor: the losses keep falling
    table = write_csv(tmp_path / "runs.csv", {"N": n, "D": d, "loss": loss})
    argv = ["fit", str(table), "--out", str(tmp_path / "fit"), "--bootstrap", "4", "--no-plots"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "       E = consistent with 0 [0, " in captured.out, captured.out
    assert "| consistent with 0 [0, " in captured.out  # the comparison table
    assert "jetscale fit: " in captured.err and "the parametric fit of 36" in captured.err
    result = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert 0 < result["parametric"]["params"]["E"] < 1e-3 * loss.min()  # the number stays
    assert result["parametric"]["reading"]["E"]["value"] == "consistent with 0"
    assert result["comparison"][0]["floor_reading"]["value"] == "consistent with 0"
    assert result["provenance"]["seeds"] == {"bootstrap": 0}
    assert result["provenance"]["jetscale_version"]
    assert main([*argv, "--no-progress"]) == 0
    assert "jetscale fit: " not in capsys.readouterr().err


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
    with pytest.raises(FitError, match=r"bad.csv: header: missing column\(s\) 'D'"):
        read_table(bad)
    negative = write_csv(
        tmp_path / "neg.csv",
        {"N": np.array([1.0, 2.0]), "D": np.array([1.0, -2.0]), "loss": np.array([1.0, 1.0])},
    )
    with pytest.raises(
        FitError, match=r"neg.csv: column 'D', row 2: '-2.0' is not a positive, finite number"
    ):
        read_table(negative)
    assert main(["fit", str(bad), "--out", str(tmp_path / "x")]) == 2


def test_too_few_points_is_a_clear_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = write_csv(
        tmp_path / "few.csv",
        {
            "N": np.array([1e4, 1e5, 1e6]),
            "D": np.array([1e5, 1e6, 1e7]),
            "loss": np.array([2.0, 1.5, 1.2]),
        },
    )
    assert main(["fit", str(table), "--out", str(tmp_path / "fit"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line
    # the error of the fit names the table and the group it was fitting
    assert err.startswith(f"jetscale fit: error: {table}: group (all runs): the parametric fit")
    assert "3 points are too few (need at least 6)" in err


N_BAR = 20.0  # constituents per jet of the generated table
KIN = {"E": 0.9, "A": 25.0, "alpha": 0.4, "B": 200.0, "beta": 0.3}


def study_table() -> dict[str, np.ndarray]:
    """A whole study generated from known laws: what `jetscale scan` writes, with 0.3% noise."""
    from jetscale.scaling import compute_optimal, effective_data

    rows: list[dict[str, object]] = []

    def add(
        n: float, u: float, epochs: int, law: dict[str, float], d_eff: float, **extra: object
    ) -> None:
        rows.append(
            {
                "N": n,
                "U": u,
                "epochs": epochs,
                "D": u * epochs,
                "C": 6 * n * u * epochs * N_BAR,
                "loss": float(parametric_law(n, d_eff, **law)),
                **extra,
            }
        )

    main_group = {"feature_set": "full21", "max_particles": 32}
    for n in np.logspace(4, 7, 5):
        for u in np.logspace(5, 8, 5):
            add(n, u, 1, TRUTH, u, **main_group, isoflop_budget=np.nan)
    for u in (1e5, 1e6):
        for epochs in (2, 4, 8, 16):
            add(
                1e6,
                u,
                epochs,
                TRUTH,
                float(effective_data(u, epochs - 1, 5.0)),
                **main_group,
                isoflop_budget=np.nan,
            )
    for budget in (1e15, 1e16, 1e17):
        n_opt, _ = compute_optimal(
            budget / N_BAR, TRUTH["A"], TRUTH["alpha"], TRUTH["B"], TRUTH["beta"]
        )
        for n in n_opt * np.geomspace(1 / 8, 8, 7):
            u = budget / (6 * n * N_BAR)
            add(n, u, 1, TRUTH, u, **main_group, isoflop_budget=budget)
    for n in np.logspace(4, 7, 3):
        for u in np.logspace(5, 8, 3):
            add(n, u, 1, KIN, u, feature_set="kin", max_particles=32, isoflop_budget=np.nan)
    for u in np.logspace(5, 8, 5):
        add(1e6, u, 1, KIN, u, feature_set="full21", max_particles=16, isoflop_budget=np.nan)
    noise = np.exp(np.random.default_rng(8).normal(0, 0.003, len(rows)))
    columns = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    columns["loss"] = columns["loss"] * noise
    return columns


def test_whole_study_fit_recovers_every_known_number(tmp_path: Path) -> None:
    from jetscale.jobs.fit import run_fit

    table = write_csv(tmp_path / "study.csv", study_table())
    run_fit(table, tmp_path / "fit", n_bootstrap=10)
    result = json.loads((tmp_path / "fit" / "fit.json").read_text())
    # the main fits use the largest group of single-epoch runs: full21 at 32 constituents
    assert result["group"] == {"feature_set": "full21", "max_particles": 32}
    assert result["single_epoch_runs"] == 25 + 21
    assert result["tokens_per_jet"] == pytest.approx(N_BAR)
    params = result["parametric"]["params"]
    for name, value in TRUTH.items():
        assert params[name] == pytest.approx(value, rel=0.05)
    exact = TRUTH["beta"] / (TRUTH["alpha"] + TRUTH["beta"])
    iso = result["approach_2_isoflop"]
    assert len(iso["profiles"]) == 3 and iso["N_opt"]["exponent"] == pytest.approx(exact, abs=0.03)
    assert iso["D_opt"]["exponent"] == pytest.approx(1 - exact, abs=0.03)
    assert result["approach_1_envelope"]["N_opt"] is not None
    repetition = result["repetition"]
    assert repetition["R_star"] == pytest.approx(5.0, rel=0.15)
    assert repetition["max_gain"] == pytest.approx(1 + repetition["R_star"])
    rows = {
        (r["group"]["feature_set"], r["group"]["max_particles"]): r for r in result["comparison"]
    }
    assert rows[("full21", 32)]["kind"] == "parametric"
    assert rows[("full21", 32)]["floor"] == pytest.approx(TRUTH["E"], rel=0.05)
    assert rows[("kin", 32)]["kind"] == "parametric"
    assert rows[("kin", 32)]["floor"] == pytest.approx(KIN["E"], rel=0.05)
    # one model size only: the data law, whose floor is E + A / N^alpha at that N
    assert rows[("full21", 16)]["kind"] == "data law at N=1e+06"
    assert rows[("full21", 16)]["floor"] == pytest.approx(
        KIN["E"] + KIN["A"] / 1e6 ** KIN["alpha"], rel=0.05
    )
    assert rows[("full21", 16)]["beta"] == pytest.approx(KIN["beta"], rel=0.1)
    markdown = (tmp_path / "fit" / "comparison.md").read_text()
    assert "| kin | 32 | parametric | 9 |" in markdown
    kin_runs = [i for i, f in enumerate(study_table()["feature_set"]) if f == "kin"]
    assert rows[("kin", 32)]["lowest_loss"] == pytest.approx(min(study_table()["loss"][kin_runs]))
    plots = {Path(p).name for p in result["plots"]}
    for stem in (
        "loss_vs_compute",
        "isoflop",
        "observed_vs_fitted",
        "residuals",
        "repetition_gain",
        "floors",
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= plots
    assert all(Path(p).stat().st_size > 1000 for p in result["plots"])


def test_negative_exponent_leaves_the_frontier_undefined_and_fit_json_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table whose loss grows with D fits beta < 0: the frontier turned complex and
    fit.json was never written (after comparison.md and the plots were)."""
    n, d = np.meshgrid(np.geomspace(1e3, 1e5, 4), np.geomspace(1e3, 1e5, 4))
    n, d = n.ravel(), d.ravel()
    loss = 1.0 + 5.0 / n**0.3 + 0.01 * d**0.2  # grows with D, by construction
    table = write_csv(tmp_path / "runs.csv", {"N": n, "D": d, "loss": loss})
    out = tmp_path / "fit"
    assert main(["fit", str(table), "--out", str(out), "--bootstrap", "4"]) == 0
    result = json.loads((out / "fit.json").read_text())
    assert result["parametric"]["params"]["beta"] < 0
    frontier = result["frontier_from_parametric_fit"]
    assert "not both positive" in frontier["undefined"] and "N_opt" not in frontier
    assert "parametric fit: undefined (the fitted exponents" in capsys.readouterr().out
    assert (out / "comparison.md").is_file()
    assert any(Path(p).name == "loss_vs_compute.png" for p in result["plots"])


def test_empty_cells_are_missing_values(tmp_path: Path) -> None:
    """pandas writes NaN as an empty cell; isoflop_budget then became a text column and the
    fit crashed with a TypeError in np.isfinite."""
    n, d = np.meshgrid(np.logspace(4, 7, 4), np.logspace(5, 8, 4))
    n, d = n.ravel(), d.ravel()
    loss = parametric_law(n, d, **TRUTH)
    budget = np.where(np.arange(len(n)) % 2 == 0, 1e15, np.nan)
    path = tmp_path / "pandas.csv"
    lines = ["N,D,loss,isoflop_budget"] + [
        f"{a},{b},{c},{'' if np.isnan(e) else e}"
        for a, b, c, e in zip(n, d, loss, budget, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    table = read_table(path)
    assert table["isoflop_budget"].dtype == np.float64
    np.testing.assert_array_equal(np.isnan(table["isoflop_budget"]), np.isnan(budget))
    # A missing value where one is required is named with its row.
    lines[3] = lines[3].replace(f",{loss[2]},", ",,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        FitError,
        match=r"pandas.csv: column 'loss', row 3: an empty cell is not a positive, finite number \(1 of 16 rows\)",
    ):
        read_table(path)


def test_fit_errors_name_the_table_and_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error from inside a fit said "3 points are too few" without the table or group."""
    table = write_csv(
        tmp_path / "groups.csv",
        {
            "N": np.array([1e4, 1e5, 1e6, 1e4, 1e5]),
            "D": np.array([1e5, 1e6, 1e7, 1e5, 1e6]),
            "loss": np.array([2.0, 1.5, 1.2, 2.1, 1.6]),
            "feature_set": np.array(["full21"] * 3 + ["kin"] * 2),
        },
    )
    for group, runs in (("full21", 3), ("kin", 2)):
        argv = [
            "fit",
            str(table),
            "--out",
            str(tmp_path / "fit"),
            "--group",
            f"feature_set={group}",
            "--no-progress",
        ]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith(
            f"jetscale fit: error: {table}: group {{'feature_set': '{group}'}}: "
            f"the parametric fit of {runs} single-epoch runs: "
        )
        assert f"{runs} points are too few" in err


def repeated_study() -> dict[str, np.ndarray]:
    """16 single-epoch runs on a grid, three repeated runs, and a group of repeated runs only."""
    n, d = (a.ravel() for a in np.meshgrid(np.logspace(4, 7, 4), np.logspace(5, 8, 4)))
    repeated_u, repeated_epochs = np.array([1e5, 1e5, 1e5, 1e5, 1e5]), np.array([2, 4, 8, 2, 4])
    columns = {
        "N": np.concatenate([n, np.full(5, 1e6)]),
        "U": np.concatenate([d, repeated_u]),
        "epochs": np.concatenate([np.ones(16), repeated_epochs]),
        "feature_set": np.array(["full21"] * 19 + ["kin"] * 2),
    }
    columns["D"] = columns["U"] * columns["epochs"]
    columns["C"] = 6 * columns["N"] * columns["D"] * N_BAR
    columns["loss"] = parametric_law(columns["N"], columns["D"], **TRUTH)
    return columns


def test_missing_values_are_refused_only_where_a_fit_uses_them(tmp_path: Path) -> None:
    from jetscale.jobs.fit import run_fit

    columns = repeated_study()
    # C of a repeated run and U of the kin group are not used by any fit: allowed.
    columns["C"][17] = np.nan  # data row 18
    columns["U"][20] = np.nan  # data row 21
    table = tmp_path / "study.csv"
    write_csv(table, columns)
    table.write_text(table.read_text().replace("nan", ""))  # empty cells, as pandas writes
    result = run_fit(table, tmp_path / "fit", n_bootstrap=2, plots=False)
    assert result["tokens_per_jet"] == pytest.approx(N_BAR)
    assert result["single_epoch_runs"] == 16
    assert "R_star" in result["repetition"]
    # a group with only repeated runs has nothing to compare: a failed row, once a crash
    (kin,) = [row for row in result["comparison"] if row["group"] == {"feature_set": "kin"}]
    assert kin["kind"] == "failed" and "no single-epoch runs" in kin["note"]

    for column, index, user in (("C", 4, "the compute"), ("U", 16, "the repetition fit")):
        bad = repeated_study()
        bad[column][index] = np.nan
        write_csv(table, bad)
        table.write_text(table.read_text().replace("nan", ""))
        with pytest.raises(FitError) as info:
            run_fit(table, tmp_path / "fit", n_bootstrap=2, plots=False)
        message = str(info.value)
        assert message.startswith(f"{table}: column '{column}', row {index + 1}: empty cell")
        assert user in message and "group {'feature_set': 'full21'}" in message


def _marker(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of an INCOMPLETE marker."""
    return dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line[:60])


def test_full_disk_during_the_plots_leaves_a_marker_naming_stale_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno
    import os

    from matplotlib.figure import Figure

    n, d = (a.ravel() for a in np.meshgrid(np.logspace(4, 7, 4), np.logspace(5, 8, 4)))
    table = write_csv(
        tmp_path / "runs.csv", {"N": n, "D": d, "loss": parametric_law(n, d, **TRUTH)}
    )
    out = tmp_path / "fit"
    # An earlier run's outputs, including a plot this run does not make (one group: no floors).
    old = {
        "fit.json": "{}\n",
        "comparison.md": "old\n",
        "plots/residuals.png": "old",
        "plots/residuals.pdf": "old",
        "plots/floors.png": "old",
    }
    for name, text in old.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)

    savefig = Figure.savefig

    def full_disk(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        if Path(fname).name.startswith(".residuals.png"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        savefig(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", full_disk)
    assert main(["fit", str(table), "--out", str(out), "--bootstrap", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    failed = out / "plots" / "residuals.png"
    marker = out / "INCOMPLETE"
    assert err.count("\n") == 1
    assert f"[Errno {errno.ENOSPC}] No space left on device: '{failed}'" in err
    assert str(marker) in err

    fields = _marker(marker)
    assert fields["command"] == f"jetscale fit {table}"
    assert fields["expected outputs"] == "fit.json, comparison.md, plots/"
    assert fields["error"] == f"OSError: [Errno {errno.ENOSPC}] No space left on device: '{failed}'"
    assert fields["stale, from an earlier run"] == (
        "plots/floors.png, plots/residuals.pdf, plots/residuals.png"
    )
    written = fields["written by this run"].split(", ")
    assert {"fit.json", "comparison.md", "plots/loss_vs_compute.png"} <= set(written)
    assert not {"plots/residuals.png", "plots/residuals.pdf"} & set(written)
    assert failed.read_text() == "old"  # kept, and named stale above
    # No temporary left (the directory's lock file, .jetscale.lock, stays by design).
    assert not [p for p in out.rglob(".*") if p.name != LOCK_NAME]

    monkeypatch.setattr(Figure, "savefig", savefig)
    assert main(["fit", str(table), "--out", str(out), "--bootstrap", "2"]) == 0
    assert not marker.exists()
    assert failed.read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "fit.json").read_text())["plots"]
