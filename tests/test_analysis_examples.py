"""The analysis examples run as documented (the batch one up to the job script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("coffea")
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

EXAMPLES = Path(__file__).resolve().parents[1] / "analysis_examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NanoAODSchema on these files' cross-refs
def test_own_processor_example_tags_pfnano_jets(nanoaod_dir: Path) -> None:
    from jetscale.runner import run_fileset

    example = load_example("my_analysis")
    path = nanoaod_dir / "pfnano.root"
    out = run_fileset(
        {"pfnano": [str(path)]},
        example.TopTagAnalysis("full21", "pfnano"),
        treename="Events",
        schema=NanoAODSchema,
        chunksize=4,
    )
    # Independent count: AK8 jets with pT > 300 GeV, |eta| < 2.4, tight ID (bit 2), with candidates.
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    fatjet = events.FatJet
    selected = (fatjet.pt > 300) & (abs(fatjet.eta) < 2.4) & ((fatjet.jetId & 2) != 0)
    assert out["jets"] == {"pfnano": int(ak.sum(selected))}
    assert out["skipped_files"] == {}
    h = out["sdmass_vs_top"][{"dataset": "pfnano"}]
    expected, _ = np.histogram(
        ak.to_numpy(ak.flatten(fatjet.msoftdrop[selected])), bins=25, range=(0, 250)
    )
    np.testing.assert_allclose(h.project("sdmass").values(), expected)


def test_batch_example_writes_single_core_worker_job_scripts() -> None:
    pytest.importorskip("dask_jobqueue")
    example = load_example("tag_on_batch")
    for batch in ("condor", "slurm"):
        cluster = example.make_cluster(
            batch, cores=1, memory="2GB", queue="short" if batch == "slurm" else None
        )
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
        assert "distributed.cli.dask_worker" in script and "--nthreads 1" in script
        if batch == "slurm":
            assert "#SBATCH -p short" in script
