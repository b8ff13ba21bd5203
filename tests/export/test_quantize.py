"""``jetscale export --quantize int8``: the int8 graph, and its measured cost in the model card."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
scipy_stats = pytest.importorskip("scipy.stats")

from random_runs import random_run  # noqa: E402

from jetscale.cli import main  # noqa: E402
from jetscale.export import export_run  # noqa: E402
from jetscale.export.onnx_export import PARITY_JETS  # noqa: E402
from jetscale.inference import OnnxTagger  # noqa: E402
from jetscale.io import read_jets  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_run(tmp_path_factory.mktemp("int8") / "run", max_particles=64)


def one_vs_qcd_auc(prob: np.ndarray, labels: np.ndarray, signal: int) -> float:
    """AUC of p_s / (p_s + p_QCD) by the Mann-Whitney U statistic (an independent formula)."""
    prob = prob.astype(np.float64)
    score = prob[:, signal] / (prob[:, signal] + prob[:, 0])
    s, b = score[labels == signal], score[labels == 0]
    u = scipy_stats.mannwhitneyu(s, b).statistic
    return float(u / (len(s) * len(b)))


def scores(model: Path, jets: ak.Array) -> np.ndarray:
    prob = OnnxTagger(model)(jets)
    return np.stack([ak.to_numpy(prob[n]) for n in prob.fields], axis=1)


def test_int8_export_and_its_measured_effect(run: Path, tmp_path: Path) -> None:
    jets = read_jets([PARITY_JETS])  # 12 QCD and 12 t->bqq Pythia jets, labelled
    labels = ak.to_numpy(jets.label)
    written = export_run(
        run,
        tmp_path / "int8" / "model.onnx",
        quantize="int8",
        evaluate_data=[PARITY_JETS],
    )
    fp32 = export_run(run, tmp_path / "fp32" / "model.onnx")["onnx"]
    ops = {n.op_type for n in onnx.load(str(written["onnx"])).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & ops  # int8 matrix products
    weights = onnx.load(str(written["onnx"])).graph.initializer
    int8 = sum(np.prod(w.dims) for w in weights if w.data_type == onnx.TensorProto.INT8)
    parameters = sum(
        np.prod(w.dims) for w in onnx.load(str(fp32)).graph.initializer if len(w.dims) == 2
    )
    assert int8 >= 0.9 * parameters  # the weight matrices are stored as int8

    card = json.loads(written["model_card"].read_text())
    assert card["precision"] == "int8"
    effect = card["quantization"]["effect"]
    assert effect["evaluated_on"] == [str(PARITY_JETS)] and effect["jets"] == 24
    p32, p8 = scores(fp32, jets), scores(written["onnx"], jets)
    top = 8  # Tbqq
    assert effect["auc_float32"]["Tbqq"] == pytest.approx(
        one_vs_qcd_auc(p32, labels, top), abs=1e-12
    )
    assert effect["auc_int8"]["Tbqq"] == pytest.approx(one_vs_qcd_auc(p8, labels, top), abs=1e-12)
    assert effect["auc_change"]["Tbqq"] == pytest.approx(
        effect["auc_int8"]["Tbqq"] - effect["auc_float32"]["Tbqq"]
    )
    change = np.abs(p8 - p32).max()
    assert effect["max_abs_score_change"] == pytest.approx(change, rel=1e-6)
    assert 0 < change < 0.05  # quantized: close, but not the float32 numbers
    assert effect["batch_dependence"] >= 0


def test_int8_without_evaluation_says_so(run: Path, tmp_path: Path) -> None:
    written = export_run(run, tmp_path / "model.onnx", quantize="int8")
    card = json.loads(written["model_card"].read_text())
    assert card["quantization"]["effect"].startswith("not measured")


def test_unknown_quantization_and_unlabelled_jets_are_refused(run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quantize must be one of none, int8, got 'fp16'"):
        export_run(run, tmp_path / "a" / "model.onnx", quantize="fp16")  # type: ignore[arg-type]
    assert not (tmp_path / "a" / "model.onnx").exists()
    unlabelled = tmp_path / "unlabelled.parquet"
    ak.to_parquet(ak.without_field(read_jets([PARITY_JETS]), "label"), unlabelled)
    with pytest.raises(ValueError, match="label"):
        export_run(run, tmp_path / "b" / "model.onnx", quantize="int8", evaluate_data=[unlabelled])
    assert not (tmp_path / "b" / "model.onnx").exists()  # nothing half-written


def test_export_command_reports_the_int8_effect(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli" / "model.onnx"
    code = main(
        [
            "export",
            str(run),
            "--out",
            str(out),
            "--checkpoint",
            "last.pt",
            "--quantize",
            "int8",
            "--evaluate-data",
            str(PARITY_JETS),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "int8 vs float32 on 24 jets: AUC change" in printed.out
    assert "not held to the float32 tolerance" in printed.out


def test_int8_effect_of_a_task_model_uses_the_tasks_classes(tmp_path: Path) -> None:
    """A two-class Tbqq-vs-QCD model: its outputs are (Tbqq, QCD), not JetClass's order."""
    run = random_run(tmp_path / "task-run", task="Tbqq,QCD", n_classes=2, max_particles=64)
    written = export_run(
        run, tmp_path / "int8" / "model.onnx", quantize="int8", evaluate_data=[PARITY_JETS]
    )
    effect = json.loads(written["model_card"].read_text())["quantization"]["effect"]
    jets = read_jets([PARITY_JETS])
    is_top = ak.to_numpy(jets.label) == 8  # JetClass's Tbqq
    fp32 = export_run(run, tmp_path / "fp32" / "model.onnx")["onnx"]
    prob = scores(fp32, jets).astype(np.float64)
    score = prob[:, 0] / (prob[:, 0] + prob[:, 1])
    u = scipy_stats.mannwhitneyu(score[is_top], score[~is_top]).statistic
    assert set(effect["auc_float32"]) == {"Tbqq"}
    assert effect["auc_float32"]["Tbqq"] == pytest.approx(u / (12 * 12), abs=1e-12)
