"""Robustness to simulation variations: the shift and AUC maths, and ``jetscale robustness`` end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetscale import schema
from jetscale.cli import main
from jetscale.io import read_jetclass, write_jetclass
from jetscale.io.jetclass import write_jetclass_chunks
from jetscale.metrics import discriminant
from jetscale.transfer.robustness import NOMINAL, variation_sensitivity

QCD, HBB = schema.CLASS_NAMES.index("QCD"), schema.CLASS_NAMES.index("Hbb")

# --- the maths, on a table whose answers are worked out by hand ---------------------------
#: (file, group, view, score, is_signal). File 0 (signal) has views nominal, nominal,
#: fsr_up; file 1 (background) nominal, fsr_up, nominal: view names are per file.
TABLE = [
    (0, 0, 0, 0.80, True),  # reference of signal group 0
    (0, 0, 1, 0.78, True),  # nominal: -0.02
    (0, 0, 2, 0.70, True),  # fsr_up: -0.10
    (0, 1, 0, 0.90, True),
    (0, 1, 1, 0.93, True),  # nominal: +0.03
    (0, 1, 2, 0.85, True),  # fsr_up: -0.05
    (0, 2, 1, 0.60, True),  # view 0 dropped: view 1 is the first nominal, the reference
    (0, 2, 2, 0.50, True),  # fsr_up: -0.10
    (0, 3, 2, 0.40, True),  # no nominal view in this group: no pairs
    (1, 0, 0, 0.20, False),  # group 0 again, of another file: another group
    (1, 0, 1, 0.30, False),  # fsr_up: +0.10
    (1, 0, 2, 0.78, False),  # nominal: +0.58 (ties with a signal score)
    (1, 5, 0, 0.10, False),
    (1, 5, 1, 0.75, False),  # fsr_up: +0.65
    (1, 5, 2, 0.05, False),  # nominal: -0.05
]
VIEWS = [[NOMINAL, NOMINAL, "fsr_up"], [NOMINAL, "fsr_up", NOMINAL]]


def table_columns(rows: list[tuple[int, int, int, float, bool]], seed: int = 0) -> dict:
    """The table's columns in a shuffled jet order (the result must not depend on it)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    file, group, view, score, signal = (
        np.array(c) for c in zip(*[rows[i] for i in order], strict=True)
    )
    return {"scores": score, "is_signal": signal, "file": file, "group": group, "view": view}


@pytest.mark.parametrize("seed", [0, 1])
def test_shifts_and_aucs_of_a_hand_made_table(seed: int) -> None:
    result = variation_sensitivity(**table_columns(TABLE, seed), view_names=VIEWS)
    assert result.names == [NOMINAL, "fsr_up"]
    assert (result.groups, result.groups_without_reference) == (5, 1)
    expected = {
        NOMINAL: ([-0.02, 0.03], [0.58, -0.05]),
        "fsr_up": ([-0.10, -0.05, -0.10], [0.10, 0.65]),
    }
    for name, (signal, background) in expected.items():
        row = result[name]
        for got, shifts in ((row.signal, signal), (row.background, background)):
            values = np.array(shifts)
            assert got.pairs == len(values)
            assert got.mean == pytest.approx(values.mean())
            assert got.std == pytest.approx(
                np.sqrt(((values - values.mean()) ** 2).sum() / (len(values) - 1))
            )
            assert got.mean_error == pytest.approx(got.std / np.sqrt(len(values)))
            assert got.mean_abs == pytest.approx(np.abs(values).mean())
        assert sorted(row.signal_shifts) == pytest.approx(sorted(signal))
    # fsr_up: signal 0.70, 0.85, 0.50 against background 0.30, 0.75: 4 of 6 pairs ordered;
    # its reference views (0.80, 0.90, 0.60 against 0.20, 0.10) are perfectly separated.
    assert result["fsr_up"].groups == 5
    assert result["fsr_up"].auc == pytest.approx(4 / 6)
    assert result["fsr_up"].auc_reference == pytest.approx(1.0)
    assert result["fsr_up"].delta_auc == pytest.approx(4 / 6 - 1)
    # nominal: 0.78, 0.93 against 0.78, 0.05: one tie (1/2) and three ordered pairs.
    assert result[NOMINAL].groups == 4
    assert result[NOMINAL].auc == pytest.approx(3.5 / 4)
    assert result[NOMINAL].auc_reference == pytest.approx(1.0)
    summary = result["fsr_up"].summary()
    assert summary["auc"]["delta"] == pytest.approx(4 / 6 - 1)
    assert summary["signal"]["pairs"] == 3 and summary["background"]["pairs"] == 2


