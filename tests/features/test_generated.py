"""The fused builder against the per-jet reference on jets generated with Pythia."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetscale.features import FEATURE_SETS, build_features
from jetscale.features.reference import build_features_loop
from jetscale.io import read_jets

pytest.importorskip("pythia8mc")


@pytest.mark.parametrize("set_name", list(FEATURE_SETS))
@pytest.mark.parametrize(
    ("max_particles", "pad_mode"), [(128, "constant"), (32, "constant"), (150, "wrap")]
)
def test_builder_equals_reference_on_generated_jets(
    generated, set_name: str, max_particles: int, pad_mode: str
) -> None:  # type: ignore[no-untyped-def]
    jets = read_jets(generated.files)
    x, mask = build_features(
        jets, feature_set=set_name, max_particles=max_particles, pad_mode=pad_mode
    )  # type: ignore[arg-type]
    x_ref, mask_ref = build_features_loop(jets, set_name, max_particles, pad_mode)
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=2e-6)
    # Generated jets are realistic: truncation at 32 really truncates some of them.
    if max_particles == 32:
        assert (ak.to_numpy(ak.num(jets.constituents)) > 32).any()
