from __future__ import annotations

import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

#: Classes and jets per class of the shared physics sample (about 30 s on 2 cores).
SAMPLE_CLASSES = ["QCD", "Hbb", "Wqq", "Zqq", "Tbqq"]
SAMPLE_JETS = 150
SAMPLE_SEED = 11


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A modest sample written by the public ``generate`` with two workers, generated once."""
    from jetscale.generate import generate

    out = tmp_path_factory.mktemp("generated")
    summary = generate(out, SAMPLE_CLASSES, SAMPLE_JETS, detector="cms", seed=SAMPLE_SEED, workers=2, progress=False)
    return summary