def test_shifts_sharing_a_reference_get_the_cluster_robust_error() -> None:
    """Three nominal views a group: two shifts against one reference, correlated.

    The standard error is worked out by hand: per reference (group) the sum of the
    deviations of its shifts from the mean, squared, summed, times G / (G - 1),
    square root, over n.
    """
    rows = []
    scores = {0: (0.5, 0.6, 0.7), 1: (0.2, 0.1, 0.4), 2: (0.9, 0.9, 0.6)}
    for g, views in scores.items():
        rows += [(0, g, v, x, True) for v, x in enumerate(views)]
    result = variation_sensitivity(**table_columns(rows), view_names=[[NOMINAL, NOMINAL, NOMINAL]])[
        NOMINAL
    ].signal
    shifts = {0: (0.1, 0.2), 1: (-0.1, 0.2), 2: (0.0, -0.3)}
    n = 6
    mean = sum(sum(v) for v in shifts.values()) / n
    clustered = sum((sum(x - mean for x in v)) ** 2 for v in shifts.values())
    assert result.pairs == n
    assert result.mean == pytest.approx(mean)
    assert result.mean_error == pytest.approx((3 / 2 * clustered) ** 0.5 / n)
    naive = np.std([x for v in shifts.values() for x in v], ddof=1) / n**0.5
    assert result.mean_error != pytest.approx(naive)  # the correlation matters here


def test_the_nominal_noise_floor_and_a_shift_above_it() -> None:
    """Nominal views differ by noise alone: mean 0, spread sqrt(2) sigma; a variation adds its shift."""
    rng = np.random.default_rng(7)
    groups, sigma, delta = 20_000, 0.02, 0.015
    truth = rng.uniform(0.2, 0.8, groups)
    views = [NOMINAL, NOMINAL, "fsr_up"]
    scores = np.stack(
        [
            truth + rng.normal(0, sigma, groups),
            truth + rng.normal(0, sigma, groups),
            truth + delta + rng.normal(0, sigma, groups),
        ],
        axis=1,
    )
    result = variation_sensitivity(
        scores.ravel(),
        np.repeat(np.arange(groups) % 2 == 0, 3),
        np.zeros(3 * groups, dtype=int),
        np.repeat(np.arange(groups), 3),
        np.tile(np.arange(3), groups),
        [views],
    )
    floor, varied = result[NOMINAL], result["fsr_up"]
    for role in ("signal", "background"):
        noise, shifted = getattr(floor, role), getattr(varied, role)
        assert noise.pairs == shifted.pairs == groups // 2
        assert abs(noise.mean) < 4 * noise.mean_error  # compatible with no shift
        assert noise.std == pytest.approx(np.sqrt(2) * sigma, rel=0.03)
        assert shifted.mean == pytest.approx(delta, abs=4 * shifted.mean_error)
        assert 4 * shifted.mean_error < delta  # resolved: the shift is many s.e. from 0
        assert shifted.std == pytest.approx(noise.std, rel=0.05)
    # An exact copy of the reference has no shift and no change of AUC.
    copied = scores.copy()
    copied[:, 1] = copied[:, 0]
    exact = variation_sensitivity(
        copied.ravel(),
        np.repeat(np.arange(groups) % 2 == 0, 3),
        np.zeros(3 * groups, dtype=int),
        np.repeat(np.arange(groups), 3),
        np.tile(np.arange(3), groups),
        [views],
    )[NOMINAL]
    assert exact.signal.mean == exact.signal.std == exact.signal.mean_abs == 0.0
    assert exact.delta_auc == 0.0


