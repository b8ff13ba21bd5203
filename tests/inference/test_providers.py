"""``OnnxTagger(providers=...)``: the execution providers reach the ONNX Runtime session."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from jetscale.export.onnx_export import PARITY_JETS  # noqa: E402
from jetscale.inference import OnnxTagger  # noqa: E402
from jetscale.inference.tagger import ProviderError  # noqa: E402
from jetscale.io import read_jets  # noqa: E402

ABSENT = "CUDAExecutionProvider"  # the CPU build of onnxruntime has no CUDA provider


def test_cpu_is_the_default_and_a_list_reaches_the_session() -> None:
    assert OnnxTagger("kinpid").session.get_providers() == ["CPUExecutionProvider"]
    extra = [p for p in ort.get_available_providers() if p != "CPUExecutionProvider"]
    wanted = [*extra[:1], "CPUExecutionProvider"]  # another provider this build has, if any
    tagger = OnnxTagger("kinpid", providers=wanted)
    assert tagger.session.get_providers() == wanted
    assert pickle.loads(pickle.dumps(tagger)).session.get_providers() == wanted


def test_a_missing_provider_is_an_error_where_the_model_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if ABSENT in ort.get_available_providers():
        pytest.skip(f"this onnxruntime has {ABSENT}")
    with caplog.at_level(logging.INFO, logger="jetscale.inference.tagger"):
        tagger = OnnxTagger("kinpid", providers=[ABSENT, "CPUExecutionProvider"])  # a dask client
    assert f"{ABSENT} not available in this process" in caplog.text
    jets = read_jets([PARITY_JETS])
    with pytest.raises(
        ProviderError,
        match=rf"model.onnx: execution provider\(s\) {ABSENT} requested but not available",
    ):
        tagger(jets)
    worker = pickle.loads(pickle.dumps(tagger))  # what a worker unpickles: still refuses
    with pytest.raises(ProviderError, match="available: .*CPUExecutionProvider"):
        worker(jets)


@pytest.mark.parametrize("bad", ["CPUExecutionProvider", [], [("CPUExecutionProvider",)], [3]])
def test_malformed_providers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="provider"):
        OnnxTagger("kinpid", providers=bad)  # type: ignore[arg-type]


def test_name_and_options_pairs_are_taken_and_score_alike() -> None:
    """(name, options) pairs pass through (the CPU provider reports no options to check them by)."""
    jets = read_jets([PARITY_JETS])
    plain = OnnxTagger("kinpid")(jets)
    tagger = OnnxTagger("kinpid", providers=[("CPUExecutionProvider", {"use_arena": "0"})])
    assert tagger.providers == (("CPUExecutionProvider", {"use_arena": "0"}),)
    assert tagger.session.get_providers() == ["CPUExecutionProvider"]
    named = tagger(jets)
    for field in plain.fields:
        assert np.array_equal(np.asarray(plain[field]), np.asarray(named[field]))