def test_a_file_without_a_nominal_view_is_named() -> None:
    columns = table_columns(TABLE)
    views = [VIEWS[0], ["fsr_up", "fsr_down", "fsr_up"]]
    with pytest.raises(ValueError, match=r"^qcd\.root: no 'nominal' view among its views"):
        variation_sensitivity(**columns, view_names=views, file_names=["hbb.root", "qcd.root"])


def test_inconsistent_views_are_refused() -> None:
    columns = table_columns(TABLE)
    names = ["hbb.root", "qcd.root"]
    twice = {k: np.concatenate([v, v[:1]]) for k, v in columns.items()}
    with pytest.raises(ValueError, match=r"occurs twice in group .* given twice"):
        variation_sensitivity(**twice, view_names=VIEWS, file_names=names)
    outside = {**columns, "view": np.where(columns["view"] == 2, 3, columns["view"])}
    with pytest.raises(ValueError, match=r"\.root: view 3 of group \d+ is not one of its 3 views"):
        variation_sensitivity(**outside, view_names=VIEWS, file_names=names)
    with pytest.raises(ValueError, match="not finite"):
        variation_sensitivity(**{**columns, "scores": columns["scores"] * np.nan}, view_names=VIEWS)


# --- jetscale robustness end to end ----------------------------------------------------------
#: The views of the test files: view 1 is an exact copy of view 0 (no shift at all), view 2
#: the same constituents with their momenta scaled and spread wider (a real shift).
FILE_VIEWS = [NOMINAL, NOMINAL, "wider"]
GROUPS = 30


def resimulated(jets: ak.Array, label: int) -> ak.Array:
    """Three views of each jet of ``jets``, with group, view and hard-process fields."""
    n = len(jets)
    consts = jets.constituents
    wider = ak.zip(
        {
            **{f: consts[f] for f in ak.fields(consts)},
            **{f: consts[f] * np.float32(0.9) for f in ("px", "py", "pz", "energy")},
            "deta": consts.deta * np.float32(1.4),
            "dphi": consts.dphi * np.float32(1.4),
        }
    )
    views = [jets, jets, ak.with_field(jets, wider, "constituents")]
    out = ak.concatenate(views)
    out = ak.with_field(out, np.full(3 * n, label, dtype=np.int32), "label")
    out = ak.with_field(out, np.tile(np.arange(n, dtype=np.int64) * 7 + 3, 3), "group")
    out = ak.with_field(out, np.repeat(np.arange(3, dtype=np.int32), n), "view")
    hard = {
        "hard_pt": jets.pt,
        "hard_eta": jets.eta,
        "hard_phi": jets.phi,
        "hard_mass": jets.sdmass,
    }
    for field, values in hard.items():  # the same in every view of a group
        out = ak.with_field(out, np.tile(ak.to_numpy(values).astype(np.float64), 3), field)
    return out


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("robustness")
    metadata = {schema.VIEWS_KEY: {"views": FILE_VIEWS}}
    written = {}
    for name, label, seed in (("hbb", HBB, 1), ("qcd", QCD, 2)):
        jets = resimulated(make_jets(GROUPS, seed=seed, mean_particles=15), label)
        written[name] = write_jetclass_chunks(base / f"{name}.root", [jets], metadata=metadata)
    written["plain"] = write_jetclass(base / "plain.root", make_jets(20, seed=3))
    no_fields = make_jets(20, seed=4)
    written["no_fields"] = write_jetclass_chunks(
        base / "no_fields.root", [no_fields], metadata=metadata
    )
    return written


def shifts_by_hand(scores: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """``wider`` minus view 0 per class, from file order: GROUPS jets per view, views in order."""
    out = {}
    for name, label in (("signal", HBB), ("background", QCD)):
        s = scores[labels == label].reshape(3, GROUPS)
        out[name] = s[2] - s[0]
    return out


def check_result(result: dict, by_hand: dict[str, np.ndarray], tolerance: float) -> None:
    nominal, wider = result["variations"]
    assert (nominal["variation"], wider["variation"]) == (NOMINAL, "wider")
    assert result["groups"] == 2 * GROUPS and result["groups_without_reference"] == 0
    for role in ("signal", "background"):
        assert nominal[role]["pairs"] == wider[role]["pairs"] == GROUPS
        assert nominal[role]["mean"] == nominal[role]["std"] == nominal[role]["mean_abs"] == 0.0
        expected = by_hand[role]
        assert wider[role]["mean"] == pytest.approx(expected.mean(), abs=tolerance)
        assert wider[role]["std"] == pytest.approx(expected.std(ddof=1), abs=tolerance)
        assert wider[role]["mean_abs"] == pytest.approx(np.abs(expected).mean(), abs=tolerance)
        assert wider[role]["mean_abs"] > 0  # the wider views do move the scores
    assert nominal["auc"]["delta"] == 0.0


def test_an_onnx_model_end_to_end(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime")
    from jetscale.inference import OnnxTagger

    out = tmp_path / "out"
    argv = ["robustness", "kinpid", "--data", str(files["hbb"]), str(files["qcd"])]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    result = json.loads((out / "robustness.json").read_text())
    assert result["model"]["kind"] == "onnx"
    assert (result["signal"], result["background"]) == ("Hbb", ["QCD"])  # the data's signal
    assert result["discriminant"] == "p_Hbb / (p_Hbb + p_QCD)"
    assert [f["views"] for f in result["files"]] == [FILE_VIEWS, FILE_VIEWS]
    assert result["jets"]["used"] == 6 * GROUPS
    # Independently: the tagger on the files' jets, and the package's one-vs-QCD discriminant.
    tagger = OnnxTagger("kinpid")
    jets = read_jetclass([files["hbb"], files["qcd"]])
    prob = tagger(jets)
    scores = np.asarray(discriminant(ak.to_numpy(prob.Hbb), ak.to_numpy(prob.QCD)))
    check_result(result, shifts_by_hand(scores, ak.to_numpy(jets.label)), 1e-9)
    for stem in ("score_shift_signal", "score_shift_background"):
        for suffix in ("png", "pdf"):
            assert (out / f"{stem}.{suffix}").stat().st_size > 10_000
    assert not (out / "INCOMPLETE").exists()
    printed = capsys.readouterr().out
    assert "discriminant p_Hbb / (p_Hbb + p_QCD)" in printed
    assert printed.count("\nnominal ") == 1 and "\nwider " in printed
    assert f"wrote {out / 'robustness.json'} and 4 plot files" in printed
    # Several background classes: their probabilities summed.
    argv += ["--background", "QCD", "Zqq", "--signal", "Hbb", "--no-plots"]
    assert main([*argv, "--out", str(tmp_path / "two"), "--no-progress"]) == 0
    result = json.loads((tmp_path / "two" / "robustness.json").read_text())
    assert result["discriminant"] == "p_Hbb / (p_Hbb + p_QCD + p_Zqq)"
    background = ak.to_numpy(prob.QCD).astype(np.float64) + ak.to_numpy(prob.Zqq)
    scores = np.asarray(discriminant(ak.to_numpy(prob.Hbb), background))
    check_result(result, shifts_by_hand(scores, ak.to_numpy(jets.label)), 1e-9)


def test_a_checkpoint_end_to_end(tmp_path: Path, files: dict[str, Path]) -> None:
    """A run directory whose training task is ``QCD,Hbb``: its classes, not JetClass's ten."""
    torch = pytest.importorskip("torch")
    from jetscale.features import build_features
    from jetscale.nn import ModelConfig, build_model
    from jetscale.train.checkpoint import save_checkpoint

    config = ModelConfig(
        d_model=16, n_layers=1, n_heads=2, ff_ratio=2, n_class_layers=1, feature_set="kin",
        max_particles=32, n_classes=2,
    )  # fmt: skip
    torch.manual_seed(5)
    model = build_model(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)  # scores that move visibly
    state = {
        "model_config": config.to_dict(),
        "model_state": model.state_dict(),
        "step": 0,
        "train_config": {"task": "QCD,Hbb"},
    }
    save_checkpoint(tmp_path / "run" / "last.pt", state)
    out = tmp_path / "out"
    argv = ["robustness", str(tmp_path / "run"), "--data", str(files["qcd"]), str(files["hbb"])]
    assert main([*argv, "--out", str(out), "--no-plots", "--signal", "Hbb"]) == 0
    result = json.loads((out / "robustness.json").read_text())
    assert result["model"]["kind"] == "checkpoint" and result["model"]["classes"] == ["QCD", "Hbb"]
    assert result["model"]["path"] == str(tmp_path / "run" / "last.pt")
    assert not (out / "score_shift_signal.png").exists()
    jets = read_jetclass([files["hbb"], files["qcd"]])
    x, mask = build_features(jets, "kin", 32)
    with torch.no_grad():
        prob = torch.softmax(model(torch.from_numpy(x), torch.from_numpy(mask)), dim=1).numpy()
    scores = np.asarray(discriminant(prob[:, 1], prob[:, 0]))
    check_result(result, shifts_by_hand(scores, ak.to_numpy(jets.label)), 1e-5)


def test_files_that_are_not_resimulated_exit_2(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "out"
    for name, problem in (
        ("plain", "no 'jetscale_views' metadata: not a re-simulated file"),
        ("no_fields", "no jet_group, jet_view, jet_hard_pt"),
    ):
        argv = ["robustness", "kinpid", "--data", str(files["hbb"]), str(files[name])]
        assert main([*argv, "--out", str(out), "--no-progress"]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"jetscale robustness: error: {files[name]}")
        assert problem in error
    assert not out.exists()  # refused before anything is written
    argv = ["robustness", "kinpid", "--data", str(files["hbb"]), "--signal", "Xbb"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "signal 'Xbb' is not a class of" in capsys.readouterr().err
    argv = ["robustness", str(tmp_path), "--data", str(files["hbb"])]
    assert main([*argv, "--out", str(out)]) == 2
    assert "a directory without model.onnx, best.pt or last.pt" in capsys.readouterr().err


def test_a_class_without_pairs_gets_a_figure_that_says_so(tmp_path: Path) -> None:
    pytest.importorskip("mplhep")
    from jetscale.plotting.robustness import mean_text, plot_score_shifts, shift_range

    background = [row for row in TABLE if not row[4]]
    result = variation_sensitivity(**table_columns(background), view_names=VIEWS)
    written = plot_score_shifts(result, "Hbb", ["QCD"], tmp_path)
    assert [p.name for p in written] == [
        "score_shift_signal.png",
        "score_shift_signal.pdf",
        "score_shift_background.png",
        "score_shift_background.pdf",
    ]
    assert all(p.stat().st_size > 5_000 for p in written)
    # The axis covers the shifts (0.65 the largest here, the 99% quantile near it): up to 1.
    assert shift_range([result["fsr_up"].background_shifts]) == 1.0
    assert shift_range([np.array([0.013, -0.004])]) == 0.02
    assert mean_text(-0.0221, 0.0011) == "-0.0221 $\\pm$ 0.0011"
    assert mean_text(0.0, 0.0) == "+0"
